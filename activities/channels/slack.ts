import { LogLevel, WebClient } from '@slack/web-api';
import type { OutgoingNotification } from '../notifier';
import type { ChannelSender } from './sender';
import type { ContactLookup } from './contacts';
import { renderNotification, renderSlackBlocks } from '../../billing/notification-messages';

export interface SlackChannelOptions {
  /** the deployment's bot token (xoxb-…) with chat:write, for organizations without their own */
  token?: string;
  /** Web API base URL, default https://slack.com/api/ (a fake in tests) */
  apiUrl?: string;
  /** where organizations without a financeSlackChannel are alerted; without it they get no Slack message */
  defaultChannel?: string;
  /** per request; default 10 s */
  timeoutMs?: number;
}

/** Slack's metadata event type on every message we post: lets a reader (or a bot) recognise a resend. */
export const SLACK_EVENT_TYPE = 'ledgerflow_notification';

/**
 * Posts each notification with chat.postMessage to the organization's
 * finance channel, or the default one, with the organization's own bot token
 * or the deployment's. Throws on any Slack error, including
 * `ok: false` answers such as channel_not_found: deliverNotifications then
 * keeps the notification in the outbox and Temporal retries the activity,
 * so the client itself does not retry (that would hold the outbox row's
 * lock through Slack's back-off) and rate limits are rejected, not waited on.
 */
export function createSlackNotifier(options: SlackChannelOptions, contacts: ContactLookup, log: (line: string) => void = console.log): ChannelSender {
  // One client per token: the deployment's, and each organization's own (a token is a workspace's bot).
  const clients = new Map<string, WebClient>();
  const clientFor = (token: string): WebClient => {
    let client = clients.get(token);
    if (!client) {
      client = new WebClient(token, {
        slackApiUrl: withTrailingSlash(options.apiUrl ?? 'https://slack.com/api/'),
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        timeout: options.timeoutMs ?? 10_000,
        logLevel: LogLevel.WARN,
      });
      clients.set(token, client);
    }
    return client;
  };
  return {
    async send(n) {
      const org = await contacts(n.organizationId);
      const channel = org.financeSlackChannel ?? options.defaultChannel;
      const token = org.slackToken ?? options.token;
      if (!channel || !token) {
        // Half a route is worth a line (it looks like a mistake); no Slack at all is not.
        if (channel || token) log(`slack: ${!token ? 'no Slack bot token' : 'no channel'} for org=${n.organizationId} (its settings or the deployment default); ${n.kind} key=${n.dedupeKey} not posted`);
        return 'skipped';
      }
      const blocks = renderSlackBlocks(n);
      await clientFor(token).chat.postMessage({
        channel,
        text: slackText(n),
        // Block Kit where the kind has it; `text` stays the notification and fallback text.
        ...(blocks ? { blocks } : {}),
        unfurl_links: false,
        unfurl_media: false,
        metadata: { event_type: SLACK_EVENT_TYPE, event_payload: { dedupe_key: n.dedupeKey, kind: n.kind, organization_id: n.organizationId } },
      });
      return 'sent';
    },
  };
}

/** Bold title, then the details; Slack's mrkdwn needs &, < and > escaped. */
export function slackText(n: OutgoingNotification): string {
  const { title, lines } = renderNotification(n);
  return [`*${escapeMrkdwn(title)}*`, ...lines.map(escapeMrkdwn)].join('\n');
}

function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

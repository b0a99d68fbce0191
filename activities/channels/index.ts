import type { PrismaClient } from '../../prisma/client';
import type { Notifier } from '../notifier';
import type { ChannelSender } from './sender';
import { createContactLookup } from './contacts';
import { createEmailNotifier, type EmailChannelOptions } from './email';
import { outboundPolicyFromEnv } from '../../billing/outbound-urls';
import { createSlackNotifier, type SlackChannelOptions } from './slack';

export type { SlackChannelOptions } from './slack';
export type { EmailChannelOptions } from './email';

export interface ChannelNotifierOptions {
  prisma: PrismaClient;
  /** the deployment's Slack defaults (token, API URL, channel); organizations may have their own token and channel */
  slack?: SlackChannelOptions;
  /** the deployment's SMTP defaults; organizations may have their own server, sender and recipients */
  email?: EmailChannelOptions;
  /** how long an organization's alert settings are remembered; default 60 s */
  contactsTtlMs?: number;
  log?: (line: string) => void;
}

/** How many (channel, notification) acceptances are remembered to skip on a retry. */
const REMEMBERED_SENDS = 10_000;

/**
 * Sends every notification to Slack and email, the destination and the
 * credentials taken from the organization's settings or the deployment's
 * defaults. A notification no channel could send (the organization has no
 * route and there is no default) is logged in full instead.
 *
 * The channels are tried together; if any fails the whole send throws, so
 * the notification stays in the outbox and the activity is retried. A
 * channel that already accepted the notification in this process is not
 * sent it again on that retry: one Slack outage does not mean a duplicate
 * email (or the other way round) for every attempt.
 */
export function createChannelNotifier(options: ChannelNotifierOptions): Notifier {
  const log = options.log ?? ((line: string) => console.log(line));
  const contacts = createContactLookup(options.prisma, options.contactsTtlMs);
  const channels: { name: string; notifier: ChannelSender }[] = [
    { name: 'slack', notifier: createSlackNotifier(options.slack ?? {}, contacts, log) },
    { name: 'email', notifier: createEmailNotifier(options.email ?? {}, contacts, log) },
  ];

  const accepted = new Set<string>();
  const remember = (key: string): void => {
    accepted.add(key);
    // A Set iterates in insertion order: drop the oldest.
    if (accepted.size > REMEMBERED_SENDS) accepted.delete(accepted.values().next().value!);
  };

  return {
    async send(n) {
      const pending = channels.filter((c) => !accepted.has(`${c.name}:${n.id}`));
      const results = await Promise.allSettled(pending.map((c) => c.notifier.send(n)));
      const failures: string[] = [];
      results.forEach((result, i) => {
        const channel = pending[i]!;
        if (result.status === 'fulfilled') remember(`${channel.name}:${n.id}`);
        else failures.push(`${channel.name}: ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`);
      });
      if (pending.length === channels.length && results.every((r) => r.status === 'fulfilled' && r.value === 'skipped')) {
        log(`notification ${n.kind} org=${n.organizationId} key=${n.dedupeKey} ${JSON.stringify(n.payload)}`);
      }
      if (failures.length > 0) {
        throw new Error(`notification ${n.kind} key=${n.dedupeKey} not delivered (${failures.join('; ')})`, {
          cause: results.find((r) => r.status === 'rejected')?.reason,
        });
      }
    },
  };
}

/**
 * The worker's notifier from its environment, the defaults for organizations
 * that have not set their own (PATCH /api/v1/settings/alerts):
 * - SLACK_BOT_TOKEN; SLACK_API_URL (default https://slack.com/api/, also used
 *   with organizations' own tokens), ALERT_SLACK_CHANNEL (for organizations
 *   without finance_slack_channel);
 * - SMTP_URL; ALERT_EMAIL_FROM (required with it), ALERT_EMAIL_TO (for
 *   organizations without recipients).
 * With neither, only organizations with their own routes get alerts; the
 * others' are logged. A setting that only makes sense with its channel
 * enabled is an error, so a half-configured alert path fails at start.
 */
export function notifierFromEnv(prisma: PrismaClient, env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = (line) => console.log(line)): Notifier {
  const read = (raw: string | undefined): string | undefined => raw?.trim() || undefined;
  // Each read spelled out, so test/docker-compose.test.ts finds them and checks the worker service sets them.
  const token = read(env.SLACK_BOT_TOKEN);
  const apiUrl = read(env.SLACK_API_URL);
  const defaultChannel = read(env.ALERT_SLACK_CHANNEL);
  const smtpUrl = read(env.SMTP_URL);
  const from = read(env.ALERT_EMAIL_FROM);
  const defaultTo = read(env.ALERT_EMAIL_TO);
  const requireWith = (enabler: string, enabled: boolean, dependents: Record<string, string | undefined>): void => {
    const stray = Object.keys(dependents).filter((name) => dependents[name]);
    if (!enabled && stray.length > 0) throw new Error(`${stray.join(', ')} set but ${enabler} is not: set ${enabler} to enable that channel`);
  };
  requireWith('SLACK_BOT_TOKEN', !!token, { SLACK_API_URL: apiUrl, ALERT_SLACK_CHANNEL: defaultChannel });
  requireWith('SMTP_URL', !!smtpUrl, { ALERT_EMAIL_FROM: from, ALERT_EMAIL_TO: defaultTo });
  if (smtpUrl && !from) throw new Error('SMTP_URL is set but ALERT_EMAIL_FROM is not: set the sender address for alert emails');

  const slack = { token, apiUrl, defaultChannel };
  const email = { smtpUrl, from, defaultTo, outbound: outboundPolicyFromEnv(env) };
  if (!token && !smtpUrl) {
    log('alerts: no SLACK_BOT_TOKEN or SMTP_URL: organizations with their own Slack token or SMTP server get alerts, the others are logged');
  } else {
    log(
      `alerts: ${[token && `Slack (default channel ${defaultChannel ?? 'none'})`, smtpUrl && `email from ${from} (default to ${defaultTo ?? 'none'})`]
        .filter(Boolean)
        .join(', ')}; organization alert settings take precedence`,
    );
  }
  return createChannelNotifier({ prisma, slack, email, log });
}

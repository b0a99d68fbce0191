import { createHash } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { OutgoingNotification } from '../notifier';
import type { ChannelSender } from './sender';
import type { ContactLookup } from './contacts';
import { renderHtml, renderNotification, renderPlainText } from './messages';

export interface EmailChannelOptions {
  /** the deployment's server, smtp://user:pass@host:587 or smtps://…:465, for organizations without their own */
  smtpUrl?: string;
  /** the deployment's sender address, e.g. "Ledgerflow <alerts@example.com>" */
  from?: string;
  /** where organizations without recipients are alerted; without it they get no email */
  defaultTo?: string;
}

// Short timeouts: a hung SMTP server should fail the activity attempt, not hold the outbox row for minutes.
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

/**
 * Sends each notification as an email (text and HTML) to the organization's
 * recipients (finance_email and alert_email_recipients), or the default
 * address, through the organization's own SMTP server (its password opened
 * from the sealed column) or the deployment's. A new SMTP connection per
 * message (no pool) keeps nothing open between activity runs. Any SMTP
 * failure throws, so the notification stays in the outbox for Temporal's
 * retry.
 */
export function createEmailNotifier(options: EmailChannelOptions, contacts: ContactLookup, log: (line: string) => void = console.log): ChannelSender {
  const transports = new Map<string, Transporter>();
  const transportFor = (url: string, password: string | null): Transporter => {
    const key = `${url}\n${password ?? ''}`;
    let transport = transports.get(key);
    if (!transport) {
      // nodemailer takes the credentials from the URL (an `auth` option beside `url` is overridden by it).
      const withPassword = new URL(url);
      if (password !== null) withPassword.password = password;
      transport = nodemailer.createTransport({ url: withPassword.toString(), ...TIMEOUTS });
      transports.set(key, transport);
    }
    return transport;
  };
  return {
    async send(n) {
      const org = await contacts(n.organizationId);
      const to = org.emailRecipients.length > 0 ? org.emailRecipients : options.defaultTo ? [options.defaultTo] : [];
      const server = org.smtp ?? (options.smtpUrl ? { url: options.smtpUrl, password: null } : null);
      const from = org.alertEmailFrom ?? options.from;
      const missing = to.length === 0 ? 'no recipient' : !server ? 'no SMTP server' : !from ? 'no sender address' : null;
      if (missing || !server || !from) {
        // Half a route is worth a line (it looks like a mistake); no email at all is not.
        if (to.length > 0 || server || from) log(`email: ${missing} for org=${n.organizationId} (its settings or the deployment default); ${n.kind} key=${n.dedupeKey} not sent`);
        return 'skipped';
      }
      await transportFor(server.url, server.password).sendMail({
        from,
        to,
        subject: `[Ledgerflow] ${renderNotification(n).title}`,
        text: renderPlainText(n),
        html: renderHtml(n),
        messageId: notificationMessageId(n, from),
        headers: { 'X-Ledgerflow-Notification': n.kind },
      });
      return 'sent';
    },
  };
}

/**
 * The same notification always gets the same Message-ID, so a resend after a
 * crash between "sent" and "marked delivered" is recognisably one message
 * (mail clients and archives deduplicate on it). The dedupe key is hashed:
 * it may hold characters a Message-ID cannot, and is unique per organization.
 */
export function notificationMessageId(n: Pick<OutgoingNotification, 'organizationId' | 'dedupeKey'>, from: string): string {
  const digest = createHash('sha256').update(`${n.organizationId}\n${n.dedupeKey}`).digest('hex').slice(0, 40);
  return `<notification.${digest}@${senderDomain(from)}>`;
}

function senderDomain(from: string): string {
  const domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1];
  return domain || 'ledgerflow.invalid';
}

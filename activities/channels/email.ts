import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Notifier, OutgoingNotification } from '../notifier';
import type { ContactLookup } from './contacts';
import { renderHtml, renderNotification, renderPlainText } from './messages';

export interface EmailChannelOptions {
  /** smtp://user:pass@host:587 or smtps://…:465 */
  smtpUrl: string;
  /** sender address, e.g. "Ledgerflow <alerts@example.com>" */
  from: string;
  /** where organizations without a financeEmail are alerted; without it they get no email */
  defaultTo?: string;
}

/**
 * Sends each notification as an email (text and HTML) to the organization's
 * finance address, or the default one. A new SMTP connection per message
 * (no pool) keeps nothing open between activity runs. Any SMTP failure
 * throws, so the notification stays in the outbox for Temporal's retry.
 */
export function createEmailNotifier(options: EmailChannelOptions, contacts: ContactLookup, log: (line: string) => void = console.log): Notifier {
  // Short timeouts: a hung SMTP server should fail the activity attempt, not hold the outbox row for minutes.
  const transport = nodemailer.createTransport({ url: options.smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });
  return {
    async send(n) {
      const to = (await contacts(n.organizationId)).financeEmail ?? options.defaultTo;
      if (!to) {
        log(`email: no financeEmail for org=${n.organizationId} and no default address; ${n.kind} key=${n.dedupeKey} not sent`);
        return;
      }
      await transport.sendMail({
        from: options.from,
        to,
        subject: `[Ledgerflow] ${renderNotification(n).title}`,
        text: renderPlainText(n),
        html: renderHtml(n),
        messageId: notificationMessageId(n, options.from),
        headers: { 'X-Ledgerflow-Notification': n.kind },
      });
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

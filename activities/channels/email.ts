import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { bareHost, STRICT_OUTBOUND, urlRefusal, type OutboundPolicy } from '../../billing/outbound-urls';
import { connectAddress, OutboundRefused } from '../../services/outbound-address';
import type { OutgoingNotification } from '../notifier';
import type { ChannelSender } from './sender';
import type { ContactLookup } from './contacts';
import { renderHtml, renderNotification, renderPlainText } from '../../billing/notification-messages';

export interface EmailChannelOptions {
  /** the deployment's server, smtp://user:pass@host:587 or smtps://…:465, for organizations without their own */
  smtpUrl?: string;
  /** the deployment's sender address, e.g. "Ledgerflow <alerts@example.com>" */
  from?: string;
  /** where organizations without recipients are alerted; without it they get no email */
  defaultTo?: string;
  /** where organizations' own SMTP servers may be; default: public addresses, TLS required (OUTBOUND_DEVELOPMENT) */
  outbound?: OutboundPolicy;
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
  const policy = options.outbound ?? STRICT_OUTBOUND;
  const transports = new Map<string, Transporter>();
  const cached = (key: string, make: () => Transporter): Transporter => {
    let transport = transports.get(key);
    if (!transport) {
      transport = make();
      transports.set(key, transport);
    }
    return transport;
  };
  // The deployment's SMTP_URL is the operator's: nodemailer reads it as it is.
  const deploymentTransport = (url: string): Transporter => cached(url, () => nodemailer.createTransport({ url, ...TIMEOUTS }));
  // An organization's server goes through the outbound guard, resolved again for every message.
  const organizationTransport = async (url: string, password: string | null): Promise<Transporter> => {
    const server = await organizationSmtpOptions(url, password, policy);
    return cached(JSON.stringify(server), () => nodemailer.createTransport({ ...server, ...TIMEOUTS }));
  };
  return {
    async send(n) {
      const org = await contacts(n.organizationId);
      const to = org.emailRecipients.length > 0 ? org.emailRecipients : options.defaultTo ? [options.defaultTo] : [];
      const server = org.smtp ?? (options.smtpUrl ? { url: options.smtpUrl, password: null } : null);
      const transport = () => (org.smtp ? organizationTransport(org.smtp.url, org.smtp.password) : deploymentTransport(options.smtpUrl!));
      const from = org.alertEmailFrom ?? options.from;
      const missing = to.length === 0 ? 'no recipient' : !server ? 'no SMTP server' : !from ? 'no sender address' : null;
      if (missing || !server || !from) {
        // Half a route is worth a line (it looks like a mistake); no email at all is not.
        if (to.length > 0 || server || from) log(`email: ${missing} for org=${n.organizationId} (its settings or the deployment default); ${n.kind} key=${n.dedupeKey} not sent`);
        return 'skipped';
      }
      await (await transport()).sendMail({
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
 * Connection options for an organization's smtp_url: the address connected
 * to is the one the guard checked (the certificate is still verified against
 * the URL's name), smtps:// is TLS from the start, and smtp:// must upgrade
 * with STARTTLS (plain SMTP only with development targets allowed). Only the
 * scheme, user, host and port of the URL are used: nodemailer would read
 * options (a proxy, TLS settings) from its query string.
 */
export async function organizationSmtpOptions(raw: string, password: string | null, policy: OutboundPolicy, lookup?: Parameters<typeof connectAddress>[2]): Promise<SMTPTransport.Options> {
  const refusal = urlRefusal(raw, 'smtp', policy);
  if (refusal) throw new OutboundRefused(`smtp_url refused: ${refusal}`);
  const url = new URL(raw);
  const secure = url.protocol === 'smtps:';
  const name = bareHost(url.hostname);
  const { address } = await connectAddress(name, policy, lookup);
  const user = decodeURIComponent(url.username);
  return {
    host: address,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    requireTLS: !secure && !policy.allowDevelopmentTargets,
    ...(user ? { auth: { user, pass: password ?? '' } } : {}),
    ...(isIP(name) ? {} : { tls: { servername: name } }),
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

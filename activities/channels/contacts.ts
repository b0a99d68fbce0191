import type { PrismaClient } from '../../prisma/client';
import { openOrganizationSecret } from '../../prisma/organization-secrets';

/**
 * Where an organization wants its alerts and how to reach it there; null /
 * empty = use the channel's default from the worker's environment. Secrets
 * are opened here, once per cache fill.
 */
export interface OrganizationContacts {
  financeSlackChannel: string | null;
  /** finance_email first, then alert_email_recipients, without repeats */
  emailRecipients: string[];
  /** the organization's own Slack bot token */
  slackToken: string | null;
  /** the organization's own SMTP server and its password */
  smtp: { url: string; password: string | null } | null;
  alertEmailFrom: string | null;
}

export type ContactLookup = (organizationId: string) => Promise<OrganizationContacts>;

const NOBODY: OrganizationContacts = { financeSlackChannel: null, emailRecipients: [], slackToken: null, smtp: null, alertEmailFrom: null };

/**
 * Reads the organization's alert settings, remembered for `ttlMs` so a
 * burst of notifications (and the channels of one notification, which ask
 * at the same moment) cost one query and one decryption, while a changed
 * setting still takes effect within the TTL. An unknown organization gets
 * the defaults; a failed read (or a secret that does not open) is not
 * remembered, and fails the send so the notification stays in the outbox.
 */
export function createContactLookup(prisma: PrismaClient, ttlMs = 60_000, now: () => number = Date.now): ContactLookup {
  const cache = new Map<string, { contacts: Promise<OrganizationContacts>; expiresAt: number }>();
  const read = async (organizationId: string): Promise<OrganizationContacts> => {
    const org = await prisma.organization.findUnique({
      where: { id: organizationId },
      select: { financeEmail: true, financeSlackChannel: true, alertEmailRecipients: true, alertEmailFrom: true, slackBotTokenEnc: true, smtpUrl: true, smtpPasswordEnc: true },
    });
    if (!org) return NOBODY;
    return {
      financeSlackChannel: org.financeSlackChannel,
      emailRecipients: [...new Set([...(org.financeEmail ? [org.financeEmail] : []), ...org.alertEmailRecipients])],
      slackToken: openOrganizationSecret('slack_bot_token', organizationId, org.slackBotTokenEnc),
      smtp: org.smtpUrl ? { url: org.smtpUrl, password: openOrganizationSecret('smtp_password', organizationId, org.smtpPasswordEnc) } : null,
      alertEmailFrom: org.alertEmailFrom,
    };
  };
  return (organizationId) => {
    const hit = cache.get(organizationId);
    if (hit && hit.expiresAt > now()) return hit.contacts;
    // Drop expired entries now and then, so a long-lived worker does not keep every organization forever.
    if (cache.size >= 1_000) for (const [id, entry] of cache) if (entry.expiresAt <= now()) cache.delete(id);
    const contacts = read(organizationId);
    const entry = { contacts, expiresAt: now() + ttlMs };
    cache.set(organizationId, entry);
    contacts.catch(() => {
      if (cache.get(organizationId) === entry) cache.delete(organizationId);
    });
    return contacts;
  };
}

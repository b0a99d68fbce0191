import { writeAudit, type AuditActor } from '../prisma/audit';
import type { Db } from '../prisma/billing-reads';
import type { Prisma, PrismaClient } from '../prisma/client';
import { openOrganizationSecret, ORGANIZATION_SECRETS, SECRET_NAMES, sealOrganizationSecret, type OrganizationSecret } from '../prisma/organization-secrets';
import { SecretOpenError } from '../prisma/secret-box';
import type { AlertSettings, AlertSettingsPatch } from './schemas/alert-settings';

/*
 * An organization's alert routes and channel secrets, in the API's field
 * names. Secrets are sealed on the way in and never leave: a read says
 * whether one is stored and its last four characters. The API route and the
 * web app's settings page both go through here.
 */

const COLUMNS = {
  alertEmailRecipients: true,
  alertEmailFrom: true,
  smtpUrl: true,
  crmWebhookUrl: true,
  smtpPasswordEnc: true,
  slackBotTokenEnc: true,
  crmWebhookSecretEnc: true,
  stripeSecretKeyEnc: true,
  stripeWebhookSecretEnc: true,
} as const;

type Stored = { -readonly [K in keyof typeof COLUMNS]: K extends 'alertEmailRecipients' ? string[] : string | null };

/** The settings that are not secrets: API field → column. */
const PLAIN_COLUMNS = { alert_email_recipients: 'alertEmailRecipients', alert_email_from: 'alertEmailFrom', smtp_url: 'smtpUrl', crm_webhook_url: 'crmWebhookUrl' } as const;
const PLAIN_FIELDS = Object.keys(PLAIN_COLUMNS) as (keyof typeof PLAIN_COLUMNS)[];

function lastFour(name: OrganizationSecret, organizationId: string, stored: string | null): string | null {
  try {
    return openOrganizationSecret(name, organizationId, stored)?.slice(-4) ?? null;
  } catch (err) {
    // A value that no longer opens (the key changed) still counts as set: it has to be sent again.
    if (err instanceof SecretOpenError) return null;
    throw err;
  }
}

function settingsJson(organizationId: string, o: Stored): AlertSettings {
  const status = (name: OrganizationSecret) => {
    const stored = o[ORGANIZATION_SECRETS[name].field];
    return { set: stored !== null, last4: lastFour(name, organizationId, stored) };
  };
  return {
    alert_email_recipients: o.alertEmailRecipients,
    alert_email_from: o.alertEmailFrom,
    smtp_url: o.smtpUrl,
    crm_webhook_url: o.crmWebhookUrl,
    secrets: {
      smtp_password: status('smtp_password'),
      slack_bot_token: status('slack_bot_token'),
      crm_webhook_secret: status('crm_webhook_secret'),
      stripe_secret_key: status('stripe_secret_key'),
      stripe_webhook_secret: status('stripe_webhook_secret'),
    },
  };
}

export async function readAlertSettings(db: Db, organizationId: string): Promise<AlertSettings> {
  return settingsJson(organizationId, await db.organization.findUniqueOrThrow({ where: { id: organizationId }, select: COLUMNS }));
}

/**
 * Applies the sent fields under a row lock, with one audit row for the
 * change: plain fields before and after, secrets only as "set", "replaced"
 * or "removed" (never a value, not even sealed).
 */
export async function updateAlertSettings(db: PrismaClient, organizationId: string, patch: AlertSettingsPatch, actor: AuditActor): Promise<AlertSettings> {
  return db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT id FROM organizations WHERE id = ${organizationId}::uuid FOR UPDATE`;
    const before = await tx.organization.findUniqueOrThrow({ where: { id: organizationId }, select: COLUMNS });
    const data: Partial<Stored> = {};
    const auditBefore: Record<string, Prisma.InputJsonValue | null> = {};
    const auditAfter: Record<string, Prisma.InputJsonValue | null> = {};
    for (const field of PLAIN_FIELDS) {
      const value = patch[field];
      const column = PLAIN_COLUMNS[field];
      if (value === undefined || JSON.stringify(value) === JSON.stringify(before[column])) continue;
      Object.assign(data, { [column]: value });
      auditBefore[field] = before[column];
      auditAfter[field] = value;
    }
    for (const name of SECRET_NAMES) {
      const value = patch[name];
      if (value === undefined) continue;
      const { field } = ORGANIZATION_SECRETS[name];
      const had = before[field] !== null;
      if (value === null && !had) continue;
      data[field] = value === null ? null : sealOrganizationSecret(name, organizationId, value);
      auditAfter[name] = value === null ? 'removed' : had ? 'replaced' : 'set';
    }
    if (Object.keys(data).length === 0) return settingsJson(organizationId, before);
    const stored = await tx.organization.update({ where: { id: organizationId }, data, select: COLUMNS });
    await writeAudit(tx, {
      organizationId,
      actor,
      action: 'organization.alert_settings_updated',
      entityType: 'organization',
      entityId: organizationId,
      before: auditBefore,
      after: auditAfter,
    });
    return settingsJson(organizationId, stored);
  });
}

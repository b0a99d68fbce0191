import { writeAudit, type AuditActor } from '../prisma/audit';
import type { Db } from '../prisma/billing-reads';
import type { OrganizationModel, PrismaClient } from '../prisma/client';
import { BillingSettingsSchema, type BillingSettings, type BillingSettingsPatch } from './schemas/billing-settings';

/*
 * An organization's billing settings in the API's field names: read, and
 * changed with one audit row per effective change. The API route and the
 * web app's settings page both go through here.
 */

type StoredSettings = Pick<
  OrganizationModel,
  | 'prorationMode'
  | 'lateEventGraceSeconds'
  | 'approvalReminderHours'
  | 'autoApproveAfterHours'
  | 'paymentRetryDays'
  | 'financeEmail'
  | 'financeSlackChannel'
  | 'marginThresholdBps'
  | 'marginAlertStepBps'
  | 'invoiceNumberPrefix'
  | 'invoiceCollection'
  | 'invoiceDueDays'
>;

const SETTINGS_COLUMNS = {
  prorationMode: true,
  lateEventGraceSeconds: true,
  approvalReminderHours: true,
  autoApproveAfterHours: true,
  paymentRetryDays: true,
  financeEmail: true,
  financeSlackChannel: true,
  marginThresholdBps: true,
  marginAlertStepBps: true,
  invoiceNumberPrefix: true,
  invoiceCollection: true,
  invoiceDueDays: true,
} as const satisfies Record<keyof StoredSettings, true>;

type Field = keyof BillingSettings;
const FIELDS = Object.keys(BillingSettingsSchema.shape) as Field[];

/** The API's view of the stored settings; proration_mode and invoice_collection stay strings so a stored value is shown as it is. */
export type SettingsJson = Omit<BillingSettings, 'proration_mode' | 'invoice_collection'> & { proration_mode: string; invoice_collection: string };

function settingsJson(o: StoredSettings): SettingsJson {
  return {
    proration_mode: o.prorationMode,
    late_event_grace_seconds: o.lateEventGraceSeconds,
    approval_reminder_hours: o.approvalReminderHours,
    auto_approve_after_hours: o.autoApproveAfterHours,
    payment_retry_days: o.paymentRetryDays,
    finance_email: o.financeEmail,
    finance_slack_channel: o.financeSlackChannel,
    margin_threshold_bps: o.marginThresholdBps,
    margin_alert_step_bps: o.marginAlertStepBps,
    invoice_number_prefix: o.invoiceNumberPrefix,
    invoice_collection: o.invoiceCollection,
    invoice_due_days: o.invoiceDueDays,
  };
}

function columns(s: SettingsJson): StoredSettings {
  return {
    prorationMode: s.proration_mode,
    lateEventGraceSeconds: s.late_event_grace_seconds,
    approvalReminderHours: s.approval_reminder_hours,
    autoApproveAfterHours: s.auto_approve_after_hours,
    paymentRetryDays: s.payment_retry_days,
    financeEmail: s.finance_email,
    financeSlackChannel: s.finance_slack_channel,
    marginThresholdBps: s.margin_threshold_bps,
    marginAlertStepBps: s.margin_alert_step_bps,
    invoiceNumberPrefix: s.invoice_number_prefix,
    invoiceCollection: s.invoice_collection,
    invoiceDueDays: s.invoice_due_days,
  };
}

/** The stored settings with the sent fields applied; `undefined` is "not sent", `null` clears a nullable field. */
function applyPatch(before: SettingsJson, patch: BillingSettingsPatch): SettingsJson {
  const after = { ...before };
  for (const field of FIELDS) {
    const value = patch[field];
    if (value !== undefined) Object.assign(after, { [field]: value });
  }
  return after;
}

const only = (s: SettingsJson, fields: Field[]): Record<string, SettingsJson[Field]> => Object.fromEntries(fields.map((f) => [f, s[f]]));

export async function readBillingSettings(db: Db, organizationId: string): Promise<SettingsJson> {
  return settingsJson(await db.organization.findUniqueOrThrow({ where: { id: organizationId }, select: SETTINGS_COLUMNS }));
}

/**
 * Applies the sent fields under a row lock (so with two updates at once each
 * audit row's `before` is what that update replaced); nothing changed is
 * nothing recorded.
 */
export async function updateBillingSettings(db: PrismaClient, organizationId: string, patch: BillingSettingsPatch, actor: AuditActor): Promise<SettingsJson> {
  return db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT id FROM organizations WHERE id = ${organizationId}::uuid FOR UPDATE`;
    const before = await readBillingSettings(tx, organizationId);
    const after = applyPatch(before, patch);
    const changed = FIELDS.filter((f) => JSON.stringify(before[f]) !== JSON.stringify(after[f]));
    if (changed.length === 0) return before;
    const stored = await tx.organization.update({ where: { id: organizationId }, data: columns(after), select: SETTINGS_COLUMNS });
    await writeAudit(tx, {
      organizationId,
      actor,
      action: 'organization.billing_settings_updated',
      entityType: 'organization',
      entityId: organizationId,
      before: only(before, changed),
      after: only(after, changed),
    });
    return settingsJson(stored);
  });
}

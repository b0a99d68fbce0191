import { Router } from 'express';
import { writeAudit } from '../../prisma/audit';
import type { Db } from '../../prisma/billing-reads';
import type { OrganizationModel } from '../../prisma/client';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { BillingSettingsPatchSchema, BillingSettingsSchema, type BillingSettings, type BillingSettingsPatch } from '../schemas/billing-settings';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';

type StoredSettings = Pick<
  OrganizationModel,
  'prorationMode' | 'lateEventGraceSeconds' | 'approvalReminderHours' | 'autoApproveAfterHours' | 'paymentRetryDays' | 'financeEmail' | 'financeSlackChannel'
>;

const SETTINGS_COLUMNS = {
  prorationMode: true,
  lateEventGraceSeconds: true,
  approvalReminderHours: true,
  autoApproveAfterHours: true,
  paymentRetryDays: true,
  financeEmail: true,
  financeSlackChannel: true,
} as const satisfies Record<keyof StoredSettings, true>;

type Field = keyof BillingSettings;
const FIELDS = Object.keys(BillingSettingsSchema.shape) as Field[];

/** The API's view of the stored settings; proration_mode stays a string so a stored value is shown as it is. */
type SettingsJson = Omit<BillingSettings, 'proration_mode'> & { proration_mode: string };

function settingsJson(o: StoredSettings): SettingsJson {
  return {
    proration_mode: o.prorationMode,
    late_event_grace_seconds: o.lateEventGraceSeconds,
    approval_reminder_hours: o.approvalReminderHours,
    auto_approve_after_hours: o.autoApproveAfterHours,
    payment_retry_days: o.paymentRetryDays,
    finance_email: o.financeEmail,
    finance_slack_channel: o.financeSlackChannel,
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

async function readSettings(db: Db, organizationId: string): Promise<SettingsJson> {
  return settingsJson(await db.organization.findUniqueOrThrow({ where: { id: organizationId }, select: SETTINGS_COLUMNS }));
}

/**
 * The caller's organization's billing settings. The billing workflows read
 * them when they need them (see README "Billing settings"), so a change
 * applies from then on without restarting anything.
 */
export function billingSettingsRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const caller = callerOf(req);
    res.json(await readSettings(deps.prisma, caller.organizationId));
  });

  router.patch('/', async (req, res) => {
    const caller = callerOf(req);
    const patch = parseOrThrow(BillingSettingsPatchSchema, req.body, 'request');
    const settings = await deps.prisma.$transaction(async (tx) => {
      // Row lock: with two PATCHes at once, each audit row's `before` is what that update replaced.
      await tx.$queryRaw`SELECT id FROM organizations WHERE id = ${caller.organizationId}::uuid FOR UPDATE`;
      const before = await readSettings(tx, caller.organizationId);
      const after = applyPatch(before, patch);
      const changed = FIELDS.filter((f) => JSON.stringify(before[f]) !== JSON.stringify(after[f]));
      // Nothing to change is nothing to record.
      if (changed.length === 0) return before;
      const stored = await tx.organization.update({ where: { id: caller.organizationId }, data: columns(after), select: SETTINGS_COLUMNS });
      await writeAudit(tx, {
        organizationId: caller.organizationId,
        actor: apiKeyActor(caller),
        action: 'organization.billing_settings_updated',
        entityType: 'organization',
        entityId: caller.organizationId,
        before: only(before, changed),
        after: only(after, changed),
      });
      return settingsJson(stored);
    });
    res.json(settings);
  });

  return router;
}

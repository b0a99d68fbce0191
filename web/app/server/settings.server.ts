import type { AppLoadContext } from 'react-router';
import { readBillingSettings, updateBillingSettings } from '../../../services/billing-settings-store';
import { BillingSettingsPatchSchema } from '../../../services/schemas/billing-settings';
import type { SignedInUser } from './auth.server';

/** The organization settings the page edits, as the API names them (GET/PATCH /api/v1/settings/billing). */
export const EDITABLE = [
  'approval_reminder_hours',
  'auto_approve_after_hours',
  'finance_email',
  'finance_slack_channel',
  'margin_threshold_bps',
  'margin_alert_step_bps',
  'invoice_number_prefix',
  'invoice_collection',
  'invoice_due_days',
] as const;
type Editable = (typeof EDITABLE)[number];
const NUMBERS: ReadonlySet<Editable> = new Set(['approval_reminder_hours', 'auto_approve_after_hours', 'margin_threshold_bps', 'margin_alert_step_bps', 'invoice_due_days']);
/** Left empty, these mean "none" (null); the others are required. */
const NULLABLE: ReadonlySet<Editable> = new Set(['auto_approve_after_hours', 'finance_email', 'finance_slack_channel']);

export async function readOrganizationSettings(context: AppLoadContext, organizationId: string) {
  const s = await readBillingSettings(context.prisma, organizationId);
  return Object.fromEntries(EDITABLE.map((f) => [f, s[f] === null ? '' : String(s[f])])) as Record<Editable, string>;
}

export type SettingsOutcome = { ok: true; message: string } | { ok: false; message: string; fields: Partial<Record<Editable, string>> };

/** The form's values through the API's schema (same bounds, same messages), then the API's update (audited as the user). */
export async function saveOrganizationSettings(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<SettingsOutcome> {
  const raw: Record<string, unknown> = {};
  for (const field of EDITABLE) {
    const value = String(form.get(field) ?? '').trim();
    if (value === '' && NULLABLE.has(field)) raw[field] = null;
    else if (NUMBERS.has(field)) raw[field] = /^-?\d+$/.test(value) ? Number(value) : value;
    else raw[field] = value;
  }
  const parsed = BillingSettingsPatchSchema.safeParse(raw);
  if (!parsed.success) {
    const fields: Partial<Record<Editable, string>> = {};
    for (const issue of parsed.error.issues) {
      const field = issue.path[0] as Editable;
      fields[field] ??= issue.code === 'invalid_type' && NUMBERS.has(field) ? 'must be a whole number' : issue.message;
    }
    return { ok: false, message: 'Nothing was saved: fix the fields marked below.', fields };
  }
  await updateBillingSettings(context.prisma, user.organizationId, parsed.data, { type: 'user', id: user.email });
  return { ok: true, message: 'Saved. Billing runs and the margin watch use the new values from their next step.' };
}

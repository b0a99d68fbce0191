import type { AppLoadContext } from 'react-router';
import { readAlertSettings, updateAlertSettings } from '../../../services/alert-settings-store';
import { alertSettingsPatchSchema, type AlertSettingsPatch } from '../../../services/schemas/alert-settings';
import { ALERT_SECRETS, type AlertField } from '../alert-settings-fields';
import type { SignedInUser } from './auth.server';

/*
 * The alert channels page: the organization's recipients, SMTP server,
 * Slack token, CRM webhook and Stripe secrets, through the API's schema and
 * store (GET/PATCH /api/v1/settings/alerts). Secrets are write-only here too:
 * the page shows whether one is stored and its last four characters.
 */

export async function readAlertChannels(context: AppLoadContext, organizationId: string) {
  const s = await readAlertSettings(context.prisma, organizationId);
  return {
    values: {
      alert_email_recipients: s.alert_email_recipients.join('\n'),
      alert_email_from: s.alert_email_from ?? '',
      smtp_url: s.smtp_url ?? '',
      crm_webhook_url: s.crm_webhook_url ?? '',
    },
    secrets: s.secrets,
    organizationId,
  };
}

export type AlertChannelsOutcome = { ok: true; message: string } | { ok: false; message: string; fields: Partial<Record<AlertField, string>> };

/** The form as a PATCH: empty plain fields clear, empty secret fields keep what is stored, a ticked "remove" clears a secret. */
function patchFromForm(form: FormData): Record<string, unknown> {
  const text = (name: string) => String(form.get(name) ?? '').trim();
  const patch: Record<string, unknown> = {
    alert_email_recipients: text('alert_email_recipients')
      .split(/[\n,]/)
      .map((line) => line.trim())
      .filter(Boolean),
  };
  for (const name of ['alert_email_from', 'smtp_url', 'crm_webhook_url'] as const) patch[name] = text(name) || null;
  for (const { name } of ALERT_SECRETS) {
    if (form.get(`remove_${name}`) === 'on') patch[name] = null;
    else if (text(name)) patch[name] = text(name);
  }
  return patch;
}

export async function saveAlertChannels(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<AlertChannelsOutcome> {
  const parsed = alertSettingsPatchSchema(context.outbound).safeParse(patchFromForm(form));
  if (!parsed.success) {
    const fields: Partial<Record<AlertField, string>> = {};
    for (const issue of parsed.error.issues) {
      const [field, index] = issue.path as [AlertField, number | undefined];
      fields[field] ??= index === undefined ? issue.message : `line ${index + 1}: ${issue.message}`;
    }
    return { ok: false, message: 'Nothing was saved: fix the fields marked below.', fields };
  }
  const patch: AlertSettingsPatch = parsed.data;
  await updateAlertSettings(context.prisma, user.organizationId, patch, { type: 'user', id: user.email });
  return { ok: true, message: 'Saved. The worker sends alerts this way within a minute.' };
}

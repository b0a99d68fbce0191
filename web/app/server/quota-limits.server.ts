import type { AppLoadContext } from 'react-router';
import { DomainError } from '../../../services/errors';
import {
  createQuotaLimit,
  deleteQuotaLimit,
  getQuotaLimit,
  listQuotaLimits,
  QuotaLimitCreateSchema,
  QuotaLimitPatchSchema,
  updateQuotaLimit,
  type QuotaLimitJson,
} from '../../../services/quota-limits';
import type { SignedInUser } from './auth.server';
import { formProblem, formText, refusal } from './forms.server';

/** The quota page's forms, through the same service and rules as the API's /quota-limits. */

export type QuotaLimitOutcome = { ok: true; message: string } | { ok: false; message: string; field?: string };

/** A page holds every limit an organization is likely to have; more are listed through the API. */
const PAGE = 1000;

export const FIELD_LABELS: Record<string, string> = {
  event_type: 'Event type',
  customer_external_id: 'Customer',
  mode: 'Mode',
  limit: 'Limit',
  soft_warning_percent: 'Warn at (%)',
  grace_period_seconds: 'Grace (seconds)',
  reset_window: 'Resets every',
};

export async function readQuotaLimits(context: AppLoadContext, organizationId: string): Promise<{ limits: QuotaLimitJson[]; more: boolean }> {
  const { data, has_more } = await listQuotaLimits(context.prisma, organizationId, { limit: PAGE });
  const sorted = [...data].sort((a, b) => a.event_type.localeCompare(b.event_type) || (a.customer_external_id ?? '').localeCompare(b.customer_external_id ?? ''));
  return { limits: sorted, more: has_more };
}

/** The limit a `?edit=` or `?remove=` names, when it is the organization's. */
export async function findQuotaLimit(context: AppLoadContext, organizationId: string, id: string | null): Promise<QuotaLimitJson | null> {
  if (!id) return null;
  try {
    return await getQuotaLimit(context.prisma, organizationId, id);
  } catch (err) {
    if (err instanceof DomainError) return null;
    throw err;
  }
}

/** Empty inputs are "not given": the schema's default (or the limit's current value) applies. */
const optional = (form: FormData, name: string): string | undefined => formText(form, name) || undefined;
const whole = (form: FormData, name: string): number | string | undefined => {
  const raw = optional(form, name);
  return raw !== undefined && /^-?\d+$/.test(raw) ? Number(raw) : raw;
};

const describe = (l: QuotaLimitJson): string =>
  `${l.mode} limit on ${l.event_type} for ${l.customer_external_id === null ? 'every customer (the default)' : l.customer_external_id}${l.mode === 'DISABLED' ? '' : ` (${l.limit} per ${l.reset_window === 'never' ? 'all time' : l.reset_window})`}`;

export async function applyQuotaLimitForm(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<QuotaLimitOutcome> {
  const actor = { type: 'user', id: user.email } as const;
  const intent = form.get('intent');
  try {
    if (intent === 'create') {
      const parsed = QuotaLimitCreateSchema.safeParse({
        event_type: formText(form, 'event_type'),
        customer_external_id: optional(form, 'customer_external_id') ?? null,
        mode: formText(form, 'mode'),
        limit: optional(form, 'limit'),
        soft_warning_percent: whole(form, 'soft_warning_percent'),
        grace_period_seconds: whole(form, 'grace_period_seconds'),
        reset_window: optional(form, 'reset_window'),
      });
      if (!parsed.success) return formProblem(parsed.error, FIELD_LABELS);
      const created = await createQuotaLimit(context.prisma, user.organizationId, parsed.data, actor);
      return { ok: true, message: `Created the ${describe(created)}. Ingest applies it to its next request.` };
    }
    const id = formText(form, 'id');
    if (intent === 'update') {
      const parsed = QuotaLimitPatchSchema.safeParse({
        mode: optional(form, 'mode'),
        limit: optional(form, 'limit'),
        soft_warning_percent: whole(form, 'soft_warning_percent'),
        grace_period_seconds: whole(form, 'grace_period_seconds'),
        reset_window: optional(form, 'reset_window'),
      });
      if (!parsed.success) return formProblem(parsed.error, FIELD_LABELS);
      const filledFrom = formText(form, 'updated_at');
      const updated = await updateQuotaLimit(context.prisma, user.organizationId, id, parsed.data, actor, filledFrom ? { ifUnchangedSince: filledFrom } : {});
      return { ok: true, message: `Saved: ${describe(updated)}.` };
    }
    if (intent === 'remove') {
      const removed = await deleteQuotaLimit(context.prisma, user.organizationId, id, actor);
      return { ok: true, message: `Removed the ${describe(removed)} and its usage counters.` };
    }
  } catch (err) {
    return refusal(err);
  }
  return { ok: false, message: `Unknown action "${String(intent)}".` };
}

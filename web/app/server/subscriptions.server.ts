import type { AppLoadContext } from 'react-router';
import { newestPlanIds } from '../../../services/plans';
import { DomainError } from '../../../services/errors';
import {
  createSubscription,
  customerSubscriptions,
  previewCancel,
  previewPlanChange,
  requestCancel,
  requestPlanChange,
  type ProrationPreview,
  type SubscriptionServiceDeps,
} from '../../../services/subscriptions';
import { TASK_QUEUE } from '../../../temporal/names';
import type { SignedInUser } from './auth.server';
import { formText } from './forms.server';
import { isUuid } from '../../../services/ids';

/*
 * The customer page's subscriptions: start one, change its plan or cancel
 * it, each change previewed (what the period's invoice will credit and
 * charge) before it is confirmed. Through the same service and rules as
 * POST /api/v1/subscriptions, /:id/change-plan and /:id/cancel.
 */

/** What the page needs to confirm a previewed change: the fields posted again with intent `confirm-…`. */
export type PendingChange = { intent: 'confirm-change' | 'confirm-cancel'; subscriptionId: string; fields: Record<string, string>; preview: ProrationPreview };

/** `subscriptionId`: the subscription a refusal concerns (its form marks the field); none for starting one. */
export type SubscriptionOutcome = { subscription: true; ok: boolean; message: string; field?: string; subscriptionId?: string; pending?: PendingChange };

/** How long the page waits for Temporal before saying the request was not delivered. */
const TEMPORAL_TIMEOUT_MS = 5_000;

function serviceDeps(context: AppLoadContext): SubscriptionServiceDeps {
  return { prisma: context.prisma, temporal: context.temporal, taskQueue: TASK_QUEUE, temporalTimeoutMs: TEMPORAL_TIMEOUT_MS, log: (message, err) => console.error(message, err ?? '') };
}

export async function readSubscriptions(context: AppLoadContext, organizationId: string, customerId: string) {
  const [subscriptions, plans] = await Promise.all([
    customerSubscriptions(context.prisma, organizationId, customerId),
    // Each plan at its newest version: what a new subscription or a plan change takes.
    newestPlanIds(context.prisma, organizationId).then((ids) =>
      context.prisma.plan.findMany({ where: { id: { in: ids }, active: true }, orderBy: [{ name: 'asc' }, { key: 'asc' }], select: { key: true, version: true, name: true, currency: true, interval: true, baseFee: true } }),
    ),
  ]);
  return { subscriptions, plans: plans.map((p) => ({ key: p.key, version: p.version, name: p.name, currency: p.currency, interval: p.interval, baseFee: p.baseFee.toFixed() })) };
}

/** A date field as typed (YYYY-MM-DD, UTC midnight), a datetime-local (UTC), or null when empty; a bad one is refused naming the field. */
function instant(form: FormData, name: string, label: string): Date | null | SubscriptionOutcome {
  const raw = formText(form, name);
  if (!raw) return null;
  const at = new Date(/^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T00:00:00Z` : /Z|[+-]\d{2}:\d{2}$/.test(raw) ? raw : `${raw}Z`);
  if (Number.isNaN(at.getTime())) return { subscription: true, ok: false, message: `${label}: must be a date`, field: name };
  return at;
}
const refused = (v: unknown): v is SubscriptionOutcome => typeof v === 'object' && v !== null && 'subscription' in v;

const LABELS: Record<string, string> = { plan: 'Plan', plan_version: 'Plan', effective_at: 'Takes effect', at: 'Cancel now', start_date: 'Starts' };

/** What a preview showed, to check at confirmation that it still holds. */
const previewedAs = (p: ProrationPreview): string =>
  [p.period.start, p.at, p.from_plan.key, p.from_plan.version, p.from_plan.base_fee, p.to_plan?.key ?? '', p.to_plan?.version ?? '', p.to_plan?.base_fee ?? '', p.net].join('|');

const stale = (subscriptionId: string): SubscriptionOutcome => ({
  subscription: true,
  ok: false,
  message: 'The subscription changed since the preview (another change, or a new period): nothing was requested. Preview it again.',
  subscriptionId,
});

function money(p: ProrationPreview): string {
  return `credit ${p.credit}, charge ${p.charge}, net ${p.net} ${p.currency.toUpperCase()}`;
}

export async function applySubscriptionForm(context: AppLoadContext, user: SignedInUser, customer: { id: string; externalId: string }, form: FormData): Promise<SubscriptionOutcome> {
  const actor = { type: 'user', id: user.email } as const;
  const requestedBy = { type: 'user', id: user.email } as const;
  const organizationId = user.organizationId;
  const intent = String(form.get('intent'));
  const subscriptionId = formText(form, 'subscription_id');
  try {
    // The subscription must be this customer's: a forged id (another customer's, or no id at all) is "not found".
    if (subscriptionId && (!isUuid(subscriptionId) || !(await context.prisma.subscription.findFirst({ where: { id: subscriptionId, organizationId, customerId: customer.id }, select: { id: true } })))) {
      return { subscription: true, ok: false, message: 'No such subscription for this customer.' };
    }
    switch (intent) {
      case 'subscribe': {
        const start = instant(form, 'start_date', LABELS.start_date!);
        if (refused(start)) return start;
        const plan = formText(form, 'plan');
        if (!plan) return { subscription: true, ok: false, message: 'Plan: choose a plan', field: 'plan' };
        const created = await createSubscription(serviceDeps(context), organizationId, { customer_external_id: customer.externalId, plan, start_date: start ?? new Date() }, actor);
        return { subscription: true, ok: true, message: `Subscribed to ${created.plan} from ${created.start_date.slice(0, 10)}.${created.workflow_start === 'pending' ? ' Its workflow starts shortly.' : ''}` };
      }
      case 'preview-change':
      case 'confirm-change': {
        const effectiveAt = instant(form, 'effective_at', LABELS.effective_at!);
        if (refused(effectiveAt)) return effectiveAt;
        const atPeriodEnd = form.get('at_period_end') === 'on';
        if (atPeriodEnd && effectiveAt && intent === 'preview-change') {
          return { subscription: true, ok: false, message: 'Takes effect: leave it empty for a change at the end of the current period', field: 'effective_at', subscriptionId };
        }
        // The plan's newest version when asked; at confirmation, the version previewed (a newer one since is "changed since the preview").
        const version = Number(formText(form, 'plan_version')) || undefined;
        const input = { plan: formText(form, 'plan'), plan_version: version, at_period_end: atPeriodEnd, effective_at: atPeriodEnd ? undefined : (effectiveAt ?? undefined) };
        if (intent === 'preview-change') {
          // Previewed "now" is pinned to the instant shown, so what is confirmed is what was previewed.
          const preview = await previewPlanChange(context.prisma, organizationId, subscriptionId, { ...input, effective_at: atPeriodEnd ? undefined : (input.effective_at ?? new Date()) });
          const fields = {
            plan: input.plan,
            plan_version: String(preview.to_plan!.version),
            ...(atPeriodEnd ? { at_period_end: 'on' } : { effective_at: preview.at }),
            request_key: crypto.randomUUID(),
            previewed: previewedAs(preview),
          };
          const when = atPeriodEnd ? `at the period end, ${preview.at.slice(0, 10)}` : `on ${preview.at.slice(0, 16).replace('T', ' ')} UTC`;
          return { subscription: true, ok: true, message: `Preview: from ${preview.from_plan.name} to ${preview.to_plan!.name} version ${preview.to_plan!.version} ${when}, ${money(preview)}.`, pending: { intent: 'confirm-change', subscriptionId, fields, preview } };
        }
        // What is confirmed must still be what was previewed (another change since, or the period turned): else preview again.
        const now = await previewPlanChange(context.prisma, organizationId, subscriptionId, input);
        if (previewedAs(now) !== formText(form, 'previewed')) return stale(subscriptionId);
        const done = await requestPlanChange(serviceDeps(context), organizationId, subscriptionId, { ...input, request_key: formText(form, 'request_key') || crypto.randomUUID() }, requestedBy, actor);
        return {
          subscription: true,
          ok: true,
          message: atPeriodEnd
            ? `Plan change to ${done.accepted.plan} version ${done.accepted.plan_version} at the end of the period (${done.accepted.effective_at.slice(0, 10)}) requested; this period is billed in full on the current plan.`
            : `Plan change to ${done.accepted.plan} from ${done.accepted.effective_at.slice(0, 16).replace('T', ' ')} UTC requested; the subscription's workflow applies it and this period's invoice prorates it.`,
        };
      }
      case 'preview-cancel':
      case 'confirm-cancel': {
        const atPeriodEnd = form.get('when') !== 'now';
        const at = instant(form, 'at', LABELS.at!);
        if (refused(at)) return at;
        const input = { at_period_end: atPeriodEnd, at: atPeriodEnd ? undefined : (at ?? undefined) };
        if (intent === 'preview-cancel') {
          const preview = await previewCancel(context.prisma, organizationId, subscriptionId, { ...input, ...(atPeriodEnd ? {} : { at: input.at ?? new Date() }) });
          const fields: Record<string, string> = { ...(atPeriodEnd ? { when: 'period_end' } : { when: 'now', at: preview.at }), previewed: previewedAs(preview) };
          const message = atPeriodEnd
            ? `Preview: ${preview.from_plan.name} ends with its period on ${preview.period.end.slice(0, 10)}; this period is billed in full, nothing is credited.`
            : `Preview: ${preview.from_plan.name} ends on ${preview.at.slice(0, 16).replace('T', ' ')} UTC; the unused base fee is credited: ${money(preview)}.`;
          return { subscription: true, ok: true, message, pending: { intent: 'confirm-cancel', subscriptionId, fields, preview } };
        }
        const now = await previewCancel(context.prisma, organizationId, subscriptionId, input);
        if (previewedAs(now) !== formText(form, 'previewed')) return stale(subscriptionId);
        const done = await requestCancel(serviceDeps(context), organizationId, subscriptionId, input, requestedBy, actor);
        return { subscription: true, ok: true, message: done.accepted.at_period_end ? 'Cancellation at the end of the period requested.' : `Cancellation on ${done.accepted.at!.slice(0, 16).replace('T', ' ')} UTC requested.` };
      }
      default:
        return { subscription: true, ok: false, message: `Unknown action "${intent}".` };
    }
  } catch (err) {
    if (err instanceof DomainError) {
      const label = err.field ? LABELS[err.field] : undefined;
      const message = label && err.message.startsWith(`${err.field}: `) ? `${label}: ${err.message.slice(err.field!.length + 2)}` : err.message;
      return { subscription: true, ok: false, message, ...(err.field ? { field: err.field } : {}), ...(subscriptionId ? { subscriptionId } : {}) };
    }
    throw err;
  }
}

import { isGrpcDeadlineError, type Client } from '@temporalio/client';
import { monthIndex, periodContaining, type BillingPeriod } from '../billing/billing-period';
import { formatMoney } from '../billing/currency';
import { dec, toPlainString } from '../billing/decimal';
import { planTimeline } from '../billing/draft-inputs';
import { prorate, utcDaysBetween, type ProrationMode } from '../billing/proration';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { PlanModel, Prisma, PrismaClient, SubscriptionModel } from '../prisma/client';
import type { Requester } from '../temporal/billing-messages';
import { subscriptionWorkflowId } from '../temporal/names';
import {
  markSubscriptionWorkflowsStarted,
  signalSubscription,
  startSubscriptionWorkflow,
  SubscriptionWorkflowEndedError,
  type SignaledSubscription,
  type SubscriptionMessage,
} from '../temporal/subscriptions';
import { ensureCustomer } from './customers';
import { DomainError, invalidField } from './errors';
import { latestPlan } from '../prisma/plan-reads';
import { isUuid } from './ids';

/*
 * Subscriptions: create one, change its plan, cancel it, and preview what a
 * change or a cancellation prorates before asking for it. The API
 * (api/routes/subscriptions.ts, subscription-changes.ts) and the web app's
 * customer page call these. A change or cancellation is a request to the
 * subscription's workflow (a signal); the workflow applies it and the
 * period's invoice prorates around it, as the preview shows.
 */

export interface SubscriptionServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** how long a Temporal call may take before the request is answered 503 */
  temporalTimeoutMs: number;
  log: (message: string, err?: unknown) => void;
}

type Interval = 'month' | 'quarter' | 'year';
type PlanSide = Pick<PlanModel, 'id' | 'key' | 'version' | 'name' | 'baseFee'>;
type SubscriptionRow = SubscriptionModel & {
  customer: { externalId: string };
  plan: { key: string; version: number; name: string; interval: Interval; currency: string; baseFee: PlanModel['baseFee'] };
  planChanges: { effectiveAt: Date; requestKey: string; toPlanId: string; fromPlan: PlanSide; toPlan: PlanSide }[];
};

const side = { select: { id: true, key: true, version: true, name: true, baseFee: true } } as const;
const related = {
  customer: { select: { externalId: true } },
  plan: { select: { key: true, version: true, name: true, interval: true, currency: true, baseFee: true } },
  // A recorded change moves the subscription's plan at once, even when it takes effect later: the timeline says which is in effect.
  planChanges: { orderBy: [{ effectiveAt: 'asc' as const }, { createdAt: 'asc' as const }], select: { effectiveAt: true, requestKey: true, toPlanId: true, fromPlan: side, toPlan: side } },
} satisfies Prisma.SubscriptionInclude;

/** The plan in effect at `at` (billing/draft-inputs.ts planTimeline, the invoice's own rule). */
const planInEffect = (s: SubscriptionRow, at: Date): PlanSide => planChanges(s).planAt(at);

/** The subscription's recorded plan changes, oldest first (read with it), and the plan in effect at any instant (the invoice's own timeline). */
function planChanges(s: SubscriptionRow) {
  return { changes: s.planChanges, planAt: planTimeline<PlanSide>({ id: s.planId, key: s.plan.key, version: s.plan.version, name: s.plan.name, baseFee: s.plan.baseFee }, s.planChanges) };
}


const invalid = invalidField;

/** The period on the subscription's grid containing `at` (the first one before it starts); null once canceled. */
export function currentPeriod(s: Pick<SubscriptionRow, 'status' | 'startDate' | 'billingAnchorDay'> & { plan: { interval: Interval } }, at: Date): BillingPeriod | null {
  if (s.status === 'canceled') return null;
  return periodContaining(at < s.startDate ? s.startDate : at, s.billingAnchorDay, s.plan.interval, monthIndex(s.startDate));
}

export function subscriptionJson(s: SubscriptionRow, at: Date) {
  const period = currentPeriod(s, at);
  const plan = planInEffect(s, at);
  return {
    id: s.id,
    customer_id: s.customerId,
    customer_external_id: s.customer.externalId,
    plan: plan.key,
    plan_version: plan.version,
    status: s.status,
    start_date: s.startDate.toISOString(),
    billing_anchor_day: s.billingAnchorDay,
    cancel_at_period_end: s.cancelAtPeriodEnd,
    canceled_at: s.canceledAt?.toISOString() ?? null,
    contracted_base_fee: s.contractedBaseFee === null ? null : toPlainString(dec(s.contractedBaseFee)),
    created_at: s.createdAt.toISOString(),
    current_period: period && { start: period.start.toISOString(), end: period.end.toISOString() },
  };
}
export type SubscriptionJson = ReturnType<typeof subscriptionJson>;

/** The organization's subscription; another organization's is as missing as one that never existed. */
export async function findSubscription(db: Pick<PrismaClient, 'subscription'>, organizationId: string, id: string): Promise<SubscriptionRow> {
  const subscription = isUuid(id) ? await db.subscription.findFirst({ where: { id, organizationId }, include: related }) : null;
  if (!subscription) throw new DomainError('not_found', 'NOT_FOUND', `No subscription ${id}`);
  return subscription;
}

/** The organization's subscriptions by id, a customer's only when asked, with the period current at `at` (default now). */
export async function listSubscriptions(prisma: PrismaClient, organizationId: string, query: { customer?: string | undefined; after?: string | undefined; limit: number; at?: Date | undefined }) {
  const rows = await prisma.subscription.findMany({
    where: { organizationId, ...(query.customer ? { customer: { externalId: query.customer } } : {}), ...(query.after ? { id: { gt: query.after } } : {}) },
    orderBy: { id: 'asc' },
    take: query.limit + 1,
    include: related,
  });
  const at = query.at ?? new Date();
  return { data: rows.slice(0, query.limit).map((s) => subscriptionJson(s, at)), has_more: rows.length > query.limit };
}

/**
 * A customer's subscriptions, newest first, each with the plan in effect at
 * `at` and the plan changes scheduled after it (a recorded change moves the
 * subscription's plan at once, even when it takes effect later).
 */
export async function customerSubscriptions(prisma: PrismaClient, organizationId: string, customerId: string, at = new Date()) {
  const rows = await prisma.subscription.findMany({ where: { organizationId, customerId }, include: related, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
  return Promise.all(
    rows.map(async (s) => {
      const { changes, planAt } = planChanges(s);
      const now = planAt(at);
      return {
        ...subscriptionJson(s, at),
        plan: now.key,
        plan_version: now.version,
        plan_name: now.name,
        currency: s.plan.currency,
        scheduled: changes.filter((c) => c.effectiveAt > at).map((c) => ({ plan: c.toPlan.key, plan_version: c.toPlan.version, plan_name: c.toPlan.name, at: c.effectiveAt.toISOString() })),
      };
    }),
  );
}

/** The plan's version a request names (default the newest), if it takes subscriptions. */
async function activePlan(prisma: PrismaClient, organizationId: string, key: string, version: number | undefined): Promise<PlanModel> {
  const plan = version === undefined ? await latestPlan(prisma, organizationId, key) : await prisma.plan.findUnique({ where: { organizationId_key_version: { organizationId, key, version } } });
  if (!plan) throw version === undefined ? invalid('plan', `no such plan (${key})`) : invalid('plan_version', `plan ${key} has no version ${version}`);
  if (!plan.active) throw invalid(version === undefined ? 'plan' : 'plan_version', `the plan is inactive (${key} version ${plan.version})`);
  return plan;
}

export interface SubscriptionCreate {
  customer_external_id: string;
  plan: string;
  /** default the plan's newest version */
  plan_version?: number | undefined;
  start_date: Date;
  billing_anchor_day?: number | undefined;
  /** a plain decimal string */
  contracted_base_fee?: string | undefined;
}

/**
 * Starts the new subscription's workflow once the subscription is committed.
 * The subscription is the system of record: if Temporal is slow or down the
 * request still succeeds, says the start is pending, and the sweeper
 * schedule (and `npm start`'s startup sweep) starts it later under the same id.
 */
async function startWorkflow(deps: SubscriptionServiceDeps, s: SubscriptionRow): Promise<'started' | 'pending'> {
  try {
    await deps.temporal.withDeadline(Date.now() + deps.temporalTimeoutMs, () =>
      startSubscriptionWorkflow(deps.temporal, { organizationId: s.organizationId, subscriptionId: s.id, customerId: s.customerId }, deps.taskQueue),
    );
    await markSubscriptionWorkflowsStarted(deps.prisma, [s.id]);
    return 'started';
  } catch (err) {
    deps.log(`could not start the workflow of subscription ${s.id}; the sweeper will start it`, err);
    return 'pending';
  }
}

export async function createSubscription(deps: SubscriptionServiceDeps, organizationId: string, input: SubscriptionCreate, actor: AuditActor) {
  const plan = await activePlan(deps.prisma, organizationId, input.plan, input.plan_version);
  const subscription = await deps.prisma.$transaction(async (tx) => {
    const { customer } = await ensureCustomer(tx, organizationId, actor, { external_id: input.customer_external_id });
    const created = await tx.subscription.create({
      data: {
        organizationId,
        customerId: customer.id,
        planId: plan.id,
        startDate: input.start_date,
        billingAnchorDay: input.billing_anchor_day ?? input.start_date.getUTCDate(),
        contractedBaseFee: input.contracted_base_fee ?? null,
      },
      include: related,
    });
    await writeAudit(tx, { organizationId, actor, action: 'subscription.created', entityType: 'subscription', entityId: created.id, after: subscriptionJson(created, created.createdAt) });
    return created;
  });
  const workflow = await startWorkflow(deps, subscription);
  return { ...subscriptionJson(subscription, new Date()), workflow_id: subscriptionWorkflowId(subscription.id), workflow_start: workflow };
}

/** A change takes effect inside the current period and not before the subscription starts; the workflow prorates around it. */
function requireInPeriod(field: string, at: Date, s: SubscriptionRow, period: BillingPeriod): void {
  const from = s.startDate > period.start ? s.startDate : period.start;
  if (at < from || at >= period.end) {
    throw invalid(field, `must fall in the subscription's current period, from ${from.toISOString()} (inclusive) to ${period.end.toISOString()} (exclusive)`);
  }
}

/** The subscription, its current period, and the checks every change shares. */
async function changeable(prisma: PrismaClient, organizationId: string, id: string, now: Date, refusal: { code: string; message: string }) {
  const subscription = await findSubscription(prisma, organizationId, id);
  const period = currentPeriod(subscription, now);
  if (!period) throw new DomainError('conflict', refusal.code, `Subscription ${id} ${refusal.message}`);
  return { subscription, period };
}

/** Signals the workflow; a slow Temporal is a 503 the client can retry (a plan change with the same request key records once). */
async function signal(deps: SubscriptionServiceDeps, s: SubscriptionRow, message: SubscriptionMessage): Promise<SignaledSubscription> {
  const ref = { organizationId: s.organizationId, subscriptionId: s.id, customerId: s.customerId };
  try {
    const signaled = await deps.temporal.withDeadline(Date.now() + deps.temporalTimeoutMs, () => signalSubscription(deps.temporal, ref, message, deps.taskQueue));
    // Signal-with-start: the workflow exists now, if it did not.
    await markSubscriptionWorkflowsStarted(deps.prisma, [s.id]);
    return signaled;
  } catch (err) {
    if (isGrpcDeadlineError(err)) throw new DomainError('unavailable', 'TEMPORAL_UNAVAILABLE', `Temporal did not answer in time; the request for subscription ${s.id} was not delivered, retry it`);
    if (err instanceof SubscriptionWorkflowEndedError) throw new DomainError('conflict', 'SUBSCRIPTION_WORKFLOW_ENDED', `Subscription ${s.id}: ${err.message}`, undefined, { workflow_id: err.workflowId });
    throw err;
  }
}

export interface PlanChangeRequest {
  /** the plan's key: the subscription's own moves it to another version of its plan */
  plan: string;
  /** default the plan's newest version */
  plan_version?: number | undefined;
  /** default now */
  effective_at?: Date | undefined;
  /** the change takes effect when the current period ends (not with effective_at) */
  at_period_end?: boolean | undefined;
}

export interface ProrationPreview {
  currency: string;
  period: { start: string; end: string };
  /** when it takes effect */
  at: string;
  from_plan: { key: string; version: number; name: string; base_fee: string };
  to_plan: { key: string; version: number; name: string; base_fee: string } | null;
  /** ≤ 0: the unused part of the current plan's base fee */
  credit: string;
  /** ≥ 0: the rest of the period at the new plan's base fee */
  charge: string;
  net: string;
  /** of the period left after the change: days (or seconds) remaining / in the period */
  remaining: number;
  total: number;
  unit: ProrationMode;
}

async function prorationMode(prisma: PrismaClient, organizationId: string): Promise<ProrationMode> {
  const org = await prisma.organization.findUniqueOrThrow({ where: { id: organizationId }, select: { prorationMode: true } });
  return org.prorationMode === 'second' ? 'second' : 'day';
}

function preview(s: SubscriptionRow, period: BillingPeriod, at: Date, from: PlanSide, to: PlanSide | null, mode: ProrationMode): ProrationPreview {
  const currency = s.plan.currency;
  // At the period end (a cancellation then) nothing of this period changes: the period is billed in full.
  const p =
    at.getTime() >= period.end.getTime()
      ? { credit: dec(0), charge: dec(0), net: dec(0), remaining: 0, total: mode === 'day' ? utcDaysBetween(period.start, period.end) : Math.round((period.end.getTime() - period.start.getTime()) / 1000) }
      : prorate({ periodStart: period.start, periodEnd: period.end, changeAt: at, fromAmount: dec(from.baseFee), toAmount: to ? dec(to.baseFee) : dec(0), currency, mode });
  const fee = (amount: PlanModel['baseFee']) => formatMoney(dec(amount), currency);
  return {
    currency,
    period: { start: period.start.toISOString(), end: period.end.toISOString() },
    at: at.toISOString(),
    from_plan: { key: from.key, version: from.version, name: from.name, base_fee: fee(from.baseFee) },
    to_plan: to && { key: to.key, version: to.version, name: to.name, base_fee: fee(to.baseFee) },
    credit: formatMoney(p.credit, currency),
    charge: formatMoney(p.charge, currency),
    net: formatMoney(p.net, currency),
    remaining: p.remaining,
    total: p.total,
    unit: mode,
  };
}

async function checkedPlanChange(prisma: PrismaClient, organizationId: string, id: string, input: PlanChangeRequest & { request_key?: string }, now: Date) {
  const { subscription, period } = await changeable(prisma, organizationId, id, now, { code: 'SUBSCRIPTION_CANCELED', message: 'is canceled; its plan cannot change' });
  const plan = await activePlan(prisma, organizationId, input.plan, input.plan_version);
  if (plan.currency !== subscription.plan.currency) {
    throw invalid('plan', `the plan bills in ${plan.currency} but the subscription's plan ${subscription.plan.key} bills in ${subscription.plan.currency} (${input.plan})`);
  }
  // At the period end the change is recorded now and takes effect as the next period starts: this period bills the plan in effect now.
  const effectiveAt = input.at_period_end ? period.end : (input.effective_at ?? now);
  if (!input.at_period_end) requireInPeriod('effective_at', effectiveAt, subscription, period);
  const { changes, planAt } = planChanges(subscription);
  const from = planAt(effectiveAt);
  // A request sent again after its change was recorded (a client retry) is delivered again; the workflow records it once.
  // The same key with another plan or instant is another request: refused, not silently dropped by the workflow.
  const recorded = input.request_key === undefined ? undefined : changes.find((c) => c.requestKey === input.request_key);
  if (recorded) {
    // (A retry that leaves effective_at to "now" cannot repeat the instant: its plan must match.)
    const sameInstant = input.effective_at === undefined || recorded.effectiveAt.getTime() === effectiveAt.getTime();
    // A retry that named no version is the same request even if a newer version was made since.
    const samePlan = input.plan_version === undefined ? recorded.toPlan.key === input.plan : recorded.toPlanId === plan.id;
    if (samePlan && sameInstant) return { subscription, period, plan: { ...plan, id: recorded.toPlanId, version: recorded.toPlan.version }, from, effectiveAt: recorded.effectiveAt };
    throw new DomainError('conflict', 'REQUEST_KEY_REUSED', `request_key ${input.request_key} was used for a change to ${recorded.toPlan.key} version ${recorded.toPlan.version} at ${recorded.effectiveAt.toISOString()}; use a new key for another change`, 'request_key');
  }
  if (input.at_period_end && subscription.cancelAtPeriodEnd) {
    throw new DomainError('conflict', 'SUBSCRIPTION_CANCELING', `Subscription ${id} ends with this period; a change at its end would never take effect`, 'at_period_end');
  }
  // A change before one already scheduled would leave that one changing from a plan no longer in effect: the invoice could not add up.
  const later = changes.find((c) => c.effectiveAt > effectiveAt);
  if (later) {
    throw new DomainError('conflict', 'PLAN_CHANGE_SCHEDULED', `Subscription ${id} changes to ${later.toPlan.key} at ${later.effectiveAt.toISOString()}; a change must take effect after that one`, 'effective_at');
  }
  if (from.id === plan.id) throw invalid('plan', `the subscription is on this plan at ${effectiveAt.toISOString()} already (${input.plan} version ${plan.version})`);
  return { subscription, period, plan, from, effectiveAt };
}

/** What the period's invoice will prorate if the plan changes as asked: nothing is requested. */
export async function previewPlanChange(prisma: PrismaClient, organizationId: string, id: string, input: PlanChangeRequest, now = new Date()): Promise<ProrationPreview> {
  const { subscription, period, plan, from, effectiveAt } = await checkedPlanChange(prisma, organizationId, id, input, now);
  return preview(subscription, period, effectiveAt, from, plan, await prorationMode(prisma, organizationId));
}

export async function requestPlanChange(deps: SubscriptionServiceDeps, organizationId: string, id: string, input: PlanChangeRequest & { request_key: string }, requestedBy: Requester, actor: AuditActor) {
  const { subscription, plan, effectiveAt } = await checkedPlanChange(deps.prisma, organizationId, id, input, new Date());
  const signaled = await signal(deps, subscription, { kind: 'changePlan', request: { planKey: plan.key, planVersion: plan.version, effectiveAt: effectiveAt.toISOString(), ...(input.at_period_end ? { atPeriodEnd: true } : {}), requestKey: input.request_key, requestedBy } });
  const accepted = { plan: plan.key, plan_version: plan.version, effective_at: effectiveAt.toISOString(), request_key: input.request_key };
  // Written once the signal is delivered, so the trail never claims a request the workflow did not get.
  await writeAudit(deps.prisma, {
    organizationId,
    actor,
    action: 'subscription.plan_change_requested',
    entityType: 'subscription',
    entityId: subscription.id,
    before: { plan: subscription.plan.key, plan_version: subscription.plan.version },
    after: { ...accepted, workflow_id: signaled.workflowId, run_id: signaled.runId },
  });
  return { subscription_id: subscription.id, workflow_id: signaled.workflowId, accepted };
}

export interface CancelRequest {
  at_period_end: boolean;
  /** with at_period_end false; default now */
  at?: Date | undefined;
}

async function checkedCancel(prisma: PrismaClient, organizationId: string, id: string, input: CancelRequest, now: Date) {
  const { subscription, period } = await changeable(prisma, organizationId, id, now, { code: 'ALREADY_CANCELED', message: 'is already canceled' });
  // Cancelling now takes the service's clock, not the workflow's, so what was validated and audited is what happens.
  const at = input.at_period_end ? null : (input.at ?? now);
  if (at) requireInPeriod('at', at, subscription, period);
  return { subscription, period, at };
}

/** What the period's invoice will credit if the subscription is canceled as asked (nothing at the period end). */
export async function previewCancel(prisma: PrismaClient, organizationId: string, id: string, input: CancelRequest, now = new Date()): Promise<ProrationPreview> {
  const { subscription, period, at } = await checkedCancel(prisma, organizationId, id, input, now);
  const when = at ?? period.end;
  const { planAt } = planChanges(subscription);
  return preview(subscription, period, when, planAt(new Date(Math.min(when.getTime(), period.end.getTime() - 1))), null, await prorationMode(prisma, organizationId));
}

export async function requestCancel(deps: SubscriptionServiceDeps, organizationId: string, id: string, input: CancelRequest, requestedBy: Requester, actor: AuditActor) {
  const { subscription, at } = await checkedCancel(deps.prisma, organizationId, id, input, new Date());
  const signaled = await signal(deps, subscription, { kind: 'cancel', request: { atPeriodEnd: input.at_period_end, ...(at ? { at: at.toISOString() } : {}), requestedBy } });
  const accepted = { at_period_end: input.at_period_end, at: at?.toISOString() ?? null };
  await writeAudit(deps.prisma, {
    organizationId,
    actor,
    action: 'subscription.cancel_requested',
    entityType: 'subscription',
    entityId: subscription.id,
    before: { status: subscription.status, cancel_at_period_end: subscription.cancelAtPeriodEnd },
    after: { ...accepted, workflow_id: signaled.workflowId, run_id: signaled.runId },
  });
  return { subscription_id: subscription.id, workflow_id: signaled.workflowId, accepted };
}

/** The contracted base fee is what reconciliation expects a renewal to bill (renewal drift); the plan still prices invoices. */
export async function setContractedBaseFee(prisma: PrismaClient, organizationId: string, id: string, fee: string | null, actor: AuditActor): Promise<SubscriptionJson> {
  const subscription = await prisma.$transaction(async (tx) => {
    const before = await findSubscription(tx, organizationId, id);
    const after = await tx.subscription.update({ where: { id }, data: { contractedBaseFee: fee }, include: related });
    await writeAudit(tx, {
      organizationId,
      actor,
      action: 'subscription.updated',
      entityType: 'subscription',
      entityId: id,
      before: { contracted_base_fee: subscriptionJson(before, before.createdAt).contracted_base_fee },
      after: { contracted_base_fee: subscriptionJson(after, after.createdAt).contracted_base_fee },
    });
    return after;
  });
  return subscriptionJson(subscription, new Date());
}

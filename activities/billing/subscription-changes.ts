import { ApplicationFailure } from '@temporalio/activity';
import { writeAudit, type AuditActor } from '../../prisma/audit';
import { latestPlan } from '../../prisma/plan-reads';
import type { CancelSignal, ChangePlanSignal, Requester } from '../../temporal/billing-messages';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor } from '../workflow-actor';

export interface SubscriptionRef {
  organizationId: string;
  subscriptionId: string;
}

/** What the subscription workflow plans its periods with. */
export interface SubscriptionSchedule {
  status: 'active' | 'canceled';
  startDate: string;
  billingAnchorDay: number;
  interval: 'month' | 'quarter' | 'year';
  cancelAtPeriodEnd: boolean;
  canceledAt: string | null;
  lateEventGraceSeconds: number;
  /**
   * The end of the latest period that has a billing run (an invoice), or null:
   * a workflow started again after an earlier one ended picks up from there,
   * never from the subscription's first period.
   */
  billedThrough?: string | null;
}

async function requireSubscription(prisma: ActivityDeps['prisma'], ref: SubscriptionRef) {
  const s = await prisma.subscription.findFirst({
    where: { id: ref.subscriptionId, organizationId: ref.organizationId },
    include: { plan: { select: { interval: true, currency: true, id: true, key: true } }, organization: { select: { lateEventGraceSeconds: true } } },
  });
  if (!s) throw ApplicationFailure.nonRetryable(`subscription ${ref.subscriptionId} not found in organization ${ref.organizationId}`, 'NotFound');
  return s;
}

export function loadSubscription({ prisma }: ActivityDeps) {
  return async function loadSubscription(ref: SubscriptionRef): Promise<SubscriptionSchedule> {
    const s = await requireSubscription(prisma, ref);
    const latest = await prisma.invoice.findFirst({ where: { organizationId: ref.organizationId, subscriptionId: s.id, kind: 'period' }, orderBy: { periodEnd: 'desc' }, select: { periodEnd: true } });
    return {
      status: s.status,
      startDate: s.startDate.toISOString(),
      billingAnchorDay: s.billingAnchorDay,
      interval: s.plan.interval,
      cancelAtPeriodEnd: s.cancelAtPeriodEnd,
      canceledAt: s.canceledAt?.toISOString() ?? null,
      lateEventGraceSeconds: s.organization.lateEventGraceSeconds,
      billedThrough: latest?.periodEnd.toISOString() ?? null,
    };
  };
}

const requesterActor = (r: Requester): AuditActor => (r.type === 'system' ? { type: 'system', id: r.id } : { type: r.type, id: r.id });

export type ChangeOutcome = { applied: true } | { applied: false; reason: string };

/**
 * Applies a plan change the workflow accepted for the current period: a
 * subscription_plan_changes row (unique per request key, so a retry records
 * one change) and the subscription's new plan, with an audit row.
 */
export function applyPlanChange({ prisma }: ActivityDeps) {
  return async function applyPlanChange(input: SubscriptionRef & ChangePlanSignal): Promise<ChangeOutcome> {
    const run = workflowActor();
    return prisma.$transaction(async (tx) => {
      const s = await tx.subscription.findFirst({ where: { id: input.subscriptionId, organizationId: input.organizationId }, include: { plan: true } });
      if (!s) throw ApplicationFailure.nonRetryable(`subscription ${input.subscriptionId} not found`, 'NotFound');
      const seen = await tx.subscriptionPlanChange.findUnique({ where: { subscriptionId_requestKey: { subscriptionId: s.id, requestKey: input.requestKey } } });
      if (seen) return { applied: true };
      if (s.status === 'canceled') return { applied: false, reason: 'the subscription is canceled' };
      const plan =
        input.planVersion === undefined
          ? await latestPlan(tx, input.organizationId, input.planKey)
          : await tx.plan.findUnique({ where: { organizationId_key_version: { organizationId: input.organizationId, key: input.planKey, version: input.planVersion } } });
      const named = `plan ${input.planKey}${input.planVersion === undefined ? '' : ` version ${input.planVersion}`}`;
      if (!plan || !plan.active) return { applied: false, reason: `${named} does not exist or is inactive` };
      if (plan.currency !== s.plan.currency) return { applied: false, reason: `${named} bills in ${plan.currency}, the subscription in ${s.plan.currency}` };
      // The API checked the order against the changes it saw; requests queued behind each other are checked again here.
      const later = await tx.subscriptionPlanChange.findFirst({ where: { subscriptionId: s.id, effectiveAt: { gt: new Date(input.effectiveAt) } }, select: { effectiveAt: true } });
      if (later) return { applied: false, reason: `a change already recorded takes effect at ${later.effectiveAt.toISOString()}, after ${input.effectiveAt}` };
      if (plan.id === s.planId) return { applied: false, reason: `the subscription is already on ${named}` };
      await tx.subscriptionPlanChange.create({
        data: { organizationId: input.organizationId, subscriptionId: s.id, fromPlanId: s.planId, toPlanId: plan.id, effectiveAt: new Date(input.effectiveAt), requestKey: input.requestKey },
      });
      await tx.subscription.update({ where: { id: s.id }, data: { planId: plan.id } });
      await writeAudit(tx, {
        organizationId: input.organizationId,
        actor: requesterActor(input.requestedBy),
        action: 'subscription.plan_changed',
        entityType: 'subscription',
        entityId: s.id,
        before: { plan: s.plan.key, version: s.plan.version },
        after: { plan: plan.key, version: plan.version, effectiveAt: input.effectiveAt, workflowId: run.id },
      });
      return { applied: true };
    }, TX_OPTIONS);
  };
}

/**
 * Records a cancellation: at period end it only sets the flag (the workflow
 * ends the subscription when the period closes); now, it ends it at `at`.
 */
export function applyCancel({ prisma }: ActivityDeps) {
  return async function applyCancel(input: SubscriptionRef & CancelSignal & { at: string }): Promise<ChangeOutcome> {
    const run = workflowActor();
    return prisma.$transaction(async (tx) => {
      const s = await tx.subscription.findFirst({ where: { id: input.subscriptionId, organizationId: input.organizationId } });
      if (!s) throw ApplicationFailure.nonRetryable(`subscription ${input.subscriptionId} not found`, 'NotFound');
      if (s.status === 'canceled') return { applied: true };
      const data = input.atPeriodEnd ? { cancelAtPeriodEnd: true } : { status: 'canceled' as const, canceledAt: new Date(input.at) };
      await tx.subscription.update({ where: { id: s.id }, data });
      await writeAudit(tx, {
        organizationId: input.organizationId,
        actor: requesterActor(input.requestedBy),
        action: input.atPeriodEnd ? 'subscription.cancel_scheduled' : 'subscription.canceled',
        entityType: 'subscription',
        entityId: s.id,
        before: { status: s.status, cancelAtPeriodEnd: s.cancelAtPeriodEnd },
        after: { ...data, canceledAt: input.atPeriodEnd ? null : input.at, workflowId: run.id },
      });
      return { applied: true };
    }, TX_OPTIONS);
  };
}

/** Ends a subscription whose cancellation was scheduled for the period end. */
export function endSubscription({ prisma }: ActivityDeps) {
  return async function endSubscription(input: SubscriptionRef & { at: string }): Promise<void> {
    const actor = workflowActor();
    await prisma.$transaction(async (tx) => {
      const s = await tx.subscription.findFirst({ where: { id: input.subscriptionId, organizationId: input.organizationId } });
      if (!s || s.status === 'canceled') return;
      await tx.subscription.update({ where: { id: s.id }, data: { status: 'canceled', canceledAt: new Date(input.at) } });
      await writeAudit(tx, { organizationId: input.organizationId, actor, action: 'subscription.ended', entityType: 'subscription', entityId: s.id, before: { status: s.status }, after: { status: 'canceled', canceledAt: input.at } });
    }, TX_OPTIONS);
  };
}

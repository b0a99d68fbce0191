import { randomUUID } from 'node:crypto';
import { isGrpcDeadlineError } from '@temporalio/client';
import { Router } from 'express';
import { monthIndex, periodContaining, type BillingPeriod } from '../../billing/billing-period';
import { writeAudit } from '../../prisma/audit';
import type { Requester } from '../../temporal/billing-messages';
import { markSubscriptionWorkflowsStarted, signalSubscription, SubscriptionWorkflowEndedError, type SignaledSubscription, type SubscriptionMessage, type SubscriptionRef } from '../../temporal/subscriptions';
import { callerOf, type Caller } from '../auth';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { IdParamsSchema } from '../schemas/catalog';
import { CancelRequestSchema, ChangePlanRequestSchema } from '../schemas/invoices';
import { parseOrThrow, type FieldProblem } from '../validation';
import { apiKeyActor, UUID } from './catalog-common';

interface LoadedSubscription {
  id: string;
  organizationId: string;
  customerId: string;
  status: 'active' | 'canceled';
  startDate: Date;
  billingAnchorDay: number;
  cancelAtPeriodEnd: boolean;
  plan: { key: string; interval: 'month' | 'quarter' | 'year'; currency: string };
}

function fieldError(field: string, message: string): ApiError {
  const problem: FieldProblem = { code: 'INVALID_VALUE', field, message: `${field}: ${message}` };
  return new ApiError(400, 'VALIDATION_ERROR', `Invalid request: ${problem.message}`, { field, issues: [problem] });
}

async function loadSubscription(deps: ApiDeps, caller: Caller, id: string): Promise<LoadedSubscription> {
  const notFound = new ApiError(404, 'NOT_FOUND', `No subscription ${id}`);
  if (!UUID.test(id)) throw notFound;
  const subscription = await deps.prisma.subscription.findFirst({
    where: { id, organizationId: caller.organizationId },
    include: { plan: { select: { key: true, interval: true, currency: true } } },
  });
  if (!subscription) throw notFound;
  return subscription;
}

/** The current period on the subscription's grid (the first one before it starts), as GET /subscriptions/:id reports it. */
function currentPeriod(s: LoadedSubscription, now: Date): BillingPeriod {
  return periodContaining(now < s.startDate ? s.startDate : now, s.billingAnchorDay, s.plan.interval, monthIndex(s.startDate));
}

/** A change takes effect inside the current period and not before the subscription starts; the workflow prorates around it. */
function requireInPeriod(field: string, at: Date, s: LoadedSubscription, period: BillingPeriod): void {
  const from = s.startDate > period.start ? s.startDate : period.start;
  if (at < from || at >= period.end) {
    throw fieldError(field, `must fall in the subscription's current period, from ${from.toISOString()} (inclusive) to ${period.end.toISOString()} (exclusive)`);
  }
}

export function subscriptionChangesRouter(deps: ApiDeps, config: ApiConfig): Router {
  const router = Router();

  /** Signals the workflow; a slow Temporal is a 503 the client can retry (a plan change with the same request_key records once). */
  async function signal(s: LoadedSubscription, message: SubscriptionMessage): Promise<SignaledSubscription> {
    const ref: SubscriptionRef = { organizationId: s.organizationId, subscriptionId: s.id, customerId: s.customerId };
    try {
      const signaled = await deps.temporal.withDeadline(Date.now() + config.temporalTimeoutMs, () => signalSubscription(deps.temporal, ref, message, deps.taskQueue));
      // Signal-with-start: the workflow exists now, if it did not.
      await markSubscriptionWorkflowsStarted(deps.prisma, [s.id]);
      return signaled;
    } catch (err) {
      if (isGrpcDeadlineError(err)) throw new ApiError(503, 'TEMPORAL_UNAVAILABLE', `Temporal did not answer in time; the request for subscription ${s.id} was not delivered, retry it`);
      if (err instanceof SubscriptionWorkflowEndedError) throw new ApiError(409, 'SUBSCRIPTION_WORKFLOW_ENDED', `Subscription ${s.id}: ${err.message}`, { workflow_id: err.workflowId });
      throw err;
    }
  }

  router.post('/:id/change-plan', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(IdParamsSchema, req.params, 'path');
    const body = parseOrThrow(ChangePlanRequestSchema, req.body, 'request');
    const subscription = await loadSubscription(deps, caller, id);
    if (subscription.status === 'canceled') throw new ApiError(409, 'SUBSCRIPTION_CANCELED', `Subscription ${id} is canceled; its plan cannot change`);

    const plan = await deps.prisma.plan.findUnique({ where: { organizationId_key: { organizationId: caller.organizationId, key: body.plan } } });
    if (!plan) throw fieldError('plan', `no such plan (${body.plan})`);
    if (!plan.active) throw fieldError('plan', `the plan is inactive (${body.plan})`);
    if (plan.currency !== subscription.plan.currency) {
      throw fieldError('plan', `the plan bills in ${plan.currency} but the subscription's plan ${subscription.plan.key} bills in ${subscription.plan.currency} (${body.plan})`);
    }
    const now = new Date();
    const effectiveAt = body.effective_at ?? now;
    requireInPeriod('effective_at', effectiveAt, subscription, currentPeriod(subscription, now));

    const requestedBy: Requester = { type: 'api_key', id: caller.apiKeyId };
    const requestKey = body.request_key ?? req.get('Idempotency-Key') ?? randomUUID();
    const signaled = await signal(subscription, { kind: 'changePlan', request: { planKey: plan.key, effectiveAt: effectiveAt.toISOString(), requestKey, requestedBy } });
    const accepted = { plan: plan.key, effective_at: effectiveAt.toISOString(), request_key: requestKey };
    // Written once the signal is delivered, so the trail never claims a request the workflow did not get.
    await writeAudit(deps.prisma, {
      organizationId: caller.organizationId,
      actor: apiKeyActor(caller),
      action: 'subscription.plan_change_requested',
      entityType: 'subscription',
      entityId: subscription.id,
      before: { plan: subscription.plan.key },
      after: { ...accepted, workflow_id: signaled.workflowId, run_id: signaled.runId },
    });
    res.status(202).json({ subscription_id: subscription.id, workflow_id: signaled.workflowId, accepted });
  });

  router.post('/:id/cancel', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(IdParamsSchema, req.params, 'path');
    const body = parseOrThrow(CancelRequestSchema, req.body ?? {}, 'request');
    const subscription = await loadSubscription(deps, caller, id);
    if (subscription.status === 'canceled') throw new ApiError(409, 'ALREADY_CANCELED', `Subscription ${id} is already canceled`);

    const now = new Date();
    // Cancelling now sends the API's clock, not the workflow's, so what was validated and audited is what happens.
    const at = body.at_period_end ? null : (body.at ?? now);
    if (at) requireInPeriod('at', at, subscription, currentPeriod(subscription, now));

    const requestedBy: Requester = { type: 'api_key', id: caller.apiKeyId };
    const signaled = await signal(subscription, {
      kind: 'cancel',
      request: { atPeriodEnd: body.at_period_end, ...(at ? { at: at.toISOString() } : {}), requestedBy },
    });
    const accepted = { at_period_end: body.at_period_end, at: at?.toISOString() ?? null };
    await writeAudit(deps.prisma, {
      organizationId: caller.organizationId,
      actor: apiKeyActor(caller),
      action: 'subscription.cancel_requested',
      entityType: 'subscription',
      entityId: subscription.id,
      before: { status: subscription.status, cancel_at_period_end: subscription.cancelAtPeriodEnd },
      after: { ...accepted, workflow_id: signaled.workflowId, run_id: signaled.runId },
    });
    res.status(202).json({ subscription_id: subscription.id, workflow_id: signaled.workflowId, accepted });
  });

  return router;
}

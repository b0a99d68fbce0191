import { Router } from 'express';
import { monthIndex, periodContaining, type BillingPeriod } from '../../billing/billing-period';
import { dec, toPlainString } from '../../billing/decimal';
import { writeAudit } from '../../prisma/audit';
import type { SubscriptionModel } from '../../prisma/client';
import { subscriptionWorkflowId } from '../../temporal/names';
import { markSubscriptionWorkflowsStarted, startSubscriptionWorkflow } from '../../temporal/subscriptions';
import { callerOf } from '../auth';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { IdParamsSchema, SubscriptionCreateSchema, SubscriptionListQuerySchema, SubscriptionPatchSchema, SubscriptionQuerySchema } from '../schemas/catalog';
import { parseOrThrow, type FieldProblem } from '../validation';
import { apiKeyActor, page, UUID } from './catalog-common';
import { ensureCustomer } from './customers';

type SubscriptionRow = SubscriptionModel & { customer: { externalId: string }; plan: { key: string; interval: 'month' | 'quarter' | 'year' } };

const related = { customer: { select: { externalId: true } }, plan: { select: { key: true, interval: true } } };

/** The grid period containing `at`; before the start, the first period. Periods align to the start month. */
function currentPeriod(s: SubscriptionRow, at: Date): BillingPeriod | null {
  if (s.status === 'canceled') return null;
  const when = at < s.startDate ? s.startDate : at;
  return periodContaining(when, s.billingAnchorDay, s.plan.interval, monthIndex(s.startDate));
}

function subscriptionJson(s: SubscriptionRow, at: Date) {
  const period = currentPeriod(s, at);
  return {
    id: s.id,
    customer_id: s.customerId,
    customer_external_id: s.customer.externalId,
    plan: s.plan.key,
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

/** The organization's subscription, or a 404 (another organization's is indistinguishable from a missing one). */
async function findSubscription(db: Pick<ApiDeps['prisma'], 'subscription'>, organizationId: string, id: string): Promise<SubscriptionRow> {
  const subscription = UUID.test(id) ? await db.subscription.findFirst({ where: { id, organizationId }, include: related }) : null;
  if (!subscription) throw new ApiError(404, 'NOT_FOUND', `No subscription ${id}`);
  return subscription;
}

function invalidPlan(key: string, why: string): ApiError {
  const problem: FieldProblem = { code: 'INVALID_VALUE', field: 'plan', message: `plan: ${why} (${key})` };
  return new ApiError(400, 'VALIDATION_ERROR', `Invalid request: ${problem.message}`, { field: 'plan', issues: [problem] });
}

/**
 * Starts the new subscription's workflow once the subscription is committed.
 * The subscription is the system of record: if Temporal is slow or down the
 * request still succeeds, says the start is pending, and the sweeper
 * schedule (and `npm start`'s startup sweep) starts it later under the same id.
 */
async function startWorkflow(deps: ApiDeps, config: ApiConfig, s: SubscriptionRow): Promise<'started' | 'pending'> {
  try {
    await deps.temporal.withDeadline(Date.now() + config.temporalTimeoutMs, () =>
      startSubscriptionWorkflow(deps.temporal, { organizationId: s.organizationId, subscriptionId: s.id, customerId: s.customerId }, deps.taskQueue),
    );
    await markSubscriptionWorkflowsStarted(deps.prisma, [s.id]);
    return 'started';
  } catch (err) {
    config.log(`could not start the workflow of subscription ${s.id}; the sweeper will start it`, err);
    return 'pending';
  }
}

export function subscriptionsRouter(deps: ApiDeps, config: ApiConfig): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(SubscriptionCreateSchema, req.body, 'request');
    const organizationId = caller.organizationId;
    const plan = await deps.prisma.plan.findUnique({ where: { organizationId_key: { organizationId, key: body.plan } } });
    if (!plan) throw invalidPlan(body.plan, 'no such plan');
    if (!plan.active) throw invalidPlan(body.plan, 'the plan is inactive');
    const subscription = await deps.prisma.$transaction(async (tx) => {
      const actor = apiKeyActor(caller);
      const { customer } = await ensureCustomer(tx, organizationId, actor, { external_id: body.customer_external_id });
      const created = await tx.subscription.create({
        data: {
          organizationId,
          customerId: customer.id,
          planId: plan.id,
          startDate: body.start_date,
          billingAnchorDay: body.billing_anchor_day ?? body.start_date.getUTCDate(),
          contractedBaseFee: body.contracted_base_fee === undefined ? null : toPlainString(body.contracted_base_fee),
        },
        include: related,
      });
      await writeAudit(tx, { organizationId, actor, action: 'subscription.created', entityType: 'subscription', entityId: created.id, after: subscriptionJson(created, created.createdAt) });
      return created;
    });
    const workflow = await startWorkflow(deps, config, subscription);
    res.status(201).json({ ...subscriptionJson(subscription, new Date()), workflow_id: subscriptionWorkflowId(subscription.id), workflow_start: workflow });
  });

  router.get('/', async (req, res) => {
    const caller = callerOf(req);
    const query = parseOrThrow(SubscriptionListQuerySchema, req.query, 'query');
    const rows = await deps.prisma.subscription.findMany({
      where: {
        organizationId: caller.organizationId,
        ...(query.customer ? { customer: { externalId: query.customer } } : {}),
        ...(query.after ? { id: { gt: query.after } } : {}),
      },
      orderBy: { id: 'asc' },
      take: query.limit + 1,
      include: related,
    });
    const { data, has_more } = page(rows, query.limit);
    const at = query.at ?? new Date();
    res.json({ data: data.map((s) => subscriptionJson(s, at)), has_more });
  });

  router.get('/:id', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(IdParamsSchema, req.params, 'path');
    const query = parseOrThrow(SubscriptionQuerySchema, req.query, 'query');
    const subscription = await findSubscription(deps.prisma, caller.organizationId, id);
    res.json(subscriptionJson(subscription, query.at ?? new Date()));
  });

  // The contracted base fee is what reconciliation expects a renewal to bill (renewal drift); the plan still prices invoices.
  router.patch('/:id', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(IdParamsSchema, req.params, 'path');
    const body = parseOrThrow(SubscriptionPatchSchema, req.body, 'request');
    const subscription = await deps.prisma.$transaction(async (tx) => {
      const before = await findSubscription(tx, caller.organizationId, id);
      const after = await tx.subscription.update({
        where: { id },
        data: { contractedBaseFee: body.contracted_base_fee === null ? null : toPlainString(body.contracted_base_fee) },
        include: related,
      });
      await writeAudit(tx, {
        organizationId: caller.organizationId,
        actor: apiKeyActor(caller),
        action: 'subscription.updated',
        entityType: 'subscription',
        entityId: id,
        before: { contracted_base_fee: subscriptionJson(before, before.createdAt).contracted_base_fee },
        after: { contracted_base_fee: subscriptionJson(after, after.createdAt).contracted_base_fee },
      });
      return after;
    });
    res.json(subscriptionJson(subscription, new Date()));
  });

  return router;
}

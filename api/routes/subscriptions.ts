import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { toPlainString } from '../../billing/decimal';
import {
  createSubscription,
  findSubscription,
  listSubscriptions,
  previewCancel,
  previewPlanChange,
  requestCancel,
  requestPlanChange,
  setContractedBaseFee,
  subscriptionJson,
  type SubscriptionServiceDeps,
} from '../../services/subscriptions';
import { DomainError } from '../../services/errors';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { route, type RouteTable } from '../route-table';
import {
  IdParamsSchema,
  listOf,
  SubscriptionCreatedSchema,
  SubscriptionCreateSchema,
  SubscriptionListQuerySchema,
  SubscriptionPatchSchema,
  SubscriptionQuerySchema,
  SubscriptionSchema,
} from '../../services/schemas/catalog';
import { CancelRequestSchema, ChangePlanRequestSchema, PlanChangePreviewRequestSchema, ProrationPreviewSchema, SubscriptionChangeAcceptedSchema } from '../schemas/invoices';
import { apiKeyActor } from './catalog-common';

function serviceDeps(deps: ApiDeps, config: Pick<ApiConfig, 'temporalTimeoutMs' | 'log'>): SubscriptionServiceDeps {
  return { prisma: deps.prisma, temporal: deps.temporal, taskQueue: deps.taskQueue, temporalTimeoutMs: config.temporalTimeoutMs, log: config.log };
}

const notFound = { '404': 'No such subscription in your organization' };

/** The Idempotency-Key header, held to request_key's rules (1–255 characters). */
function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.length < 1 || header.length > 255) throw new DomainError('invalid', 'VALIDATION_ERROR', 'Idempotency-Key: must be 1 to 255 characters', 'Idempotency-Key');
  return header;
}
const notDelivered = { '503': 'Temporal did not answer; nothing was delivered' };

/**
 * Subscriptions (services/subscriptions.ts): create, list, read, the
 * contracted base fee; plan changes and cancellations, requests to the
 * subscription's workflow answered 202, and their previews.
 */
export const subscriptionRoutes: RouteTable = {
  mount: '/subscriptions',
  routes: [
    route({
      method: 'post',
      path: '',
      summary: 'Subscribe a customer to a plan',
      description:
        "The customer is created if missing. billing_anchor_day defaults to the start date's day. Starts the subscription's workflow subscription:<id>, which snapshots usage daily and bills each period.",
      body: SubscriptionCreateSchema,
      ok: { status: 201, description: 'Created, with its current billing period and whether its workflow started', schema: SubscriptionCreatedSchema },
      handle: (deps, { caller, body, config }) =>
        createSubscription(serviceDeps(deps, config), caller.organizationId, { ...body, contracted_base_fee: body.contracted_base_fee === undefined ? undefined : toPlainString(body.contracted_base_fee) }, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '',
      summary: 'List subscriptions, optionally of one customer',
      query: SubscriptionListQuerySchema,
      ok: { description: 'One page of subscriptions', schema: listOf(SubscriptionSchema, 'SubscriptionList') },
      handle: (deps, { caller, query }) => listSubscriptions(deps.prisma, caller.organizationId, query),
    }),
    route({
      method: 'get',
      path: '/{id}',
      summary: 'A subscription and its current billing period',
      params: IdParamsSchema,
      query: SubscriptionQuerySchema,
      ok: { description: 'The subscription', schema: SubscriptionSchema },
      errors: notFound,
      handle: async (deps, { caller, params, query }) => subscriptionJson(await findSubscription(deps.prisma, caller.organizationId, params.id), query.at ?? new Date()),
    }),
    route({
      method: 'patch',
      path: '/{id}',
      summary: 'Set or clear the contracted base fee',
      description:
        "What the contract says the subscription pays per interval. Invoices still charge the plan's base fee; a renewal billed below the contracted fee is reported as renewal drift.",
      params: IdParamsSchema,
      body: SubscriptionPatchSchema,
      ok: { description: 'The subscription', schema: SubscriptionSchema },
      errors: notFound,
      handle: (deps, { caller, params, body }) =>
        setContractedBaseFee(deps.prisma, caller.organizationId, params.id, body.contracted_base_fee === null ? null : toPlainString(body.contracted_base_fee), apiKeyActor(caller)),
    }),
    route({
      method: 'post',
      path: '/{id}/change-plan',
      summary: 'Change the plan (or move to another version of it), now, at an instant of the period, or at the period end',
      description:
        "Signals the subscription's workflow (subscription:<id>, started if it is not running), which records the change and prorates the base fee around effective_at. The plan version (default the plan's newest) must be active, in the same currency, and not the one in effect at effective_at; effective_at must fall in the current period, after any change already recorded. With at_period_end the change takes effect when the period ends: nothing is prorated and the next period bills the new plan. The subscription's own plan key with a newer version is how a subscription moves to a plan's new prices. A request sent again with its request_key is delivered again and recorded once.",
      params: IdParamsSchema,
      headers: z.object({ 'Idempotency-Key': z.string().min(1).max(255).optional().meta({ description: 'Default request_key' }) }),
      body: ChangePlanRequestSchema,
      ok: { status: 202, description: "Delivered to the subscription's workflow", schema: SubscriptionChangeAcceptedSchema },
      errors: {
        ...notFound,
        '409': 'SUBSCRIPTION_CANCELED: the subscription is canceled; SUBSCRIPTION_CANCELING: at_period_end on a subscription that ends with the period; PLAN_CHANGE_SCHEDULED: a change already recorded takes effect after effective_at (a change must come after it); REQUEST_KEY_REUSED: the request_key named another change; SUBSCRIPTION_WORKFLOW_ENDED: its workflow ran and ended (ops reset it to resume it)',
        ...notDelivered,
      },
      handle: (deps, { caller, params, body, req, config }) => {
        // The header is checked even when request_key overrides it: a malformed one is the client's mistake either way.
        const headerKey = idempotencyKey(req.get('Idempotency-Key'));
        return requestPlanChange(
          serviceDeps(deps, config),
          caller.organizationId,
          params.id,
          { plan: body.plan, plan_version: body.plan_version, effective_at: body.effective_at, at_period_end: body.at_period_end, request_key: body.request_key ?? headerKey ?? randomUUID() },
          { type: 'api_key', id: caller.apiKeyId },
          apiKeyActor(caller),
        );
      },
    }),
    // Previews: what the request would prorate, checked as it would be; nothing is sent or stored.
    route({
      method: 'post',
      path: '/{id}/change-plan/preview',
      summary: "Preview a plan change: what this period's invoice will credit and charge for the base fee",
      description: 'Checked as POST /change-plan would check it (active plan version, same currency, effective_at in the current period, default now, or the period end); nothing is sent or stored.',
      params: IdParamsSchema,
      body: PlanChangePreviewRequestSchema,
      ok: { description: 'The proration', schema: ProrationPreviewSchema },
      errors: { ...notFound, '409': 'SUBSCRIPTION_CANCELED; SUBSCRIPTION_CANCELING (at_period_end on a subscription that ends with the period); or PLAN_CHANGE_SCHEDULED: a change already recorded takes effect after effective_at' },
      handle: (deps, { caller, params, body }) => previewPlanChange(deps.prisma, caller.organizationId, params.id, body),
    }),
    route({
      method: 'post',
      path: '/{id}/cancel/preview',
      summary: 'Preview a cancellation: the unused base fee credited when cancelling now (nothing at the period end)',
      params: IdParamsSchema,
      body: CancelRequestSchema,
      bodyOptional: true,
      ok: { description: 'The proration', schema: ProrationPreviewSchema },
      errors: { ...notFound, '409': 'ALREADY_CANCELED' },
      handle: (deps, { caller, params, body }) => previewCancel(deps.prisma, caller.organizationId, params.id, body),
    }),
    route({
      method: 'post',
      path: '/{id}/cancel',
      summary: 'Cancel at the period end, or now',
      description: "Signals the subscription's workflow (started if it is not running). Cancelling now credits the unused part of the base fee.",
      params: IdParamsSchema,
      body: CancelRequestSchema,
      bodyOptional: true,
      ok: { status: 202, description: "Delivered to the subscription's workflow", schema: SubscriptionChangeAcceptedSchema },
      errors: { ...notFound, '409': 'Already canceled; or SUBSCRIPTION_WORKFLOW_ENDED: its workflow ran and ended (ops reset it to resume it)', ...notDelivered },
      handle: (deps, { caller, params, body, config }) => requestCancel(serviceDeps(deps, config), caller.organizationId, params.id, body, { type: 'api_key', id: caller.apiKeyId }, apiKeyActor(caller)),
    }),
  ],
};

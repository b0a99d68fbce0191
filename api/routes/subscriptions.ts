import { Router } from 'express';
import { toPlainString } from '../../billing/decimal';
import { createSubscription, findSubscription, listSubscriptions, setContractedBaseFee, subscriptionJson, type SubscriptionServiceDeps } from '../../services/subscriptions';
import { callerOf } from '../auth';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { IdParamsSchema, SubscriptionCreateSchema, SubscriptionListQuerySchema, SubscriptionPatchSchema, SubscriptionQuerySchema } from '../schemas/catalog';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';

export function subscriptionServiceDeps(deps: ApiDeps, config: Pick<ApiConfig, 'temporalTimeoutMs' | 'log'>): SubscriptionServiceDeps {
  return { prisma: deps.prisma, temporal: deps.temporal, taskQueue: deps.taskQueue, temporalTimeoutMs: config.temporalTimeoutMs, log: config.log };
}

/** Subscriptions (services/subscriptions.ts): create, list, read, and the contracted base fee. */
export function subscriptionsRouter(deps: ApiDeps, config: ApiConfig): Router {
  const router = Router();
  const service = subscriptionServiceDeps(deps, config);

  router.post('/', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(SubscriptionCreateSchema, req.body, 'request');
    const input = { ...body, contracted_base_fee: body.contracted_base_fee === undefined ? undefined : toPlainString(body.contracted_base_fee) };
    res.status(201).json(await createSubscription(service, caller.organizationId, input, apiKeyActor(caller)));
  });

  router.get('/', async (req, res) => {
    const caller = callerOf(req);
    const query = parseOrThrow(SubscriptionListQuerySchema, req.query, 'query');
    res.json(await listSubscriptions(deps.prisma, caller.organizationId, query));
  });

  router.get('/:id', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(IdParamsSchema, req.params, 'path');
    const query = parseOrThrow(SubscriptionQuerySchema, req.query, 'query');
    res.json(subscriptionJson(await findSubscription(deps.prisma, caller.organizationId, id), query.at ?? new Date()));
  });

  router.patch('/:id', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(IdParamsSchema, req.params, 'path');
    const body = parseOrThrow(SubscriptionPatchSchema, req.body, 'request');
    res.json(await setContractedBaseFee(deps.prisma, caller.organizationId, id, body.contracted_base_fee === null ? null : toPlainString(body.contracted_base_fee), apiKeyActor(caller)));
  });

  return router;
}

import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { previewCancel, previewPlanChange, requestCancel, requestPlanChange } from '../../services/subscriptions';
import { callerOf } from '../auth';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { IdParamsSchema } from '../schemas/catalog';
import { CancelRequestSchema, ChangePlanRequestSchema, PlanChangePreviewRequestSchema } from '../schemas/invoices';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';
import { subscriptionServiceDeps } from './subscriptions';

/** Plan changes and cancellations (services/subscriptions.ts): requests to the subscription's workflow, answered 202. */
export function subscriptionChangesRouter(deps: ApiDeps, config: ApiConfig): Router {
  const router = Router();
  const service = subscriptionServiceDeps(deps, config);

  router.post('/:id/change-plan', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(IdParamsSchema, req.params, 'path');
    const body = parseOrThrow(ChangePlanRequestSchema, req.body, 'request');
    const requestKey = body.request_key ?? req.get('Idempotency-Key') ?? randomUUID();
    res.status(202).json(await requestPlanChange(service, caller.organizationId, id, { plan: body.plan, effective_at: body.effective_at, request_key: requestKey }, { type: 'api_key', id: caller.apiKeyId }, apiKeyActor(caller)));
  });

  // Previews: what the request would prorate, checked as it would be; nothing is sent or stored.
  router.post('/:id/change-plan/preview', async (req, res) => {
    const { id } = parseOrThrow(IdParamsSchema, req.params, 'path');
    const body = parseOrThrow(PlanChangePreviewRequestSchema, req.body, 'request');
    res.json(await previewPlanChange(deps.prisma, callerOf(req).organizationId, id, body));
  });

  router.post('/:id/cancel/preview', async (req, res) => {
    const { id } = parseOrThrow(IdParamsSchema, req.params, 'path');
    const body = parseOrThrow(CancelRequestSchema, req.body ?? {}, 'request');
    res.json(await previewCancel(deps.prisma, callerOf(req).organizationId, id, body));
  });

  router.post('/:id/cancel', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(IdParamsSchema, req.params, 'path');
    const body = parseOrThrow(CancelRequestSchema, req.body ?? {}, 'request');
    res.status(202).json(await requestCancel(service, caller.organizationId, id, body, { type: 'api_key', id: caller.apiKeyId }, apiKeyActor(caller)));
  });

  return router;
}

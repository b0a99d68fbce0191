import { Router } from 'express';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookDelivery,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  redeliverWebhook,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  WebhookDeliveryListQuerySchema,
  webhookEndpointSchemas,
  webhookEventTypes,
} from '../../services/webhook-endpoints';
import { callerOf } from '../auth';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';

/** The organization's outbound webhook endpoints (services/webhook-endpoints.ts); admin keys only. */
export function webhookEndpointsRouter(deps: ApiDeps, config: Pick<ApiConfig, 'outbound'>): Router {
  const router = Router();
  const schemas = webhookEndpointSchemas(config.outbound);

  router.get('/', async (req, res) => {
    res.json(await listWebhookEndpoints(deps.prisma, callerOf(req).organizationId));
  });

  router.post('/', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(schemas.create, req.body, 'request');
    res.status(201).json(await createWebhookEndpoint(deps.prisma, caller.organizationId, body, apiKeyActor(caller)));
  });

  router.get('/:id', async (req, res) => {
    res.json(await getWebhookEndpoint(deps.prisma, callerOf(req).organizationId, req.params.id));
  });

  router.patch('/:id', async (req, res) => {
    const caller = callerOf(req);
    const patch = parseOrThrow(schemas.patch, req.body, 'request');
    res.json(await updateWebhookEndpoint(deps.prisma, caller.organizationId, req.params.id, patch, apiKeyActor(caller)));
  });

  router.delete('/:id', async (req, res) => {
    const caller = callerOf(req);
    res.json(await deleteWebhookEndpoint(deps.prisma, caller.organizationId, req.params.id, apiKeyActor(caller)));
  });

  router.post('/:id/rotate-secret', async (req, res) => {
    const caller = callerOf(req);
    res.json(await rotateWebhookSecret(deps.prisma, caller.organizationId, req.params.id, apiKeyActor(caller)));
  });

  return router;
}

/** The delivery log and redelivery. */
export function webhookDeliveriesRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const query = parseOrThrow(WebhookDeliveryListQuerySchema, req.query, 'query');
    res.json(await listWebhookDeliveries(deps.prisma, callerOf(req).organizationId, query));
  });

  router.get('/:id', async (req, res) => {
    res.json(await getWebhookDelivery(deps.prisma, callerOf(req).organizationId, req.params.id));
  });

  router.post('/:id/redeliver', async (req, res) => {
    const caller = callerOf(req);
    res.status(202).json(await redeliverWebhook(deps.prisma, caller.organizationId, req.params.id, apiKeyActor(caller)));
  });

  return router;
}

export function webhookEventTypesRouter(): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    res.json(webhookEventTypes());
  });
  return router;
}

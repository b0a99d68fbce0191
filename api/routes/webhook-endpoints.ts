import { z } from 'zod';
import { WEBHOOK_MAX_ATTEMPTS } from '../../billing/webhooks';
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
  WebhookDeliveryDetailSchema,
  WebhookDeliveryListQuerySchema,
  WebhookDeliveryListSchema,
  WebhookDeliveryParamsSchema,
  WebhookDeliverySchema,
  WebhookEndpointCreateSchema,
  WebhookEndpointParamsSchema,
  WebhookEndpointPatchSchema,
  webhookEndpointSchemas,
  WebhookEndpointSchema,
  WebhookEndpointWithSecretSchema,
  webhookEventTypes,
  WebhookEventTypesSchema,
} from '../../services/webhook-endpoints';
import { route, type RouteTable } from '../route-table';
import { apiKeyActor } from './catalog-common';

/*
 * The organization's outbound webhook endpoints and their delivery log
 * (services/webhook-endpoints.ts); admin keys only (prisma/api-scopes.ts).
 */

const SIGNING =
  'Each delivery is a POST of `{"type", "timestamp", "data"}` signed per Standard Webhooks (https://www.standardwebhooks.com): headers webhook-id (the event id: the same on every attempt, drop repeats by it), webhook-timestamp (Unix seconds of the attempt) and webhook-signature (`v1,` base64 HMAC-SHA256 of `id.timestamp.body` under the endpoint secret). Any Standard Webhooks library verifies it.';
const endpointNotFound = { '404': 'No such endpoint in your organization' };
const deliveryNotFound = { '404': 'No such delivery in your organization' };

export const webhookEndpointRoutes: RouteTable = {
  mount: '/webhook-endpoints',
  routes: [
    route({
      method: 'get',
      path: '',
      summary: "Your organization's outbound webhook endpoints (never their secrets)",
      ok: { description: 'The endpoints, oldest first', schema: z.object({ data: z.array(WebhookEndpointSchema) }).meta({ id: 'WebhookEndpointList' }) },
      handle: (deps, { caller }) => listWebhookEndpoints(deps.prisma, caller.organizationId),
    }),
    route({
      method: 'post',
      path: '',
      summary: 'Add an endpoint that receives invoice, quota, leak and margin events',
      description: `${SIGNING} A 2xx within 15 s is delivered; anything else is tried again, ${WEBHOOK_MAX_ATTEMPTS} attempts over about 27 hours, then the delivery is failed and can be redelivered. Audited (webhook_endpoint.created).`,
      body: WebhookEndpointCreateSchema,
      bodyFor: (config) => webhookEndpointSchemas(config.outbound).create,
      ok: { status: 201, description: 'Created, with its signing secret (shown this once)', schema: WebhookEndpointWithSecretSchema },
      errors: { '409': 'The organization has the most endpoints it may have' },
      handle: (deps, { caller, body }) => createWebhookEndpoint(deps.prisma, caller.organizationId, body, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '/{id}',
      summary: 'An endpoint',
      params: WebhookEndpointParamsSchema,
      ok: { description: 'The endpoint', schema: WebhookEndpointSchema },
      errors: endpointNotFound,
      handle: (deps, { caller, params }) => getWebhookEndpoint(deps.prisma, caller.organizationId, params.id),
    }),
    route({
      method: 'patch',
      path: '/{id}',
      summary: "Change an endpoint's URL, description, event types, or switch it off and on",
      description:
        'Event types and enabled apply to events emitted from now on; a new URL applies to every attempt from now on, retries of pending deliveries included (each attempt records the URL it went to). Disabling stops pending retries at their next attempt. Audited (webhook_endpoint.updated, before and after).',
      params: WebhookEndpointParamsSchema,
      body: WebhookEndpointPatchSchema,
      bodyFor: (config) => webhookEndpointSchemas(config.outbound).patch,
      ok: { description: 'The endpoint as changed', schema: WebhookEndpointSchema },
      errors: endpointNotFound,
      handle: (deps, { caller, params, body }) => updateWebhookEndpoint(deps.prisma, caller.organizationId, params.id, body, apiKeyActor(caller)),
    }),
    route({
      method: 'delete',
      path: '/{id}',
      summary: 'Remove an endpoint and its delivery log',
      params: WebhookEndpointParamsSchema,
      ok: { description: 'The endpoint as it was', schema: WebhookEndpointSchema },
      errors: endpointNotFound,
      handle: (deps, { caller, params }) => deleteWebhookEndpoint(deps.prisma, caller.organizationId, params.id, apiKeyActor(caller)),
    }),
    route({
      method: 'post',
      path: '/{id}/rotate-secret',
      summary: "Replace an endpoint's signing secret",
      description: 'The old secret stops signing at once; the new one is in the answer, this once. Audited (webhook_endpoint.secret_rotated).',
      params: WebhookEndpointParamsSchema,
      ok: { description: 'The endpoint with its new secret', schema: WebhookEndpointWithSecretSchema },
      errors: endpointNotFound,
      handle: (deps, { caller, params }) => rotateWebhookSecret(deps.prisma, caller.organizationId, params.id, apiKeyActor(caller)),
    }),
  ],
};

export const webhookDeliveryRoutes: RouteTable = {
  mount: '/webhook-deliveries',
  routes: [
    route({
      method: 'get',
      path: '',
      summary: 'The delivery log, newest first',
      query: WebhookDeliveryListQuerySchema,
      ok: { description: 'One page of deliveries', schema: WebhookDeliveryListSchema },
      handle: (deps, { caller, query }) => listWebhookDeliveries(deps.prisma, caller.organizationId, query),
    }),
    route({
      method: 'get',
      path: '/{id}',
      summary: 'A delivery with every attempt and the body it sends',
      params: WebhookDeliveryParamsSchema,
      ok: { description: 'The delivery', schema: WebhookDeliveryDetailSchema },
      errors: deliveryNotFound,
      handle: (deps, { caller, params }) => getWebhookDelivery(deps.prisma, caller.organizationId, params.id),
    }),
    route({
      method: 'post',
      path: '/{id}/redeliver',
      summary: 'Send a finished delivery again',
      description: 'A new round of attempts with the same event id and body, on the same retry schedule. Audited (webhook_delivery.redelivered).',
      params: WebhookDeliveryParamsSchema,
      ok: { status: 202, description: 'Accepted: the new round starts within seconds', schema: WebhookDeliverySchema },
      errors: { ...deliveryNotFound, '409': 'The delivery is still being tried, or its endpoint is disabled' },
      handle: (deps, { caller, params }) => redeliverWebhook(deps.prisma, caller.organizationId, params.id, apiKeyActor(caller)),
    }),
  ],
};

export const webhookEventTypeRoutes: RouteTable = {
  mount: '/webhook-event-types',
  routes: [
    route({
      method: 'get',
      path: '',
      summary: 'The event types an endpoint can receive',
      ok: { description: 'Every type with what it reports', schema: WebhookEventTypesSchema },
      handle: () => webhookEventTypes(),
    }),
  ],
};

import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { WEBHOOK_MAX_ATTEMPTS } from '../../billing/webhooks';
import {
  WebhookDeliveryDetailSchema,
  WebhookDeliveryListQuerySchema,
  WebhookDeliveryListSchema,
  WebhookDeliveryParamsSchema,
  WebhookDeliverySchema,
  WebhookEndpointCreateSchema,
  WebhookEndpointParamsSchema,
  WebhookEndpointPatchSchema,
  WebhookEndpointSchema,
  WebhookEndpointWithSecretSchema,
  WebhookEventTypesSchema,
} from '../../services/webhook-endpoints';
import { z } from 'zod';
import { errorContent, type Json, type Responses } from './common';

const endpointNotFound = { '404': { description: 'No such endpoint in your organization', content: errorContent } };
const deliveryNotFound = { '404': { description: 'No such delivery in your organization', content: errorContent } };

const SIGNING =
  'Each delivery is a POST of `{"type", "timestamp", "data"}` signed per Standard Webhooks (https://www.standardwebhooks.com): headers webhook-id (the event id: the same on every attempt, drop repeats by it), webhook-timestamp (Unix seconds of the attempt) and webhook-signature (`v1,` base64 HMAC-SHA256 of `id.timestamp.body` under the endpoint secret). Any Standard Webhooks library verifies it.';

export function webhookPaths(json: Json, responses: Responses): ZodOpenApiPathsObject {
  return {
    '/api/v1/webhook-endpoints': {
      get: {
        summary: 'Your organization\'s outbound webhook endpoints (never their secrets)',
        responses: responses({ status: '200', description: 'The endpoints, oldest first', schema: z.object({ data: z.array(WebhookEndpointSchema) }).meta({ id: 'WebhookEndpointList' }) }),
      },
      post: {
        summary: 'Add an endpoint that receives invoice, quota, leak and margin events',
        description: `${SIGNING} A 2xx within 15 s is delivered; anything else is tried again, ${WEBHOOK_MAX_ATTEMPTS} attempts over about 27 hours, then the delivery is failed and can be redelivered. Audited (webhook_endpoint.created).`,
        requestBody: { required: true, content: json(WebhookEndpointCreateSchema) },
        responses: responses({ status: '201', description: 'Created, with its signing secret (shown this once)', schema: WebhookEndpointWithSecretSchema }, { '409': { description: 'The organization has the most endpoints it may have', content: errorContent } }),
      },
    },
    '/api/v1/webhook-endpoints/{id}': {
      get: {
        summary: 'An endpoint',
        requestParams: { path: WebhookEndpointParamsSchema },
        responses: responses({ status: '200', description: 'The endpoint', schema: WebhookEndpointSchema }, endpointNotFound),
      },
      patch: {
        summary: 'Change an endpoint\'s URL, description, event types, or switch it off and on',
        description: 'Event types and enabled apply to events emitted from now on; a new URL applies to every attempt from now on, retries of pending deliveries included (each attempt records the URL it went to). Disabling stops pending retries at their next attempt. Audited (webhook_endpoint.updated, before and after).',
        requestParams: { path: WebhookEndpointParamsSchema },
        requestBody: { required: true, content: json(WebhookEndpointPatchSchema) },
        responses: responses({ status: '200', description: 'The endpoint as changed', schema: WebhookEndpointSchema }, endpointNotFound),
      },
      delete: {
        summary: 'Remove an endpoint and its delivery log',
        requestParams: { path: WebhookEndpointParamsSchema },
        responses: responses({ status: '200', description: 'The endpoint as it was', schema: WebhookEndpointSchema }, endpointNotFound),
      },
    },
    '/api/v1/webhook-endpoints/{id}/rotate-secret': {
      post: {
        summary: 'Replace an endpoint\'s signing secret',
        description: 'The old secret stops signing at once; the new one is in the answer, this once. Audited (webhook_endpoint.secret_rotated).',
        requestParams: { path: WebhookEndpointParamsSchema },
        responses: responses({ status: '200', description: 'The endpoint with its new secret', schema: WebhookEndpointWithSecretSchema }, endpointNotFound),
      },
    },
    '/api/v1/webhook-deliveries': {
      get: {
        summary: 'The delivery log, newest first',
        requestParams: { query: WebhookDeliveryListQuerySchema },
        responses: responses({ status: '200', description: 'One page of deliveries', schema: WebhookDeliveryListSchema }),
      },
    },
    '/api/v1/webhook-deliveries/{id}': {
      get: {
        summary: 'A delivery with every attempt and the body it sends',
        requestParams: { path: WebhookDeliveryParamsSchema },
        responses: responses({ status: '200', description: 'The delivery', schema: WebhookDeliveryDetailSchema }, deliveryNotFound),
      },
    },
    '/api/v1/webhook-deliveries/{id}/redeliver': {
      post: {
        summary: 'Send a finished delivery again',
        description: 'A new round of attempts with the same event id and body, on the same retry schedule. Audited (webhook_delivery.redelivered).',
        requestParams: { path: WebhookDeliveryParamsSchema },
        responses: responses({ status: '202', description: 'Accepted: the new round starts within seconds', schema: WebhookDeliverySchema }, { ...deliveryNotFound, '409': { description: 'The delivery is still being tried, or its endpoint is disabled', content: errorContent } }),
      },
    },
    '/api/v1/webhook-event-types': {
      get: {
        summary: 'The event types an endpoint can receive',
        responses: responses({ status: '200', description: 'Every type with what it reports', schema: WebhookEventTypesSchema }),
      },
    },
  };
}

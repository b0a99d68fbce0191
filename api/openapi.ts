import { z } from 'zod';
import { createDocument, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { scopesFor } from '../prisma/api-scopes';
import { tablePaths } from './route-table';
import { ROUTE_TABLES } from './route-tables';
import { commonErrorResponses, errorContent } from './schemas/common';
import {
  EventPageSchema,
  IngestRequestSchema,
  IngestResponseSchema,
  ListEventsQuerySchema,
  BacklogFullSchema,
  QuotaExceededSchema,
  ValidationRejectedSchema,
} from './schemas/events';
import {
  BatchParamsSchema,
  BatchSchema,
  HealthSchema,
  ReadySchema,
} from './schemas/other';
import { StripeEventSchema, StripeSignatureHeaderSchema, StripeWebhookResponseSchema } from './schemas/stripe-webhooks';

const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });

function responses(ok: { status: string; description: string; schema: z.ZodType }, extra: ZodOpenApiResponsesObject = {}): ZodOpenApiResponsesObject {
  return { [ok.status]: { description: ok.description, content: json(ok.schema) }, ...commonErrorResponses, ...extra };
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

/**
 * Each /api/v1 operation's security names the scopes that let a key through
 * (any one of them), from the same rule the API enforces (api/scopes.ts), so
 * the document cannot promise what the API refuses.
 */
function withScopes(paths: ZodOpenApiPathsObject): ZodOpenApiPathsObject {
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/api/v1/')) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const scopes = scopesFor(method, path.slice('/api/v1'.length));
      operation.security = scopes.map((scope) => ({ bearerAuth: [scope] }));
      const needs = `Needs an API key with the ${scopes.map((s) => `\`${s}\``).join(' or ')} scope.`;
      operation.description = operation.description ? `${operation.description}\n\n${needs}` : needs;
    }
  }
  return paths;
}

/**
 * The OpenAPI 3.1 document, generated from the zod schemas the routes
 * validate with, so the document cannot drift from the code.
 */
export function createOpenApiDocument(): ReturnType<typeof createDocument> {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Ledgerflow ingest API',
      version: '1.0.0',
      description: 'Usage events in, durable per-batch Temporal workflows out. Amounts are decimal strings.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An organization API key: Authorization: Bearer lf_…. Keys carry scopes (ingest, read, billing, admin; a new key is ingest only); ' +
            'a route the key lacks the scope for answers 403 INSUFFICIENT_SCOPE with details.required_scope (README, "API key scopes").',
        },
      },
    },
    paths: withScopes({
      '/api/v1/events': {
        post: {
          summary: 'Ingest one event or a batch of up to 1,000',
          description:
            'Each event is validated on its own; invalid ones are listed in `rejected` and the rest are accepted. A repeated idempotency_key is a duplicate and is stored once. ' +
            'The answer comes once the events are committed (requests arriving together share one transaction); no workflow is started on the request path. ' +
            'The worker gathers each organization\'s waiting events into processing batches of up to 1,000 events or ~250 ms of arrivals and rates each batch in one ' +
            '`ingest:<processing batch id>` workflow: follow `batch_id` with GET /api/v1/batches/{id} to its status, processing batch and workflow.',
          requestBody: { required: true, content: json(IngestRequestSchema) },
          responses: responses(
            { status: '202', description: 'Stored; GET /api/v1/batches/{batch_id} follows the events until they are rated', schema: IngestResponseSchema },
            {
              '400': {
                description: 'Every event was invalid, or the body is malformed',
                content: { 'application/json': { schema: z.union([ValidationRejectedSchema, z.looseObject({ error: z.string(), code: z.string() })]) } },
              },
              '403': {
                description: 'Every event is over a HARD quota, or INSUFFICIENT_SCOPE: the key lacks the ingest scope',
                content: { 'application/json': { schema: z.union([QuotaExceededSchema, z.looseObject({ error: z.string(), code: z.string() })]) } },
              },
              '503': {
                description:
                  'INGEST_BACKLOG_FULL: more of this organization\'s events wait to be rated, or its oldest has waited longer, than the deployment allows (INGEST_MAX_BACKLOG_EVENTS, INGEST_MAX_BACKLOG_AGE_SECONDS); or DATABASE_UNAVAILABLE. Nothing of the request was stored. Retry after the Retry-After header.',
                headers: z.object({ 'Retry-After': z.string().meta({ description: 'Seconds to wait' }) }),
                content: { 'application/json': { schema: z.union([BacklogFullSchema, z.looseObject({ error: z.string(), code: z.string() })]) } },
              },
            },
          ),
        },
        get: {
          summary: 'List stored events, newest first',
          requestParams: { query: ListEventsQuerySchema },
          responses: responses({ status: '200', description: 'One page of events', schema: EventPageSchema }),
        },
      },
      '/api/v1/batches/{id}': {
        get: {
          summary: 'A request\'s events: stored counts, how many are rated, and the processing batch and workflow rating them',
          requestParams: { path: BatchParamsSchema },
          responses: responses(
            { status: '200', description: 'The batch', schema: BatchSchema },
            { '404': { description: 'No such batch in your organization', content: errorContent } },
          ),
        },
      },
      ...tablePaths(ROUTE_TABLES, json, responses),
      '/webhooks/stripe': {
        post: {
          summary: 'Stripe webhook endpoint',
          description:
            'Verified by the Stripe-Signature header over the raw body (no API key). Every event is stored once by id; a repeated delivery answers duplicate: true and does nothing again. Invoice payment events signal the invoice\'s billing run.',
          security: [],
          requestParams: { header: StripeSignatureHeaderSchema },
          requestBody: { required: true, content: json(StripeEventSchema) },
          responses: {
            '200': { description: 'Received (or already received)', content: json(StripeWebhookResponseSchema) },
            '400': { description: 'Missing or forged Stripe-Signature (INVALID_SIGNATURE), or a body that is not JSON', content: errorContent },
            '415': { description: 'Content-Type is not application/json', content: errorContent },
            '503': { description: 'Webhook secret not configured (WEBHOOK_NOT_CONFIGURED) or Temporal unreachable (TEMPORAL_UNAVAILABLE); Stripe retries', content: errorContent },
          },
        },
      },
      '/webhooks/stripe/{organizationId}': {
        post: {
          summary: 'An organization\'s own Stripe webhook endpoint',
          description:
            'As /webhooks/stripe, but verified with the organization\'s stripe_webhook_secret (stored encrypted; PATCH /api/v1/settings/alerts), and every event belongs to that organization: a payment event about another organization\'s invoice is stored as invoice_not_found.',
          security: [],
          requestParams: { path: z.object({ organizationId: z.uuid() }), header: StripeSignatureHeaderSchema },
          requestBody: { required: true, content: json(StripeEventSchema) },
          responses: {
            '200': { description: 'Received (or already received)', content: json(StripeWebhookResponseSchema) },
            '400': { description: 'Missing or forged Stripe-Signature (INVALID_SIGNATURE), or a body that is not JSON', content: errorContent },
            '404': { description: 'No such organization, or it has no stripe_webhook_secret', content: errorContent },
            '415': { description: 'Content-Type is not application/json', content: errorContent },
            '503': { description: 'The stored secret does not open with LEDGERFLOW_SECRET_KEY (WEBHOOK_SECRET_UNREADABLE), or Temporal unreachable; Stripe retries', content: errorContent },
          },
        },
      },
      '/health': {
        get: { summary: 'Process is up', security: [], responses: { '200': { description: 'Up', content: json(HealthSchema) } } },
      },
      '/ready': {
        get: {
          summary: 'Database and Temporal reachable, with the ingest backlog',
          security: [],
          responses: {
            '200': { description: 'Ready', content: json(ReadySchema) },
            '503': { description: 'Not ready; checks say which dependency failed', content: json(ReadySchema) },
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics of this API process: the ingest backlog, events by outcome, group-commit transactions',
          security: [],
          responses: { '200': { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      '/api/openapi.json': {
        get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1 document' } } },
      },
    }),
  });
}

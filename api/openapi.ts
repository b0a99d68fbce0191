import { z } from 'zod';
import { createDocument, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { scopesFor } from '../prisma/api-scopes';
import { tablePaths } from './route-table';
import { ROUTE_TABLES } from './route-tables';
import { commonErrorResponses, errorContent } from './schemas/common';
import { HealthSchema, ReadySchema } from './schemas/other';
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
            'An organization API key: Authorization: Bearer lf_…. Keys carry scopes (ingest, read, billing, admin, proxy; a new key is ingest only); ' +
            'a route the key lacks the scope for answers 403 INSUFFICIENT_SCOPE with details.required_scope (README, "API key scopes").',
        },
      },
    },
    paths: withScopes({
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

import { z } from 'zod';
import { createDocument, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { commonErrorResponses, errorContent } from './schemas/common';
import {
  EventPageSchema,
  IngestRequestSchema,
  IngestResponseSchema,
  ListEventsQuerySchema,
  QuotaExceededSchema,
  ValidationRejectedSchema,
} from './schemas/events';
import {
  BatchParamsSchema,
  BatchSchema,
  EntitlementRequestSchema,
  EntitlementResponseSchema,
  HealthSchema,
  RatingRequestSchema,
  RatingResponseSchema,
} from './schemas/other';
import { PriceQuoteRequestSchema, PriceQuoteResponseSchema, ProrationQuoteRequestSchema, ProrationQuoteResponseSchema } from './schemas/quotes';

const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });

function responses(ok: { status: string; description: string; schema: z.ZodType }, extra: ZodOpenApiResponsesObject = {}): ZodOpenApiResponsesObject {
  return { [ok.status]: { description: ok.description, content: json(ok.schema) }, ...commonErrorResponses, ...extra };
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
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An organization API key: Authorization: Bearer lf_…' },
      },
    },
    paths: {
      '/api/v1/events': {
        post: {
          summary: 'Ingest one event or a batch of up to 1,000',
          description:
            'Each event is validated on its own; invalid ones are listed in `rejected` and the rest are accepted. A repeated idempotency_key is a duplicate and is stored once.',
          requestBody: { required: true, content: json(IngestRequestSchema) },
          responses: responses(
            { status: '202', description: 'Accepted; a workflow ingest:<batch_id> processes the batch', schema: IngestResponseSchema },
            {
              '400': {
                description: 'Every event was invalid, or the body is malformed',
                content: { 'application/json': { schema: z.union([ValidationRejectedSchema, z.looseObject({ error: z.string(), code: z.string() })]) } },
              },
              '403': { description: 'Every event is over a HARD quota', content: json(QuotaExceededSchema) },
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
          summary: 'A batch: stored counts and its workflow status',
          requestParams: { path: BatchParamsSchema },
          responses: responses(
            { status: '200', description: 'The batch', schema: BatchSchema },
            { '404': { description: 'No such batch in your organization', content: errorContent } },
          ),
        },
      },
      '/api/v1/rating/calculate': {
        post: {
          summary: 'Cost of token usage at the rate in effect now',
          requestBody: { required: true, content: json(RatingRequestSchema) },
          responses: responses(
            { status: '200', description: 'Exact cost and the rate used', schema: RatingResponseSchema },
            { '404': { description: 'No rate in effect for vendor/model', content: errorContent } },
          ),
        },
      },
      '/api/v1/entitlements/check': {
        post: {
          summary: 'Would this quantity be allowed now?',
          requestBody: { required: true, content: json(EntitlementRequestSchema) },
          responses: responses({ status: '200', description: 'The limit in effect and usage in its window', schema: EntitlementResponseSchema }),
        },
      },
      '/api/v1/quotes/price': {
        post: {
          summary: 'What a quantity costs under a price model, with its tier breakdown',
          description: 'Stateless. Each tier is rounded on its own (half away from zero, to the currency\'s minor unit) and amount is their sum.',
          requestBody: { required: true, content: json(PriceQuoteRequestSchema) },
          responses: responses({ status: '200', description: 'The amount and its tier breakdown', schema: PriceQuoteResponseSchema }),
        },
      },
      '/api/v1/quotes/proration': {
        post: {
          summary: 'What a mid-period plan change credits and charges',
          description:
            'Stateless. fraction = time from change_at (inclusive) to period_end (exclusive) ÷ the period; the credit for the old fee and the charge for the new one are each rounded on their own.',
          requestBody: { required: true, content: json(ProrationQuoteRequestSchema) },
          responses: responses({ status: '200', description: 'days_* in day mode, seconds_* in second mode', schema: ProrationQuoteResponseSchema }),
        },
      },
      '/health': {
        get: { summary: 'Process is up', security: [], responses: { '200': { description: 'Up', content: json(HealthSchema) } } },
      },
      '/ready': {
        get: {
          summary: 'Database and Temporal reachable',
          security: [],
          responses: {
            '200': { description: 'Ready', content: json(HealthSchema) },
            '503': { description: 'Not ready; checks say which dependency failed', content: json(HealthSchema) },
          },
        },
      },
      '/api/openapi.json': {
        get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1 document' } } },
      },
    },
  });
}

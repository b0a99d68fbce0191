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
  EntitlementRequestSchema,
  EntitlementResponseSchema,
  HealthSchema,
  ReadySchema,
  RatingRequestSchema,
  RatingResponseSchema,
} from './schemas/other';
import {
  AdjustRequestSchema,
  ApproveRequestSchema,
  DecisionResultSchema,
  InvoiceLineParamsSchema,
  InvoiceListQuerySchema,
  InvoicePageSchema,
  InvoiceParamsSchema,
  InvoiceSchema,
  LineEventPageSchema,
  LineEventsQuerySchema,
  RejectRequestSchema,
  RedraftRequestSchema,
  ReissuePendingSchema,
  CreditNoteAcceptedSchema,
  CreditNoteListSchema,
  CreditNoteRequestSchema,
  CreditNoteSchema,
  VoidRequestSchema,
  WriteOffRequestSchema,
} from './schemas/invoices';
import { PriceQuoteRequestSchema, PriceQuoteResponseSchema, ProrationQuoteRequestSchema, ProrationQuoteResponseSchema } from './schemas/quotes';
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
      '/api/v1/rating/calculate': {
        post: {
          summary: 'Cost of one usage line (tokens by kind, images, seconds, requests) at the rate in effect now',
          requestBody: { required: true, content: json(RatingRequestSchema) },
          responses: responses(
            { status: '200', description: 'Exact cost and the rate used', schema: RatingResponseSchema },
            { '404': { description: 'No rate in effect for vendor/model', content: errorContent } },
          ),
        },
      },
      '/api/v1/entitlements/check': {
        post: {
          summary: 'Would this quantity be allowed now: under a quota (event_type), or by the customer\'s plans (feature)?',
          description:
            'Send event_type or feature, one of them. A quota answer has the limit in effect and the usage in its window; a feature answer the deciding plan, the feature\'s kind and limit or value, and when refused the organization\'s other active plans in the customer\'s currencies that would grant it, cheapest first. A customer is on the plans its subscriptions are on now (a plan change or cancellation counts from when it takes effect). Either answer says why in words; with estimated_usage it also prices the call at the vendor rate in effect.',
          requestBody: { required: true, content: json(EntitlementRequestSchema) },
          responses: responses({ status: '200', description: 'Allowed or not, and why', schema: EntitlementResponseSchema }),
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
      '/api/v1/invoices': {
        get: {
          summary: 'List invoices, newest period first',
          requestParams: { query: InvoiceListQuerySchema },
          responses: responses({ status: '200', description: 'One page of invoices (without lines)', schema: InvoicePageSchema }),
        },
      },
      '/api/v1/invoices/{id}': {
        get: {
          summary: 'An invoice with its lines, the snapshots behind each line, and its audit history',
          requestParams: { path: InvoiceParamsSchema },
          responses: responses({ status: '200', description: 'The invoice', schema: InvoiceSchema }, { '404': { description: 'No such invoice in your organization', content: errorContent } }),
        },
      },
      '/api/v1/invoices/{id}/lines/{lineId}/events': {
        get: {
          summary: 'The usage events an invoice line billed, oldest first',
          requestParams: { path: InvoiceLineParamsSchema, query: LineEventsQuerySchema },
          responses: responses(
            { status: '200', description: 'One page of events', schema: LineEventPageSchema },
            { '404': { description: 'No such invoice in your organization, or the line is not one of its lines', content: errorContent } },
          ),
        },
      },
      '/api/v1/invoices/{id}/approve': {
        post: {
          summary: 'Approve a draft invoice',
          description: 'Sent as the `approve` Update to the invoice\'s billing run, which validates it against its state and answers with the result.',
          requestParams: { path: InvoiceParamsSchema },
          requestBody: { required: true, content: json(ApproveRequestSchema) },
          responses: responses(
            { status: '200', description: 'Applied by the billing run', schema: DecisionResultSchema },
            {
              '404': { description: 'No such invoice in your organization', content: errorContent },
              '409': { description: 'INVALID_STATE: the billing run refused it (e.g. already approved, or rejected); WORKFLOW_NOT_RUNNING: the run has ended', content: errorContent },
              '503': { description: 'The billing run did not answer in time; the decision may still apply', content: errorContent },
            },
          ),
        },
      },
      '/api/v1/invoices/{id}/adjust': {
        post: {
          summary: 'Add adjustment lines to a draft invoice',
          description: 'Sent as the `adjust` Update to the invoice\'s billing run, which validates it against its state and answers with the result.',
          requestParams: { path: InvoiceParamsSchema },
          requestBody: { required: true, content: json(AdjustRequestSchema) },
          responses: responses(
            { status: '200', description: 'Applied by the billing run', schema: DecisionResultSchema },
            {
              '404': { description: 'No such invoice in your organization', content: errorContent },
              '409': { description: 'INVALID_STATE: the billing run refused it (e.g. cannot adjust an approved invoice); WORKFLOW_NOT_RUNNING: the run has ended', content: errorContent },
              '503': { description: 'The billing run did not answer in time; the decision may still apply', content: errorContent },
            },
          ),
        },
      },
      '/api/v1/invoices/{id}/reject': {
        post: {
          summary: 'Reject a draft invoice',
          description: 'Sent as the `reject` Update to the invoice\'s billing run, which validates it against its state and answers with the result.',
          requestParams: { path: InvoiceParamsSchema },
          requestBody: { required: true, content: json(RejectRequestSchema) },
          responses: responses(
            { status: '200', description: 'Applied by the billing run', schema: DecisionResultSchema },
            {
              '404': { description: 'No such invoice in your organization', content: errorContent },
              '409': { description: 'INVALID_STATE: the billing run refused it (e.g. already approved); WORKFLOW_NOT_RUNNING: the run has ended', content: errorContent },
              '503': { description: 'The billing run did not answer in time; the decision may still apply', content: errorContent },
            },
          ),
        },
      },
      '/api/v1/invoices/{id}/redraft': {
        post: {
          summary: 'Draft a period again, as its next revision (a corrected invoice, or a re-issue)',
          description:
            'While the period\'s billing run waits for it (a rejected draft, or an invoice voided while collected): sent as the `redraft` Update, which closes the period again from its usage as it now stands (late events included) into a new draft revision and waits for approval. Once that run has ended, a re-issue: allowed for a rejected or void invoice, one credited in full (every credit note issued), or an open or uncollectible one with no credit note, which is voided in Stripe first (idempotency key from our id). A re-issue run `billing-run:<subscription>:<period start>:reissue:<invoice id>` drafts the new revision and takes it through approval, Stripe and collection; asking twice starts one run. Either way the replaced revision stays, with its lines and audit trail, and bills nothing from then on; its events move to the new one.',
          requestParams: { path: InvoiceParamsSchema },
          requestBody: { required: true, content: json(RedraftRequestSchema) },
          responses: responses(
            { status: '200', description: 'The new revision is drafted; invoice_id names it (and workflow_id the re-issue run, after the billing run ended)', schema: DecisionResultSchema },
            {
              '202': { description: 'A re-issue: the re-issue run is still drafting (a slow void in Stripe); follow workflow_id', content: json(ReissuePendingSchema) },
              '404': { description: 'No such invoice in your organization', content: errorContent },
              '409': { description: 'INVALID_STATE: this invoice is not re-drafted now (awaiting approval, paid and not credited in full, replaced already…), with the reason; or the re-draft failed (a price that cannot be computed, Stripe refusing the void)', content: errorContent },
              '503': { description: 'The billing run did not answer in time; the decision may still apply', content: errorContent },
            },
          ),
        },
      },
      '/api/v1/invoices/{id}/write-off': {
        post: {
          summary: 'Write a rejected (or void) invoice\'s period off',
          description:
            'Sent as the `writeOff` Update to the rejected invoice\'s billing run: the period is billed at nothing, on purpose, and the run ends. The invoice keeps its lines and its events (so no later close bills them as late usage) and never counts as billed; events of the period that arrive later are billed as late usage on their own.',
          requestParams: { path: InvoiceParamsSchema },
          requestBody: { required: true, content: json(WriteOffRequestSchema) },
          responses: responses(
            { status: '200', description: 'Written off', schema: DecisionResultSchema },
            {
              '404': { description: 'No such invoice in your organization', content: errorContent },
              '409': { description: 'INVALID_STATE: only a rejected draft or a void invoice can be written off; WORKFLOW_NOT_RUNNING: the run has ended', content: errorContent },
              '503': { description: 'The billing run did not answer in time; the decision may still apply', content: errorContent },
            },
          ),
        },
      },
      '/api/v1/invoices/{id}/void': {
        post: {
          summary: 'Void a finalized invoice still being collected',
          description:
            'Sent as the `void` Update to the invoice\'s billing run while it collects (payment attempts or the retry schedule): it waits for an attempt under way, voids the invoice in Stripe (idempotency key from our id) and here, stops collecting, and waits for the period to be re-drafted (POST …/redraft: a corrected invoice, approved, finalized and collected anew) or written off. A void invoice bills nothing. A paid invoice is credited with a credit note instead.',
          requestParams: { path: InvoiceParamsSchema },
          requestBody: { required: true, content: json(VoidRequestSchema) },
          responses: responses(
            { status: '200', description: 'Voided; the run waits for a re-draft or a write-off', schema: DecisionResultSchema },
            {
              '404': { description: 'No such invoice in your organization', content: errorContent },
              '409': { description: 'INVALID_STATE: only an invoice being collected can be voided (a paid one takes a credit note); WORKFLOW_NOT_RUNNING: the run has ended', content: errorContent },
              '503': { description: 'The billing run did not answer in time; the void may still apply', content: errorContent },
            },
          ),
        },
      },
      '/api/v1/invoices/{id}/credit-notes': {
        get: {
          summary: 'An invoice\'s credit notes',
          requestParams: { path: InvoiceParamsSchema },
          responses: responses({ status: '200', description: 'Oldest first', schema: CreditNoteListSchema }, { '404': { description: 'No such invoice in your organization', content: errorContent } }),
        },
        post: {
          summary: 'Credit a finalized invoice, in full or in part, with a reason',
          description:
            'Starts the credit note\'s workflow (`credit-note:<organization>:<request_key>`), which writes the note under a lock on the invoice (notes together never credit more than its total) and issues it in Stripe with an idempotency key from its id: on an open invoice it lowers the amount due; on a paid one it credits the customer\'s Stripe balance, or refunds the charge with `refund: true`. Issued, it is numbered `<invoice prefix>-CN-000001`, … and shows in the invoice\'s `credit_notes`, `credited` and audit history. The same `request_key` again answers with the same note.',
          requestParams: { path: InvoiceParamsSchema },
          requestBody: { required: true, content: json(CreditNoteRequestSchema) },
          responses: responses(
            { status: '201', description: 'Issued (or failed: Stripe refused it, see failure)', schema: CreditNoteSchema },
            {
              '200': { description: 'This request_key\'s note, from an earlier request', content: json(CreditNoteSchema) },
              '202': { description: 'Recorded or being recorded; still being issued in Stripe', content: json(CreditNoteAcceptedSchema) },
              '404': { description: 'No such invoice in your organization', content: errorContent },
              '409': { description: 'INVALID_STATE: the invoice is not finalized in Stripe; CREDIT_NOTE_REFUSED: refused by the note\'s workflow (a concurrent note took what was left); REQUEST_KEY_REUSED: the key named a note on another invoice', content: errorContent },
            },
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

import { z } from 'zod';
import 'zod-openapi';
import { FEATURE_KINDS } from '../../billing/entitlements';
import { PlanFeatureParamsSchema } from '../../services/plan-features';
import { VendorRateSchema } from '../../services/vendor-rates';
import { decimalInput } from './common';
import { UsageCountsShape } from './events';

export const RatingRequestSchema = z
  .strictObject({
    vendor: z.string().min(1).max(255).meta({ example: 'openai' }),
    model: z.string().min(1).max(255).meta({ example: 'gpt-4o' }),
    ...UsageCountsShape,
  })
  .meta({ id: 'RatingRequest', description: 'Usage to price at the rate in effect now: the counts of a vendor_usage line' });

export const RatingResponseSchema = z
  .object({
    vendor: z.string(),
    model: z.string(),
    ...UsageCountsShape,
    cost: z.string().meta({ description: 'Exact, unrounded cost as a decimal string', example: '5' }),
    currency: z.string().meta({ example: 'usd' }),
    rate: VendorRateSchema,
  })
  .meta({ id: 'RatingResponse', description: 'The usage as priced (the counts sent), its cost and the rate it was priced with' });

export const EntitlementRequestSchema = z
  .strictObject({
    customer_external_id: z.string().min(1).max(255).meta({ example: 'cust_42' }),
    event_type: z.string().min(1).max(255).optional().meta({ description: 'A quota: would its limit admit quantity now? (send event_type or feature)', example: 'api_call' }),
    feature: PlanFeatureParamsSchema.shape.feature.optional().meta({ description: 'A plan feature: does the customer\'s plan grant it for quantity? (send event_type or feature)', example: 'sso' }),
    quantity: decimalInput('Quantity the caller is about to use (a limit feature compares it with its limit)').default('1'),
    properties: z
      .record(z.string().max(255), z.unknown())
      .optional()
      .meta({ description: 'With event_type: the event\'s properties as it will be sent, so credits are priced at the rate for its dimension value (e.g. {"model": "gpt-4o"})', example: { model: 'gpt-4o' } }),
    estimated_usage: z
      .object({ vendor: z.string().min(1).max(255), model: z.string().min(1).max(255), ...UsageCountsShape })
      .strict()
      .optional()
      .meta({ description: 'What the call is expected to use at a model vendor: the answer then carries its cost at the rate in effect (cost_preview)' }),
  })
  .superRefine((r, ctx) => {
    if ((r.event_type === undefined) === (r.feature === undefined)) ctx.addIssue({ code: 'custom', path: ['feature'], message: 'send event_type (a quota) or feature (a plan feature), one of them' });
  })
  .meta({ id: 'EntitlementCheckRequest' });

export const EntitlementResponseSchema = z
  .object({
    allowed: z.boolean().meta({ description: 'Quota: whether a HARD limit would admit quantity now (SOFT and no limit always allow). Feature: whether a plan of the customer grants it.' }),
    reason: z.string().meta({ description: 'Why, in words' }),
    limit: z.string().nullable().meta({ description: 'The quota limit in effect, or the feature\'s numeric limit; null when there is none' }),
    mode: z.enum(['HARD', 'SOFT', 'DISABLED']).nullable(),
    used: z.string().nullable().meta({ description: 'Quota: used in the current window; null for a feature' }),
    remaining: z.string().nullable(),
    reset_at: z.string().nullable().meta({ description: 'When the current window ends; null for no limit, a never-resetting one, or a feature' }),
    feature: z.string().optional(),
    kind: z.enum(FEATURE_KINDS).nullable().optional().meta({ description: 'The feature\'s kind in the plan that decided; null when no plan has it' }),
    value: z.string().nullable().optional().meta({ description: 'A config feature\'s value' }),
    plan_key: z.string().nullable().optional().meta({ description: 'The plan whose feature decided' }),
    upgrade_options: z
      .array(z.object({ plan_key: z.string(), plan_name: z.string(), reason: z.string() }))
      .optional()
      .meta({ description: 'When refused: the organization\'s other active plans that would grant it, cheapest first' }),
    cost_preview: z
      .object({ cost: z.string(), currency: z.string(), rate_id: z.uuid() })
      .nullable()
      .optional()
      .meta({ description: 'estimated_usage priced at the vendor rate in effect now, exact; null when it cannot be (cost_preview_error says why)' }),
    cost_preview_error: z.string().optional(),
    credits: z
      .object({
        required: z.string().meta({ description: 'Credits quantity would burn at the rates in effect now' }),
        balance: z.string().meta({ description: 'The wallet\'s spendable balance' }),
      })
      .nullable()
      .optional()
      .meta({
        description:
          'With event_type, for a customer on a prepaid-only plan: what the usage would burn and what the wallet has (allowed is false when it cannot cover it); null for other customers, whose uncovered usage is invoiced as overage',
      }),
  })
  .meta({ id: 'EntitlementCheckResponse' });

export const BatchParamsSchema = z.object({ id: z.string().meta({ description: 'batch_id from POST /api/v1/events' }) });

export const BatchSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(['accepted', 'workflow_started', 'processed', 'failed']).meta({
      description:
        'accepted: stored, waiting for a processing batch (at most ~250 ms when healthy); workflow_started: its processing batch is being rated; processed: every accepted event is rated (also at once when nothing was accepted); failed: the batch workflow failed',
    }),
    received: z.number().int(),
    accepted: z.number().int(),
    duplicates: z.number().int(),
    rejected: z.number().int(),
    rated: z.number().int().meta({ description: 'Accepted events of this request rated so far' }),
    processing_batch: z
      .object({
        id: z.uuid(),
        events: z.number().int().meta({ description: 'Events in the processing batch, from this and other requests of the organization' }),
        requests: z.number().int(),
      })
      .nullable()
      .meta({ description: 'The server-side batch that processes this request\'s events; null while it waits' }),
    workflow_id: z.string().nullable().meta({ description: 'ingest:<processing batch id>; null until the batch\'s workflow started', example: 'ingest:01938c…' }),
    run_id: z.string().nullable(),
    workflow_status: z
      .string()
      .nullable()
      .meta({ description: 'Temporal execution status (RUNNING, COMPLETED, FAILED, …); null if not started or not found', example: 'RUNNING' }),
    created_at: z.string(),
    processed_at: z.string().nullable(),
  })
  .meta({ id: 'IngestBatch' });

export const HealthSchema = z.object({ status: z.string() }).meta({ id: 'Health' });

export const ReadySchema = z
  .object({
    status: z.enum(['ready', 'not ready']),
    checks: z.object({ database: z.string(), temporal: z.string() }).meta({ description: '"ok", or what failed' }),
    ingest: z
      .union([
        z.object({
          pending_events: z.number().int().meta({ description: 'Accepted events not rated yet (waiting for a batch, or in one)' }),
          pending_events_at_least: z.boolean().meta({ description: 'true when the count stopped at its cap and is a lower bound' }),
          waiting_requests: z.number().int(),
          open_batches: z.number().int(),
          oldest_pending_age_seconds: z.number(),
          organizations_paused: z.number().int().meta({ description: 'Organizations whose POST /api/v1/events answers 503 INGEST_BACKLOG_FULL right now' }),
        }),
        z.object({ error: z.string() }),
      ])
      .meta({ description: 'The ingest backlog' }),
  })
  .meta({ id: 'Ready' });

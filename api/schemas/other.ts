import { z } from 'zod';
import 'zod-openapi';
import { decimalInput } from './common';

export const RatingRequestSchema = z
  .strictObject({
    vendor: z.string().min(1).max(255).meta({ example: 'openai' }),
    model: z.string().min(1).max(255).meta({ example: 'gpt-4o' }),
    input_tokens: z.number().int().min(0).meta({ example: 1_000_000 }),
    output_tokens: z.number().int().min(0).meta({ example: 250_000 }),
  })
  .meta({ id: 'RatingRequest', description: 'Token usage to price at the rate in effect now' });

export const RatingResponseSchema = z
  .object({
    vendor: z.string(),
    model: z.string(),
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    cost: z.string().meta({ description: 'Exact, unrounded cost as a decimal string', example: '5' }),
    currency: z.string().meta({ example: 'usd' }),
    rate: z.object({
      id: z.uuid(),
      input_per_million_tokens: z.string().meta({ example: '2.5' }),
      output_per_million_tokens: z.string().meta({ example: '10' }),
      effective_from: z.string(),
      effective_to: z.string().nullable(),
    }),
  })
  .meta({ id: 'RatingResponse' });

export const EntitlementRequestSchema = z
  .strictObject({
    customer_external_id: z.string().min(1).max(255).meta({ example: 'cust_42' }),
    event_type: z.string().min(1).max(255).meta({ example: 'api_call' }),
    quantity: decimalInput('Quantity the caller is about to use').default('1'),
  })
  .meta({ id: 'EntitlementCheckRequest' });

export const EntitlementResponseSchema = z
  .object({
    allowed: z.boolean().meta({ description: 'Whether a HARD limit would admit quantity now (SOFT and no limit always allow)' }),
    limit: z.string().nullable().meta({ description: 'The limit in effect, null when there is none' }),
    mode: z.enum(['HARD', 'SOFT', 'DISABLED']).nullable(),
    used: z.string(),
    remaining: z.string().nullable(),
    reset_at: z.string().nullable().meta({ description: 'When the current window ends; null for no limit or a never-resetting one' }),
  })
  .meta({ id: 'EntitlementCheckResponse' });

export const BatchParamsSchema = z.object({ id: z.string().meta({ description: 'batch_id from POST /api/v1/events' }) });

export const BatchSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(['accepted', 'workflow_started', 'processed', 'failed']),
    received: z.number().int(),
    accepted: z.number().int(),
    duplicates: z.number().int(),
    rejected: z.number().int(),
    workflow_id: z.string().nullable(),
    run_id: z.string().nullable(),
    workflow_status: z
      .string()
      .nullable()
      .meta({ description: 'Temporal execution status (RUNNING, COMPLETED, FAILED, …); null if not started or not found', example: 'RUNNING' }),
    created_at: z.string(),
    processed_at: z.string().nullable(),
  })
  .meta({ id: 'IngestBatch' });

export const HealthSchema = z.object({ status: z.string(), checks: z.record(z.string(), z.string()).optional() }).meta({ id: 'Health' });

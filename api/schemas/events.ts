import { dateTimeInput } from '../../services/schemas/instant';
import { z } from 'zod';
import 'zod-openapi';
import { findExactNumber } from '../exact-json';
import { isUsageCount, type UsageCount } from '../../billing/token-cost';
import { anthropicUsageCounts, openAiUsageCounts, totalTokens } from '../../billing/ai-usage';
import { decimalInput } from './common';
import { PROXY_VENDORS } from '../../services/proxy-upstreams';

/** properties are stored as JSONB and shipped with every event; 8 KB keeps rows small. */
export const MAX_PROPERTIES_BYTES = 8 * 1024;
export const MAX_EVENTS_PER_REQUEST = 1000;
const MAX_VENDOR_USAGE_LINES = 100;
/** Below 10^15: a count a double holds exactly, and that ingest prices (billing/token-cost.ts). */
const MAX_USAGE_COUNT = 1e15 - 1;

const identifier = (description: string, example: string) => z.string().min(1).max(255).meta({ description, example });

const tokens = (description: string, example: number) => z.number().int().min(0).max(MAX_USAGE_COUNT).optional().meta({ description, example });

/** Each count of a usage line (billing/token-cost.ts prices them); all optional, a line without counts costs nothing. */
export const UsageCountsShape = {
  input_tokens: tokens('Input tokens, not counting those read from or written to a prompt cache', 1200),
  cached_input_tokens: tokens('Input tokens read from the vendor\'s prompt cache (not in input_tokens)', 8000),
  cache_write_tokens: tokens('Input tokens written to the vendor\'s prompt cache (not in input_tokens)', 0),
  output_tokens: tokens('Output tokens, not counting reasoning tokens', 350),
  reasoning_tokens: tokens('Reasoning ("thinking") tokens (not in output_tokens)', 0),
  images: tokens('Images generated or read', 0),
  seconds: z
    .number()
    .min(0)
    .max(MAX_USAGE_COUNT)
    .refine((v) => isUsageCount('seconds', v), 'must have at most 6 decimal places')
    .optional()
    .meta({ description: 'Seconds of audio or video, at most 6 decimal places', example: 12.5 }),
  requests: tokens('Requests (a search, a tool call)', 0),
} satisfies Record<UsageCount, z.ZodType>;

export const VendorUsageSchema = z
  .strictObject({
    vendor: identifier('Model vendor as named in the rate table', 'openai'),
    model: identifier('Model name as named in the rate table', 'gpt-4o'),
    ...UsageCountsShape,
  })
  .meta({
    id: 'VendorUsage',
    description:
      'What one event used at a model vendor: tokens by kind, images, seconds or requests; rated at the vendor rate in effect at the event timestamp. A count the rate has no price for leaves the line unpriced (its cost unknown, never zero) until a rate prices it.',
  });

/**
 * A model vendor's response as the vendor's client library returned it (or the id, model and usage read from a
 * stream). Only the usage counts are kept: they become one vendor_usage line (billing/ai-usage.ts maps each
 * vendor's counts to ours), and the rest of the response (its text) is not stored.
 */
export const VendorResponseSchema = z
  .strictObject({
    vendor: z.enum(PROXY_VENDORS).meta({ description: 'Whose response it is: openai (chat completions, embeddings, responses) or anthropic (messages)' }),
    response: z
      .looseObject({
        id: z.string().max(255).optional().meta({ description: "The vendor's response id", example: 'chatcmpl-9x2' }),
        model: identifier('The model that answered, as named in the rate table', 'gpt-4o'),
        usage: z.record(z.string(), z.unknown()).meta({ description: "The response's usage object, as the vendor sent it" }),
      })
      .meta({ description: 'The response object (other fields, such as the text, are ignored and not stored)' }),
  })
  .meta({
    id: 'VendorResponse',
    description:
      "An OpenAI or Anthropic response, read into a vendor_usage line (cached and reasoning tokens apart, as the AI proxy reads them). Without quantity, the event's quantity is the response's total tokens.",
  });

export const EventSchema = z
  .strictObject({
    idempotency_key: identifier('Unique per organization; a repeated key is stored and billed once. Keys starting with proxy: are the AI proxy\'s', 'evt_2f1c9a'),
    customer_external_id: identifier('Your id for the customer; the customer is created on first use', 'cust_42'),
    event_type: identifier('What happened, e.g. the metered action', 'api_call'),
    quantity: decimalInput('How much of event_type (decimal string or number, at most 6 decimals); 1 when not given, or the total tokens of vendor_response').optional(),
    timestamp: z.iso
      .datetime({ offset: true })
      .meta({ description: 'When it happened (ISO 8601); at most 5 minutes in the future and 35 days in the past', example: '2026-11-22T05:00:00Z' }),
    feature: z.string().min(1).max(255).optional().meta({ description: 'Feature within the product', example: 'chat' }),
    revenue_amount: decimalInput('What you charge for this event, in major units of currency').optional(),
    currency: z
      .string()
      .regex(/^[A-Za-z]{3}$/, 'must be a 3-letter ISO 4217 code')
      .transform((c) => c.toLowerCase())
      .optional()
      .meta({ description: 'ISO 4217 code of revenue_amount', example: 'usd' }),
    vendor_usage: z.array(VendorUsageSchema).max(MAX_VENDOR_USAGE_LINES).optional().meta({ description: 'Vendor token usage lines' }),
    vendor_response: VendorResponseSchema.optional(),
    reservation_id: z
      .uuid('must be a reservation id (a UUID)')
      .optional()
      .meta({
        description:
          'A credit reservation (POST /api/v1/credits/reservations) this event commits: the credits it burns come from the hold first, the rest of the hold goes back to the wallet, and what it used beyond the hold is burned from the wallet. A reservation already settled or expired covers nothing',
      }),
    // Checked in place rather than with z.record, which copies the object: a body's properties then stood twice on
    // the heap (a 7 MB body of 700-key properties held ~100 MiB until stored). Same answer for a non-object.
    properties: z
      .custom<Record<string, unknown>>((p) => typeof p === 'object' && p !== null && [Object.prototype, null].includes(Object.getPrototypeOf(p)), {
        message: 'expected record',
        params: { code: 'INVALID_TYPE' },
      })
      .meta({ override: { type: 'object', propertyNames: { type: 'string' }, additionalProperties: {} } })
      .superRefine((p, ctx) => {
        // Free-form values are stored as sent; a number a double cannot hold would be stored rounded.
        const at = findExactNumber(p);
        if (at) ctx.addIssue({ code: 'custom', path: at, message: 'has more digits than a JSON number keeps exactly (15 significant digits); send it as a string', input: p });
      })
      .refine((p) => Buffer.byteLength(JSON.stringify(p)) <= MAX_PROPERTIES_BYTES, {
        message: `must be at most ${MAX_PROPERTIES_BYTES} bytes as JSON`,
        params: { code: 'PROPERTIES_TOO_LARGE' },
      })
      .optional()
      .meta({ description: 'Free-form attributes (a JSON object of at most 8 KB)', example: { region: 'eu' } }),
  })
  .refine((e) => e.revenue_amount === undefined || e.currency !== undefined, {
    message: 'is required when revenue_amount is given',
    path: ['currency'],
    params: { code: 'MISSING_FIELD' },
  })
  .transform(({ vendor_response, quantity, ...event }, ctx) => {
    if (!vendor_response) return { ...event, quantity: quantity ?? '1' };
    const { vendor, response } = vendor_response;
    const counts = vendor === 'openai' ? openAiUsageCounts(response.usage) : anthropicUsageCounts(response.usage);
    // The line read from the response obeys the rules of a line sent as it is (each count's range, at most 100 lines).
    const line = VendorUsageSchema.safeParse({ vendor, model: response.model, ...counts });
    if (!line.success) {
      ctx.addIssue({ code: 'custom', path: ['vendor_response', 'response', 'usage'], message: `has a count out of range: ${line.error.issues[0]?.message ?? 'invalid'}`, input: response.usage });
      return z.NEVER;
    }
    const lines = [...(event.vendor_usage ?? []), line.data];
    if (lines.length > MAX_VENDOR_USAGE_LINES) {
      ctx.addIssue({ code: 'custom', path: ['vendor_usage'], message: `with vendor_response's line must be at most ${MAX_VENDOR_USAGE_LINES} lines`, input: event.vendor_usage });
      return z.NEVER;
    }
    return { ...event, quantity: quantity ?? String(totalTokens(counts)), vendor_usage: lines };
  })
  .meta({ id: 'UsageEventInput', description: 'One usage event' });

export type EventInput = z.output<typeof EventSchema>;

export const EventBatchSchema = z
  .strictObject({
    events: z.array(EventSchema).min(1).max(MAX_EVENTS_PER_REQUEST).meta({ description: 'Up to 1,000 events, validated one by one' }),
  })
  .meta({ id: 'UsageEventBatch' });

export const IngestRequestSchema = z.union([EventSchema, EventBatchSchema]).meta({
  id: 'IngestRequest',
  description: 'One event, or { "events": [...] } with up to 1,000 events',
});

export const RejectedEventSchema = z
  .object({
    index: z.number().int().meta({ description: 'Position in the request (0 for a single event)' }),
    code: z.string().meta({
      description:
        'MISSING_FIELD, UNKNOWN_FIELD, INVALID_TYPE, INVALID_VALUE, INVALID_TEXT (a NUL character or an unpaired surrogate, which cannot be stored), PROPERTIES_TOO_LARGE, TIMESTAMP_IN_FUTURE, TIMESTAMP_TOO_OLD or QUOTA_EXCEEDED',
      example: 'MISSING_FIELD',
    }),
    field: z.string().nullable().meta({ description: 'The offending field (dotted path), null when not about one field', example: 'customer_external_id' }),
    message: z.string(),
    idempotency_key: z.string().optional(),
    details: z
      .object({ limit: z.string(), current: z.string(), reset_at: z.string().nullable() })
      .optional()
      .meta({ description: 'For QUOTA_EXCEEDED: the limit, usage in the window, and when the window resets' }),
  })
  .meta({ id: 'RejectedEvent' });

export type RejectedEvent = z.output<typeof RejectedEventSchema>;

export const IngestResponseSchema = z
  .object({
    batch_id: z.uuid().meta({ description: 'This request; GET /api/v1/batches/{batch_id} shows its events\' progress' }),
    accepted: z.number().int(),
    duplicates: z.number().int().meta({ description: 'Events whose idempotency key was repeated in the request or already stored' }),
    duplicate_keys: z.array(z.string()),
    rejected: z.array(RejectedEventSchema),
  })
  .meta({ id: 'IngestResponse' });

export const BacklogFullSchema = z
  .object({
    error: z.string(),
    code: z.literal('INGEST_BACKLOG_FULL'),
    details: z.object({
      pending_events: z.number().int(),
      oldest_pending_age_seconds: z.number().int(),
      max_pending_events: z.number().int().meta({ description: '0 = no limit' }),
      max_pending_age_seconds: z.number().int().meta({ description: '0 = no limit' }),
      retry_after: z.number().int(),
    }),
  })
  .meta({ id: 'IngestBacklogFull', description: 'Ingest is paused until the workers catch up' });

export const QuotaExceededSchema = z
  .object({
    error: z.string(),
    code: z.literal('QUOTA_EXCEEDED'),
    details: z.object({
      batch_id: z.uuid(),
      limit: z.string(),
      current: z.string(),
      reset_at: z.string().nullable(),
      rejected: z.array(RejectedEventSchema),
    }),
  })
  .meta({ id: 'QuotaExceeded', description: 'Every event of the request was over a HARD quota' });

export const ValidationRejectedSchema = z
  .object({
    error: z.string(),
    code: z.literal('VALIDATION_ERROR'),
    details: z.object({ batch_id: z.uuid().nullable(), rejected: z.array(RejectedEventSchema) }),
  })
  .meta({ id: 'AllEventsRejected', description: 'Every event of the request failed validation' });

const eventStatus = z.enum(['pending', 'customer_linked', 'rated']);

export const ListEventsQuerySchema = z.strictObject({
  customer: z.string().min(1).optional().meta({ description: 'customer_external_id' }),
  event_type: z.string().min(1).optional(),
  status: eventStatus.optional(),
  from: dateTimeInput('timestamp ≥ from').optional(),
  to: dateTimeInput('timestamp < to').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).optional().meta({ description: 'next_cursor of the previous page' }),
});

export const StoredEventSchema = z
  .object({
    id: z.uuid(),
    batch_id: z.uuid(),
    idempotency_key: z.string(),
    customer_external_id: z.string(),
    customer_id: z.uuid().nullable(),
    event_type: z.string(),
    feature: z.string().nullable(),
    quantity: z.string(),
    timestamp: z.string(),
    properties: z.record(z.string(), z.unknown()),
    vendor_usage: z.array(VendorUsageSchema),
    revenue_amount: z.string().nullable(),
    currency: z.string().nullable(),
    status: eventStatus,
    cost: z.string().nullable().meta({ description: 'Vendor cost, unrounded decimal string' }),
    revenue: z.string().nullable(),
    received_at: z.string(),
    rated_at: z.string().nullable(),
    reservation_id: z.uuid().nullable().meta({ description: 'The credit reservation the event was sent to commit' }),
    credits: z
      .object({
        burned: z.string().meta({ description: 'Prepaid credits the event burned (decimal string)' }),
        uncovered: z.string().meta({ description: 'Of them, what its wallet could not cover: its usage is invoiced in this share (uncovered ÷ burned)' }),
      })
      .nullable()
      .meta({ description: 'What rating burned for the event from its customer\'s wallet; null: it burned none (no wallet, or no burn rate)' }),
  })
  .meta({ id: 'UsageEvent' });

export const EventPageSchema = z
  .object({
    data: z.array(StoredEventSchema),
    next_cursor: z.string().nullable().meta({ description: 'Pass as cursor for the next page; null on the last page' }),
  })
  .meta({ id: 'UsageEventPage' });

import { z } from 'zod';
import 'zod-openapi';
import type { ZodOpenApiResponsesObject } from 'zod-openapi';
import { instantInput } from '../../services/schemas/instant';
import { decimalInput } from '../../services/schemas/decimal';

export { decimalInput, instantInput };

/**
 * Free text that is trimmed and must not be empty. Its maximum counts what the client sent, before trimming, so the
 * documented maxLength holds (the API fuzzer found a 501-character reason, a vertical tab first, accepted at 500).
 */
export const trimmedText = (max: number, emptyMessage?: string) => z.string().max(max).trim().min(1, emptyMessage);

export const ErrorSchema = z
  .object({
    error: z.string().meta({ description: 'What went wrong, in words' }),
    code: z.string().meta({ description: 'Stable machine-readable code', example: 'VALIDATION_ERROR' }),
    details: z.unknown().optional().meta({ description: 'Code-specific details' }),
  })
  .meta({ id: 'Error', description: 'The shape of every error response' });

export const RateLimitErrorSchema = z
  .object({
    error: z.string(),
    code: z.literal('RATE_LIMIT_EXCEEDED'),
    details: z.object({
      scope: z.enum(['ip', 'organization', 'key']).meta({ description: 'Whose budget ran out: the client address (requests needing a key lookup), the organization, or the API key' }),
      limit: z.number().int().meta({ description: 'Requests allowed per second' }),
      remaining: z.number().int(),
      reset_at: z.string().meta({ description: 'When the current window ends (ISO 8601)' }),
      retry_after: z.number().int().meta({ description: 'Seconds to wait before retrying' }),
    }),
  })
  .meta({ id: 'RateLimitError', description: 'Too many requests; also sent with a Retry-After header' });

/** The OpenAPI document's helpers (api/openapi.ts), as the modules that add paths to it take them. */
export type Json = <S extends z.ZodType>(schema: S) => { 'application/json': { schema: S } };
export type Responses = (ok: { status: string; description: string; schema: z.ZodType }, extra?: ZodOpenApiResponsesObject) => ZodOpenApiResponsesObject;

export const errorContent = { 'application/json': { schema: ErrorSchema } };

/** Error responses every authenticated endpoint can give. */
export const commonErrorResponses = {
  '400': { description: 'Malformed JSON, wrong types or unknown fields', content: errorContent },
  '401': { description: 'Missing, unknown or revoked API key', content: errorContent },
  '403': { description: 'INSUFFICIENT_SCOPE: the API key lacks the scope this operation needs (details.required_scope names it)', content: errorContent },
  '413': { description: 'Request body too large', content: errorContent },
  '415': { description: 'Content-Type is not application/json', content: errorContent },
  '429': {
    description: 'Rate limit exceeded',
    headers: z.object({ 'Retry-After': z.string().meta({ description: 'Seconds to wait' }) }),
    content: { 'application/json': { schema: RateLimitErrorSchema } },
  },
  '500': { description: 'Unexpected server error (no internals are exposed)', content: errorContent },
  '503': {
    description:
      'DATABASE_UNAVAILABLE: the database is not reachable; or SERVER_BUSY: the API process holds as many request bodies as it works on at once (API_BODY_BUDGET_BYTES) and this one found no room within API_BODY_BUDGET_WAIT_MS, so its body was not read. Nothing of the request was done. Retry after the Retry-After header.',
    headers: z.object({ 'Retry-After': z.string().meta({ description: 'Seconds to wait' }) }),
    content: errorContent,
  },
} as const;

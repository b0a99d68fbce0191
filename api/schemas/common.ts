import { z } from 'zod';
import 'zod-openapi';
import type { ZodOpenApiResponsesObject } from 'zod-openapi';
import { instantInput } from '../../services/schemas/instant';
import { dec, toPlainString } from '../../billing/decimal';
import { isExactNumber, NOT_EXACT_NUMBER, type ExactNumber } from '../exact-json';

export { instantInput };

const DECIMAL_PATTERN = /^\d{1,20}(\.\d{1,20})?$/;

/** A JSON number: a plain one, or one kept as its text (api/exact-json.ts). Shown in the OpenAPI document as a number. */
const jsonNumber = z
  .custom<number | ExactNumber>((v) => typeof v === 'number' || isExactNumber(v), { message: 'expected a number', params: { code: NOT_EXACT_NUMBER } })
  .meta({ override: { type: 'number' } });

/**
 * A non-negative decimal sent as a string ("12.5") or a JSON number, stored
 * in a Decimal(20,6) column: at most 14 integer digits and 6 decimals, so
 * nothing is silently rounded. A JSON number is read from its own digits
 * (api/exact-json.ts), never through a binary double. Parses to a plain
 * decimal string.
 */
export function decimalInput(description: string) {
  return z
    .union([z.string().regex(DECIMAL_PATTERN, 'must be a non-negative decimal string like "12.5"'), jsonNumber])
    .transform((value, ctx) => {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        ctx.issues.push({ code: 'custom', message: 'must be a finite number', input: value });
        return z.NEVER;
      }
      if (isExactNumber(value) && !/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value.value)) {
        ctx.issues.push({ code: 'custom', message: 'must be a decimal number', input: value.value });
        return z.NEVER;
      }
      const d = dec(isExactNumber(value) ? value.value : value);
      if (d.isNegative()) {
        ctx.issues.push({ code: 'custom', message: 'must not be negative', input: value });
        return z.NEVER;
      }
      if (d.decimalPlaces() > 6) {
        ctx.issues.push({ code: 'custom', message: 'has more than 6 decimal places', input: value });
        return z.NEVER;
      }
      if (d.gte('1e14')) {
        ctx.issues.push({ code: 'custom', message: 'must be less than 100000000000000', input: value });
        return z.NEVER;
      }
      return toPlainString(d);
    })
    .meta({ description, example: '12.5' });
}

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
    description: 'DATABASE_UNAVAILABLE: the database is not reachable; nothing of the request was done. Retry after the Retry-After header.',
    headers: z.object({ 'Retry-After': z.string().meta({ description: 'Seconds to wait' }) }),
    content: errorContent,
  },
} as const;

import { isLosslessNumber, type LosslessNumber } from 'lossless-json';
import { z } from 'zod';
import 'zod-openapi';
import { dec, toPlainString } from '../../billing/decimal';

/** A JSON number the API's body parser kept as its text because a double would lose digits (api/exact-json.ts). */
export type ExactNumber = LosslessNumber;

/** The issue code of a schema branch that takes only such a number, when given something else (api/validation.ts reads it as a type mismatch). */
export const NOT_EXACT_NUMBER = 'NOT_EXACT_NUMBER';

export const isExactNumber = (value: unknown): value is ExactNumber => isLosslessNumber(value);

const DECIMAL_PATTERN = /^\d{1,20}(\.\d{1,20})?$/;

/** A JSON number: a plain one, or one kept as its text (api/exact-json.ts parses API bodies so). Shown in the OpenAPI document as a number. */
const jsonNumber = z
  .custom<number | ExactNumber>((v) => typeof v === 'number' || isExactNumber(v), { message: 'expected a number', params: { code: NOT_EXACT_NUMBER } })
  .meta({ override: { type: 'number' } });

/**
 * A non-negative decimal sent as a string ("12.5") or a JSON number, stored
 * in a Decimal(20,6) column: at most 14 integer digits and 6 decimals, so
 * nothing is silently rounded. A JSON number is read from its own digits
 * (api/exact-json.ts parses API bodies so), never through a binary double. Parses to a plain
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


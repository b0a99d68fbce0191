import { z } from 'zod';
import 'zod-openapi';
import { isKnownCurrency } from '../../billing/currency';

/** An ISO 4217 currency code in any case, stored lower-case. */
export const currencyCode = z
  .string()
  .transform((c) => c.toLowerCase())
  .refine(isKnownCurrency, { message: 'is not a known ISO 4217 currency (e.g. usd, eur, jpy, kwd)', params: { code: 'UNKNOWN_CURRENCY' } })
  .meta({ description: 'ISO 4217 code, stored lower-case', example: 'usd' });

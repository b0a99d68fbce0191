import { z } from 'zod';
import 'zod-openapi';
import { instantInput } from './common';
import { isKnownCurrency } from '../../billing/currency';
import { dec, type Dec } from '../../billing/decimal';
import type { PriceModel, PriceTier } from '../../billing/price-models';
import { FIELDS_BY_MODEL, PRICE_FIELDS, PRICE_MODELS, type PriceField } from '../../services/schemas/price-fields';

/*
 * Quote inputs are decimal strings, never JSON numbers, so no amount passes
 * through a float. At most 12 decimal places keeps every product of two
 * inputs exact within billing/decimal's 40 digits for any amount that still
 * fits Stripe's integer minor units (a token price of 0.0000025 fits).
 */
const DECIMAL_PATTERN = /^\d{1,18}(\.\d{1,12})?$/;

function decimalString(description: string, example: string) {
  return z
    .string()
    .regex(DECIMAL_PATTERN, `must be a non-negative decimal string like "${example}" (at most 18 digits before the point and 12 after)`)
    .transform((s): Dec => dec(s))
    .meta({ description, example });
}

const currency = z
  .string()
  .transform((c) => c.toLowerCase())
  .refine(isKnownCurrency, { message: 'is not a known ISO 4217 currency (e.g. usd, eur, jpy, kwd)', params: { code: 'UNKNOWN_CURRENCY' } })
  .meta({ description: 'ISO 4217 code; amounts are rounded half away from zero to its minor unit', example: 'usd' });

const TierSchema = z
  .strictObject({
    up_to: z
      .number()
      .positive()
      .nullable()
      .meta({ description: 'Inclusive upper bound of the tier; null (no bound) only on the last tier. Tiers ascend.', example: 100 }),
    unit_amount: decimalString('Price per unit in the tier', '0.10'),
    flat_amount: decimalString('Fixed amount added once usage reaches the tier (volume: once for the tier the quantity falls in)', '0').optional(),
  })
  .meta({ id: 'QuotePriceTier' });

/*
 * One object with `model` plus the fields each model needs, checked in the
 * transform: a zod discriminated union would report a bad `model` without
 * naming it, and this way every problem names its field.
 */
const PriceSchema = z
  .strictObject({
    model: z.enum(PRICE_MODELS).meta({ description: 'How the quantity is priced' }),
    unit_amount: decimalString('per_unit: price per unit', '0.05').optional(),
    tiers: z.array(TierSchema).min(1).max(100).optional().meta({ description: 'graduated and volume: the tiers, in ascending order of up_to' }),
    package_size: z.number().int().positive().optional().meta({ description: 'package: units per package', example: 50 }),
    package_amount: decimalString('package: price per started package', '3.00').optional(),
    free_units: z.number().min(0).optional().meta({ description: 'package: units given free before packages are counted', example: 0 }),
  })
  .transform((p, ctx): PriceModel => {
    const refuse = (field: PriceField, code: 'MISSING_FIELD' | 'UNKNOWN_FIELD', message: string) => {
      ctx.issues.push({ code: 'custom', path: [field], input: p[field], message, params: { code } });
      return z.NEVER;
    };
    const unused = PRICE_FIELDS.find((field) => p[field] !== undefined && !FIELDS_BY_MODEL[p.model].includes(field));
    if (unused) return refuse(unused, 'UNKNOWN_FIELD', `is not used by the ${p.model} model`);
    const required = (field: PriceField) => refuse(field, 'MISSING_FIELD', `is required when model is ${p.model}`);
    const tiers = (t: NonNullable<typeof p.tiers>): PriceTier[] =>
      t.map((tier) => ({ upTo: tier.up_to === null ? null : dec(tier.up_to), unitAmount: tier.unit_amount, flatAmount: tier.flat_amount ?? dec(0) }));
    switch (p.model) {
      case 'per_unit':
        if (p.unit_amount === undefined) return required('unit_amount');
        return { model: 'per_unit', unitAmount: p.unit_amount };
      case 'graduated':
      case 'volume':
        if (p.tiers === undefined) return required('tiers');
        return { model: p.model, tiers: tiers(p.tiers) };
      case 'package':
        if (p.package_size === undefined) return required('package_size');
        if (p.package_amount === undefined) return required('package_amount');
        return { model: 'package', packageSize: dec(p.package_size), packageAmount: p.package_amount, freeUnits: dec(p.free_units ?? 0) };
    }
  })
  .meta({
    id: 'QuotePrice',
    description:
      'per_unit needs unit_amount; graduated (each tier prices its slice) and volume (the whole quantity at the tier it falls in, plus that tier\'s flat_amount) need tiers; package (whole packages, rounded up, after free_units) needs package_size and package_amount. Fields another model uses are refused.',
    example: { model: 'graduated', tiers: [{ up_to: 100, unit_amount: '0.10' }, { up_to: 1000, unit_amount: '0.08' }, { up_to: null, unit_amount: '0.05' }] },
  });

export const PriceQuoteRequestSchema = z
  .strictObject({
    currency,
    price: PriceSchema,
    quantity: decimalString('Units to price', '1500'),
  })
  .meta({
    id: 'PriceQuoteRequest',
    description: 'What a quantity costs under a price; nothing is stored',
    example: {
      currency: 'usd',
      price: { model: 'graduated', tiers: [{ up_to: 100, unit_amount: '0.10' }, { up_to: 1000, unit_amount: '0.08' }, { up_to: null, unit_amount: '0.05' }] },
      quantity: '1500',
    },
  });

export const PriceQuoteResponseSchema = z
  .object({
    currency: z.string().meta({ example: 'usd' }),
    quantity: z.string().meta({ description: 'The quantity priced, as a decimal string', example: '1500' }),
    amount: z.string().meta({ description: 'Sum of the tier amounts, at the currency\'s minor unit', example: '107.00' }),
    amount_minor: z.number().int().meta({ description: 'amount as Stripe\'s integer amount (cents; yen for JPY; ×100 for ISK and UGX, which Stripe keeps two-decimal)', example: 10700 }),
    tiers: z
      .array(
        z
          .object({
            from: z.string().meta({ description: 'Exclusive lower bound of the tier', example: '100' }),
            to: z.string().nullable().meta({ description: 'Inclusive upper bound; null when unbounded', example: '1000' }),
            quantity: z.string().meta({ description: 'Units priced in this tier (package: packages billed)', example: '900' }),
            unit_amount: z.string().meta({ description: 'Price per unit (package: per package)', example: '0.08' }),
            flat_amount: z.string().meta({ description: 'Flat amount charged in this tier', example: '0' }),
            amount: z.string().meta({ description: 'This tier\'s amount, rounded on its own to the minor unit', example: '72.00' }),
          })
          .meta({ id: 'QuoteTierCharge' }),
      )
      .meta({ description: 'The breakdown; the amounts add up to amount' }),
  })
  .meta({
    id: 'PriceQuote',
    example: {
      currency: 'usd',
      quantity: '1500',
      amount: '107.00',
      amount_minor: 10700,
      tiers: [
        { from: '0', to: '100', quantity: '100', unit_amount: '0.1', flat_amount: '0', amount: '10.00' },
        { from: '100', to: '1000', quantity: '900', unit_amount: '0.08', flat_amount: '0', amount: '72.00' },
        { from: '1000', to: null, quantity: '500', unit_amount: '0.05', flat_amount: '0', amount: '25.00' },
      ],
    },
  });


/*
 * One string checked against both formats rather than a zod union, so a
 * missing field is reported as MISSING_FIELD like everywhere else.
 */
const instant = (description: string, example: string) => instantInput(`${description}: a date (UTC midnight) or a date-time with offset`, example);

export const ProrationQuoteRequestSchema = z
  .strictObject({
    currency,
    period_start: instant('Start of the billing period (inclusive)', '2024-11-01'),
    period_end: instant('End of the billing period (exclusive)', '2024-12-01'),
    change_at: instant('When the plan changes; within the period', '2024-11-21'),
    from_amount: decimalString('Old plan\'s base fee for the whole period; 0 for a new start', '30'),
    to_amount: decimalString('New plan\'s base fee for the whole period; 0 for a cancellation', '60'),
    mode: z
      .enum(['day', 'second'])
      .default('day')
      .meta({ description: 'day: UTC calendar days, change day included, end day excluded; second: elapsed seconds' }),
  })
  .meta({
    id: 'ProrationQuoteRequest',
    description: 'What a mid-period plan change credits and charges; nothing is stored',
    example: { currency: 'usd', period_start: '2024-11-01', period_end: '2024-12-01', change_at: '2024-11-21', from_amount: '30', to_amount: '60' },
  });

const prorationAmounts = {
  credit: z.string().meta({ description: 'Unused part of the old fee, ≤ 0, rounded on its own; zero is "0.00"', example: '-10.00' }),
  charge: z.string().meta({ description: 'Remaining part of the new fee, ≥ 0, rounded on its own', example: '20.00' }),
  net: z.string().meta({ description: 'credit + charge', example: '10.00' }),
};

export const ProrationQuoteResponseSchema = z
  .union([
    z
      .object({
        ...prorationAmounts,
        days_remaining: z.number().int().meta({ description: 'UTC days from change_at (inclusive) to period_end (exclusive)', example: 10 }),
        days_in_period: z.number().int().meta({ example: 30 }),
      })
      .meta({ id: 'ProrationQuoteByDay', description: 'mode day' }),
    z
      .object({
        ...prorationAmounts,
        seconds_remaining: z.number().int().meta({ description: 'Seconds from change_at to period_end', example: 864000 }),
        seconds_in_period: z.number().int().meta({ example: 2592000 }),
      })
      .meta({ id: 'ProrationQuoteBySecond', description: 'mode second' }),
  ])
  .meta({ id: 'ProrationQuote' });

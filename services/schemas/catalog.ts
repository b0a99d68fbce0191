import { z } from 'zod';
import 'zod-openapi';
import { currencyCode } from './currency';
import { dec, type Dec } from '../../billing/decimal';
import { InvalidMeterError, validateMeter } from '../../billing/meter-aggregation';
import { InvalidPriceError, validatePrice, type PriceModel, type PriceTier } from '../../billing/price-models';
import { FIELDS_BY_MODEL, PRICE_FIELDS, PRICE_MODELS, type PriceField } from './price-fields';
import { emailAddress } from './email';
import type { PlanPriceInput } from '../plans';
import { decimalInput } from './decimal';
import { instantInput } from './instant';

/*
 * Catalog inputs: meters, plans with their prices, customers, subscriptions.
 * Amounts are decimal strings sized for the Decimal(20,6) columns they are
 * stored in (at most 14 digits before the point and 6 after), so nothing is
 * silently rounded on the way in.
 */
const AMOUNT_PATTERN = /^\d{1,14}(\.\d{1,6})?$/;

function amount(description: string, example: string) {
  return z
    .string()
    .regex(AMOUNT_PATTERN, `must be a non-negative decimal string like "${example}" (at most 14 digits before the point and 6 after)`)
    .transform((s): Dec => dec(s))
    .meta({ description, example });
}

/** Keys appear in URLs (`/meters/:key`), so they stay URL-safe. */
const catalogKey = (description: string, example: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must be 1–100 letters, digits, "_", "." or "-", starting with a letter or digit')
    .meta({ description, example });

const label = (description: string, example: string) => z.string().min(1).max(255).meta({ description, example });

const currency = currencyCode;

/** billing/ names fields like `price.tiers[1].up_to`; as a zod path that is ['tiers', 1, 'up_to'] under the price. */
function pricePath(field: string): PropertyKey[] {
  return field
    .replace(/^price\.?/, '')
    .split(/\.|\[(\d+)\]/)
    .filter((part): part is string => part !== undefined && part !== '')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

// ---------------------------------------------------------------- meters

const AGGREGATIONS = ['sum', 'count', 'max', 'unique_count', 'latest'] as const;

const stripePriceId = z
  .string()
  .regex(/^(price|plan)_[A-Za-z0-9_]{1,200}$/, 'must be a Stripe price id like "price_1Pabc…" (or a legacy "plan_…" id)')
  .meta({
    description:
      'The Stripe price your own Stripe invoices bill this meter\'s usage with. Reconciliation compares those invoice quantities with what Ledgerflow metered (under-reported usage, source "stripe").',
    example: 'price_1PgUsage',
  });

export const MeterPatchSchema = z
  .strictObject({ stripe_price_id: stripePriceId.nullable().meta({ description: 'null removes the mapping' }) })
  .meta({ id: 'MeterPatchRequest', example: { stripe_price_id: 'price_1PgUsage' } });

export const MeterCreateSchema = z
  .strictObject({
    key: catalogKey('Unique per organization; plans name meters by key', 'api_calls'),
    name: label('Display name', 'API calls'),
    event_type: label('The event_type of the usage events this meter reads', 'api_call'),
    aggregation: z
      .enum(AGGREGATIONS)
      .meta({ description: 'sum of quantity, count of events, max quantity, unique_count of a property, or the latest quantity' }),
    property: label('unique_count only: the event property whose distinct values are counted', 'user_id').optional(),
    dimension: label(
      'An event property whose value plans may price on their own, such as model: each value a plan names gets its own price and invoice line; the plan\'s default price (one without dimension_value) takes every other value. Set when the meter is made',
      'model',
    ).optional(),
    stripe_price_id: stripePriceId.optional(),
  })
  .transform((m, ctx) => {
    if (m.property !== undefined && m.aggregation !== 'unique_count') {
      ctx.issues.push({ code: 'custom', path: ['property'], input: m.property, message: 'is only used by unique_count meters', params: { code: 'UNKNOWN_FIELD' } });
      return z.NEVER;
    }
    try {
      validateMeter({ aggregation: m.aggregation, property: m.property });
    } catch (err) {
      if (!(err instanceof InvalidMeterError)) throw err;
      ctx.issues.push({ code: 'custom', path: [err.field], input: undefined, message: err.message, params: { code: 'MISSING_FIELD' } });
      return z.NEVER;
    }
    return m;
  })
  .meta({
    id: 'MeterCreateRequest',
    description: 'A meter turns one event type\'s events in a billing period into a quantity',
    example: { key: 'active_users', name: 'Active users', event_type: 'login', aggregation: 'unique_count', property: 'user_id' },
  });

export const MeterSchema = z
  .object({
    id: z.uuid(),
    key: z.string(),
    name: z.string(),
    event_type: z.string(),
    aggregation: z.enum(AGGREGATIONS),
    property: z.string().nullable(),
    dimension: z.string().nullable().meta({ description: 'The event property plans may price value by value; null for none' }),
    stripe_price_id: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'Meter' });

// ----------------------------------------------------------------- plans

const TierInputSchema = z
  .strictObject({
    up_to: z
      .number()
      .positive()
      .max(1e14)
      .nullable()
      .meta({ description: 'Inclusive upper bound of the tier; null (no bound) only on the last tier. Tiers ascend.', example: 100 }),
    unit_amount: amount('Price per unit in the tier', '0.10'),
    flat_amount: amount('Fixed amount added once usage reaches the tier (volume: once for the tier the quantity falls in)', '0').optional(),
  })
  .meta({ id: 'PlanPriceTierInput' });


const PlanPriceInputSchema = z
  .strictObject({
    meter: catalogKey('Key of one of your meters; each meter at most once per plan, or once per dimension_value and once without', 'api_calls'),
    dimension_value: label(
      'For a meter with a dimension: the value this price is for (e.g. gpt-4o). Omitted or null: the meter\'s price, or for a meter with a dimension its default price, which a plan pricing values must have and which prices every value it does not name',
      'gpt-4o',
    )
      .nullable()
      .optional(),
    model: z.enum(PRICE_MODELS).meta({ description: 'How the meter\'s quantity is priced' }),
    unit_amount: amount('per_unit: price per unit', '0.05').optional(),
    tiers: z.array(TierInputSchema).min(1).max(100).optional().meta({ description: 'graduated and volume: the tiers, in ascending order of up_to' }),
    package_size: z.number().int().positive().max(1e14).optional().meta({ description: 'package: units per package', example: 50 }),
    package_amount: amount('package: price per started package', '3.00').optional(),
    free_units: decimalInput('package: units given free before packages are counted').optional(),
    included_units: decimalInput('Units included in the plan before the price applies (any model)').optional(),
  })
  .transform((p, ctx): PlanPriceInput => {
    const refuse = (field: PriceField, code: 'MISSING_FIELD' | 'UNKNOWN_FIELD', message: string) => {
      ctx.issues.push({ code: 'custom', path: [field], input: p[field], message, params: { code } });
      return z.NEVER;
    };
    const unused = PRICE_FIELDS.find((field) => p[field] !== undefined && !FIELDS_BY_MODEL[p.model].includes(field));
    if (unused) return refuse(unused, 'UNKNOWN_FIELD', `is not used by the ${p.model} model`);
    const required = (field: PriceField) => refuse(field, 'MISSING_FIELD', `is required when model is ${p.model}`);
    const includedUnits = dec(p.included_units ?? 0);
    let price: PriceModel;
    switch (p.model) {
      case 'per_unit':
        if (p.unit_amount === undefined) return required('unit_amount');
        price = { model: 'per_unit', unitAmount: p.unit_amount, includedUnits };
        break;
      case 'graduated':
      case 'volume': {
        if (p.tiers === undefined) return required('tiers');
        const tiers: PriceTier[] = p.tiers.map((t) => ({ upTo: t.up_to === null ? null : dec(t.up_to), unitAmount: t.unit_amount, flatAmount: t.flat_amount ?? dec(0) }));
        price = { model: p.model, tiers, includedUnits };
        break;
      }
      case 'package':
        if (p.package_size === undefined) return required('package_size');
        if (p.package_amount === undefined) return required('package_amount');
        price = { model: 'package', packageSize: dec(p.package_size), packageAmount: p.package_amount, freeUnits: dec(p.free_units ?? 0), includedUnits };
        break;
    }
    try {
      validatePrice(price);
    } catch (err) {
      if (!(err instanceof InvalidPriceError)) throw err;
      ctx.issues.push({ code: 'custom', path: pricePath(err.field), input: undefined, message: err.message });
      return z.NEVER;
    }
    return { meter: p.meter, ...(p.dimension_value != null ? { dimensionValue: p.dimension_value } : {}), price };
  })
  .meta({
    id: 'PlanPriceInput',
    description:
      'per_unit needs unit_amount; graduated and volume need tiers; package needs package_size and package_amount (free_units optional). included_units come off the quantity first, for any model. Fields another model uses are refused.',
    example: { meter: 'api_calls', model: 'graduated', tiers: [{ up_to: 1000, unit_amount: '0' }, { up_to: null, unit_amount: '0.002' }] },
  });

/** Each meter (each dimension value of one) is priced at most once in a plan version. */
function refuseTwicePriced(prices: readonly PlanPriceInput[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  prices.forEach((p, i) => {
    const key = JSON.stringify([p.meter, p.dimensionValue ?? null]);
    if (seen.has(key)) {
      const what = p.dimensionValue === undefined ? `meter ${p.meter}` : `meter ${p.meter} for ${p.dimensionValue}`;
      ctx.issues.push({ code: 'custom', path: ['prices', i, p.dimensionValue === undefined ? 'meter' : 'dimension_value'], input: p.meter, message: `${what} is priced twice in this plan` });
    }
    seen.add(key);
  });
}

/** Credits each billing period of a subscription grants (a recurring grant of the customer's wallet). */
export const PeriodCreditsSchema = z
  .strictObject({
    credits: decimalInput('Credits granted at the start of each billing period').refine((c) => dec(c).gt(0), { message: 'must be more than 0' }),
    rollover: z.boolean().default(false).meta({ description: 'What is left at the period end stays in the wallet; false: it expires then (to breakage)' }),
  })
  .meta({ id: 'PeriodCredits', description: 'Prepaid credits included with the plan, granted each billing period (kind recurring, price 0: the base fee pays for them)' });

export const PlanCreateSchema = z
  .strictObject({
    key: catalogKey('Unique per organization; subscriptions name plans by key', 'pro_monthly'),
    name: label('Display name', 'Pro'),
    currency,
    interval: z.enum(['month', 'quarter', 'year']).meta({ description: 'Billing interval' }),
    base_fee: amount('Fee per interval, before usage; 0 when omitted', '49.00').optional(),
    active: z.boolean().default(true).meta({ description: 'Inactive plans take no new subscriptions' }),
    prepaid_only: z
      .boolean()
      .default(false)
      .meta({ description: 'Customers on it pay for usage with prepaid credits only: the entitlement check refuses usage their wallet cannot cover' }),
    prices: z.array(PlanPriceInputSchema).max(100).default([]).meta({ description: 'Per-meter prices' }),
    period_credits: PeriodCreditsSchema.nullable().optional(),
  })
  .transform((plan, ctx) => {
    refuseTwicePriced(plan.prices, ctx);
    return plan;
  })
  .meta({
    id: 'PlanCreateRequest',
    example: {
      key: 'pro_monthly',
      name: 'Pro',
      currency: 'usd',
      interval: 'month',
      base_fee: '49.00',
      prices: [
        { meter: 'api_calls', model: 'graduated', tiers: [{ up_to: 100, unit_amount: '0.10' }, { up_to: 1000, unit_amount: '0.08' }, { up_to: null, unit_amount: '0.05' }] },
        { meter: 'storage_gb', model: 'package', package_size: 50, package_amount: '3.00', free_units: '10' },
      ],
    },
  });

export const PlanVersionCreateSchema = z
  .strictObject({
    name: label('Display name; the current version\'s when omitted', 'Pro').optional(),
    base_fee: amount('Fee per interval; the current version\'s when omitted', '59.00').optional(),
    active: z.boolean().optional().meta({ description: 'Whether the version takes new subscriptions; the current version\'s when omitted' }),
    prepaid_only: z.boolean().optional().meta({ description: 'Whether usage is paid with prepaid credits only; the current version\'s when omitted' }),
    prices: z.array(PlanPriceInputSchema).max(100).optional().meta({ description: 'The version\'s per-meter prices, all of them (a meter left out is not priced); the current version\'s when omitted' }),
    period_credits: PeriodCreditsSchema.nullable().optional().meta({ description: 'Credits each billing period grants; null: none; the current version\'s when omitted' }),
  })
  .transform((version, ctx) => {
    const { base_fee, prices, name, active, prepaid_only, period_credits } = version;
    if ([base_fee, prices, name, active, prepaid_only, period_credits].every((v) => v === undefined)) {
      ctx.issues.push({ code: 'custom', path: [], input: version, message: 'name at least one of base_fee, prices, name, active, prepaid_only or period_credits: a version changes something' });
    }
    refuseTwicePriced(version.prices ?? [], ctx);
    return version;
  })
  .meta({
    id: 'PlanVersionCreateRequest',
    description: 'The next version of the plan: the current version\'s terms with these changes. Currency and interval stay; features are copied. Subscriptions stay on their version until moved to this one with a plan change.',
    example: { base_fee: '59.00', prices: [{ meter: 'api_calls', model: 'per_unit', unit_amount: '0.002' }] },
  });

export const PlanVersionParamsSchema = z.object({
  key: z.string().meta({ description: 'The plan\'s key' }),
  version: z.coerce.number().int().min(1).max(2147483647).meta({ description: 'The version number (1 is the first)' }),
});

const TierSchema = z
  .object({
    up_to: z.number().nullable(),
    unit_amount: z.string().meta({ example: '0.1' }),
    flat_amount: z.string().meta({ example: '0' }),
  })
  .meta({ id: 'PlanPriceTier' });

export const PlanPriceSchema = z
  .object({
    meter: z.string().meta({ description: 'The meter\'s key' }),
    dimension_value: z.string().nullable().meta({ description: 'The dimension value this price is for; null: the meter\'s price (its default, for a meter with a dimension)' }),
    model: z.enum(PRICE_MODELS),
    unit_amount: z.string().optional(),
    tiers: z.array(TierSchema).optional(),
    package_size: z.string().optional(),
    package_amount: z.string().optional(),
    free_units: z.string().optional(),
    included_units: z.string().meta({ example: '0' }),
  })
  .meta({ id: 'PlanPrice', description: 'Only the fields the model uses are present' });

export const PlanSchema = z
  .object({
    id: z.uuid(),
    key: z.string(),
    version: z.number().int().meta({ description: 'The plan\'s version: a price change makes the next one; subscriptions keep theirs until moved', example: 1 }),
    name: z.string(),
    currency: z.string(),
    interval: z.enum(['month', 'quarter', 'year']),
    base_fee: z.string().meta({ example: '49' }),
    active: z.boolean(),
    prepaid_only: z.boolean().meta({ description: 'Usage is paid with prepaid credits only: the entitlement check refuses what the wallet cannot cover' }),
    prices: z.array(PlanPriceSchema),
    period_credits: z
      .object({ credits: z.string(), rollover: z.boolean() })
      .nullable()
      .meta({ description: 'Credits each billing period of a subscription grants its customer (rollover: what is left stays after the period); null: none' }),
    created_at: z.string(),
  })
  .meta({ id: 'Plan' });

export const PlanVersionListSchema = z
  .object({
    data: z.array(PlanSchema.extend({ subscriptions: z.number().int().meta({ description: 'Subscriptions on this version and not canceled' }) }).meta({ id: 'PlanVersion' })),
  })
  .meta({ id: 'PlanVersionList', description: 'Newest first' });

// ------------------------------------------------------------- customers

export const CustomerCreateSchema = z
  .strictObject({
    external_id: label('Your id for the customer, as usage events send it in customer_external_id', 'cust_42'),
    name: label('Display name', 'Acme Inc.').optional(),
    email: emailAddress('billing@acme.test').optional().meta({ description: 'Billing contact', example: 'billing@acme.test' }),
  })
  .meta({ id: 'CustomerCreateRequest', description: 'Idempotent on external_id: an existing customer is returned unchanged (200)' });

export const CustomerSchema = z
  .object({
    id: z.uuid(),
    external_id: z.string(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    stripe_customer_id: z.string().nullable().meta({ description: 'The Stripe customer its invoices go to; null until linked or created by its first finalized invoice' }),
    parent_external_id: z.string().nullable().meta({ description: "Team pool: the customer whose credit wallet this one draws on; null: its own wallet, if any" }),
    created_at: z.string(),
    workflow_id: z.string().optional().meta({ description: 'PATCH with stripe_customer_id: the workflow that checked (or, on a 202, still checks) the link in Stripe' }),
  })
  .meta({ id: 'Customer' });

// --------------------------------------------------------- subscriptions


const contractedBaseFee = amount(
  'The base fee per interval the customer\'s contract says, when it differs from the plan\'s (an agreed uplift or discount). Invoices charge the plan\'s base fee; reconciliation reports a renewal billed below this as renewal drift.',
  '59.00',
);

export const SubscriptionPatchSchema = z
  .strictObject({ contracted_base_fee: contractedBaseFee.nullable().meta({ description: 'null: no contracted fee (the plan\'s base fee is expected)' }) })
  .meta({ id: 'SubscriptionPatchRequest', example: { contracted_base_fee: '59.00' } });

export const SubscriptionCreateSchema = z
  .strictObject({
    customer_external_id: label('The customer; created if it does not exist yet', 'cust_42'),
    plan: catalogKey('Key of an active plan', 'pro_monthly'),
    plan_version: z.number().int().min(1).max(2147483647).optional().meta({ description: 'The plan\'s version; default its newest', example: 1 }),
    start_date: instantInput('When the subscription starts; a start inside a period is prorated', '2024-01-31'),
    billing_anchor_day: z
      .number()
      .int()
      .min(1)
      .max(31)
      .optional()
      .meta({ description: 'Day of the month periods start on (UTC); a month without that day uses its last day. Defaults to the start date\'s day.', example: 31 }),
    contracted_base_fee: contractedBaseFee.optional(),
  })
  .meta({ id: 'SubscriptionCreateRequest', example: { customer_external_id: 'cust_42', plan: 'pro_monthly', start_date: '2024-01-31', billing_anchor_day: 31 } });

export const PeriodSchema = z
  .object({
    start: z.string().meta({ description: 'Inclusive', example: '2024-01-31T00:00:00.000Z' }),
    end: z.string().meta({ description: 'Exclusive', example: '2024-02-29T00:00:00.000Z' }),
  })
  .meta({ id: 'BillingPeriod' });

export const SubscriptionSchema = z
  .object({
    id: z.uuid(),
    customer_id: z.uuid(),
    customer_external_id: z.string(),
    plan: z.string().meta({ description: 'The key of the plan in effect (now, or at `at`): a change recorded for later shows from when it takes effect' }),
    plan_version: z.number().int().meta({ description: 'The version of that plan' }),
    status: z.enum(['active', 'canceled']),
    start_date: z.string(),
    billing_anchor_day: z.number().int(),
    cancel_at_period_end: z.boolean(),
    canceled_at: z.string().nullable(),
    contracted_base_fee: z.string().nullable().meta({ description: 'Decimal string, or null when the plan\'s base fee applies' }),
    created_at: z.string(),
    current_period: PeriodSchema.nullable().meta({
      description:
        'The period on the anchor-day grid (aligned to the start month) containing `at` (default now), or the first period if the subscription has not started; null once canceled. The first period may begin before start_date: that start is prorated.',
    }),
  })
  .meta({ id: 'Subscription' });

export const SubscriptionCreatedSchema = SubscriptionSchema.extend({
  workflow_id: z.string().meta({ description: 'The workflow that bills the subscription: subscription:<id>', example: 'subscription:7b0e…' }),
  workflow_start: z.enum(['started', 'pending']).meta({
    description: 'pending: Temporal did not answer; the subscription is stored and its workflow is started by the next sweep (at startup) under the same id',
  }),
}).meta({ id: 'SubscriptionCreated' });

// ----------------------------------------------------------- parameters

export const KeyParamsSchema = z.object({ key: z.string().meta({ description: 'The object\'s key' }) });
export const ExternalIdParamsSchema = z.object({ external_id: z.string().meta({ description: 'Your id for the customer' }) });
export const IdParamsSchema = z.object({ id: z.string().meta({ description: 'The subscription id' }) });

const at = instantInput('Report current_period as of this instant instead of now', '2024-02-15').optional();

export const SubscriptionQuerySchema = z.strictObject({ at });

const limit = z.coerce.number().int().min(1).max(100).default(100).meta({ description: 'Page size' });
const after = (sortKey: string) => z.string().min(1).optional().meta({ description: `Return items whose ${sortKey} sorts after this one (the last ${sortKey} of the previous page)` });

export const KeyListQuerySchema = z.strictObject({ limit, after: after('key') });
export const CustomerListQuerySchema = z.strictObject({ limit, after: after('external_id') });
export const SubscriptionListQuerySchema = z.strictObject({
  customer: z.string().min(1).optional().meta({ description: 'Only this customer_external_id\'s subscriptions' }),
  limit,
  after: z.uuid().optional().meta({ description: 'Return subscriptions whose id sorts after this one (the last id of the previous page)' }),
  at,
});

export const listOf = <S extends z.ZodType>(item: S, id: string) =>
  z
    .object({
      data: z.array(item),
      has_more: z.boolean().meta({ description: 'More items follow; pass the last one\'s sort key as `after`' }),
    })
    .meta({ id });

import { z } from 'zod';
import 'zod-openapi';
import { isKnownCurrency } from '../billing/currency';
import { linePrice, RATE_PRICES, rateInEffect, toPlainString, type RatePriceName, type RatePrices, type TokenUsage } from '../billing/token-cost';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { PrismaClient, VendorRateModel } from '../prisma/client';
import { isUniqueViolation } from '../prisma/errors';
import { tokenRateOf } from '../prisma/vendor-rates';
import { DomainError } from './errors';
import { storableName } from './schemas/name';

/*
 * What a model vendor charges the organization, per million tokens of each
 * kind and per image, second or request (billing/token-cost.ts RATE_PRICES):
 * the cost side of every rated event (margins, leak detection). A rate is
 * never edited: a price change is a new rate with a later effective_from, and
 * from that instant it supersedes the one before (the latest start in effect
 * wins, billing/token-cost.ts rateInEffect), so the history of what was in
 * effect when stays exactly as it was. Events are rated when their batch is
 * processed and keep the rate they were rated with, so a rate starts now or
 * later, or earlier only at an instant when no rate of its vendor and model
 * was in effect (it prices that gap; events there were left unpriced and can
 * be re-rated, services/unpriced-events.ts). A vendor and model keep one
 * currency.
 *
 * The API (api/routes/vendor-rates.ts) and the web app's rates page call
 * these; every new rate writes an audit row in its transaction.
 */

/** Clock skew between a client and us: a rate "from now" sent a little late is still now. */
const SKEW_MS = 5 * 60_000;
const PRICE_PATTERN = /^\d{1,14}(\.\d{1,6})?$/;

const price = (description: string, example: string) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a decimal string') })
    .regex(PRICE_PATTERN, `must be a non-negative decimal string like "${example}" (at most 14 digits before the point and 6 after)`)
    .meta({ description, example });

const prices = Object.fromEntries(
  RATE_PRICES.map(({ name, description, example }) => [name, price(`What the vendor charges: ${description.charAt(0).toLowerCase()}${description.slice(1)}`, example).optional()]),
) as Record<RatePriceName, z.ZodOptional<ReturnType<typeof price>>>;

export const VendorRateCreateSchema = z
  .strictObject({
    vendor: storableName('The model vendor, as events name it in vendor_usage', 'openai'),
    model: storableName('The model, as events name it in vendor_usage', 'gpt-4o'),
    currency: z
      .string()
      .transform((c) => c.toLowerCase())
      .refine(isKnownCurrency, { message: 'is not a known ISO 4217 currency (e.g. usd, eur)', params: { code: 'UNKNOWN_CURRENCY' } })
      .optional()
      .meta({ description: 'ISO 4217 code, stored lower-case; default: the currency of this vendor and model\'s earlier rates, else usd. A vendor and model keep one currency (their events\' costs are added up).', example: 'usd' }),
    ...prices,
    effective_from: z.iso
      .datetime({ offset: true, error: 'must be an ISO 8601 instant like 2026-12-01T00:00:00Z' })
      .optional()
      .meta({
        description:
          'When the rate takes effect: now (the default) or later. Earlier only where this vendor and model had no rate: events are rated as they are processed and keep the rate they were rated with, so a rate may fill a gap (events there were left unpriced, and can be re-rated) but never replace one that priced events. From then on it supersedes the pair\'s earlier rates.',
        example: '2026-12-01T00:00:00Z',
      }),
  })
  .superRefine((rate, ctx) => {
    if (RATE_PRICES.some(({ name }) => rate[name] !== undefined)) return;
    ctx.addIssue({ code: 'custom', path: ['input_per_million_tokens'], message: `is required unless the rate sets another price (${RATE_PRICES.slice(1).map((p) => p.name).join(', ')})` });
  });
export type VendorRateCreate = z.output<typeof VendorRateCreateSchema>;

export const VendorRateListQuerySchema = z.strictObject({
  vendor: z.string().min(1).optional().meta({ description: 'Only this vendor\'s rates' }),
  model: z.string().min(1).optional().meta({ description: 'Only this model\'s rates' }),
});
export type VendorRateListQuery = z.output<typeof VendorRateListQuerySchema>;

export const VendorRateSchema = z
  .object({
    id: z.uuid(),
    vendor: z.string(),
    model: z.string(),
    currency: z.string(),
    ...(Object.fromEntries(RATE_PRICES.map(({ name, description }) => [name, z.string().nullable().meta({ description: `${description}; null: not set` })])) as Record<RatePriceName, z.ZodNullable<z.ZodString>>),
    effective_from: z.string(),
    effective_to: z.string().nullable().meta({ description: 'An end the row was stored with (not set through this API); null: open' }),
    superseded_at: z.string().nullable().meta({ description: 'When the next rate of the same vendor and model took (or takes) over; null: none has' }),
    in_effect: z.boolean().meta({ description: 'Whether events of this vendor and model timestamped now are rated with it' }),
    created_at: z.string(),
  })
  .meta({ id: 'VendorRate' });
export type VendorRateJson = z.output<typeof VendorRateSchema>;

export const VendorRateListSchema = z.object({ data: z.array(VendorRateSchema) }).meta({ id: 'VendorRateList' });

/** A rate's prices as the API shows them: decimal strings as stored, null where it sets none. */
function pricesJson(r: VendorRateModel): Record<RatePriceName, string | null> {
  return Object.fromEntries(RATE_PRICES.map(({ key, name }) => [name, r[key]?.toFixed() ?? null])) as Record<RatePriceName, string | null>;
}

const byPairAndStart = (a: VendorRateModel, b: VendorRateModel): number =>
  a.vendor.localeCompare(b.vendor) || a.model.localeCompare(b.model) || a.effectiveFrom.getTime() - b.effectiveFrom.getTime();

/**
 * Rates as the API shows them, sorted by vendor, model and start: each with
 * when the next rate of its pair took over, and whether it is the one in
 * effect now by the rule ingest rates with (billing/token-cost.ts), so the
 * list never says otherwise.
 */
function describeRates(rates: readonly VendorRateModel[], now: Date): VendorRateJson[] {
  const rows = [...rates].sort(byPairAndStart);
  const inEffect = new Map<string, string | undefined>();
  return rows.map((r, i) => {
    const pair = `${r.vendor}\u0000${r.model}`;
    if (!inEffect.has(pair)) inEffect.set(pair, rateInEffect(rows, r.vendor, r.model, now)?.id);
    const next = rows[i + 1];
    const supersededAt = next && next.vendor === r.vendor && next.model === r.model ? next.effectiveFrom : null;
    return {
      id: r.id,
      vendor: r.vendor,
      model: r.model,
      currency: r.currency,
      ...pricesJson(r),
      effective_from: r.effectiveFrom.toISOString(),
      effective_to: r.effectiveTo?.toISOString() ?? null,
      superseded_at: supersededAt?.toISOString() ?? null,
      in_effect: inEffect.get(pair) === r.id,
      created_at: r.createdAt.toISOString(),
    };
  });
}

/** Every rate of the organization (a few per model), by vendor, model and start; each with when the next one superseded it. */
export async function listVendorRates(prisma: PrismaClient, organizationId: string, query: VendorRateListQuery, now = new Date()): Promise<{ data: VendorRateJson[] }> {
  const rows = await prisma.vendorRate.findMany({
    where: { organizationId, ...(query.vendor ? { vendor: query.vendor } : {}), ...(query.model ? { model: query.model } : {}) },
  });
  return { data: describeRates(rows, now) };
}

/** A new rate for a vendor and model; from its effective_from it supersedes the earlier ones. */
export async function addVendorRate(prisma: PrismaClient, organizationId: string, input: VendorRateCreate, actor: AuditActor, now = new Date()): Promise<VendorRateJson> {
  let effectiveFrom = input.effective_from ? new Date(input.effective_from) : now;
  const backDated = now.getTime() - effectiveFrom.getTime() > SKEW_MS;
  try {
    return await prisma.$transaction(async (tx) => {
      // One new rate of a pair at a time: the back-dating check below reads the pair's rates as they stand.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`vendor-rate:${organizationId}:${input.vendor}:${input.model}`}, 0))`;
      const pair = await tx.vendorRate.findMany({ where: { organizationId, vendor: input.vendor, model: input.model }, orderBy: { effectiveFrom: 'desc' } });
      const covering = effectiveFrom < now ? rateInEffect(pair, input.vendor, input.model, effectiveFrom) : undefined;
      // "Now" sent a little late (clock skew) starts now when a rate is in effect: never before it, over events it priced.
      if (covering && !backDated) effectiveFrom = now;
      else if (covering) {
        throw new DomainError(
          'invalid',
          'VALIDATION_ERROR',
          `effective_from: ${input.vendor}/${input.model} had a rate in effect at ${effectiveFrom.toISOString()} (from ${covering.effectiveFrom.toISOString()}); events already rated keep the rate they were rated with, so a rate can start in the past only where the pair had none — start it now or later`,
          'effective_from',
        );
      }
      const earlier = pair[0];
      const currency = input.currency ?? earlier?.currency ?? 'usd';
      if (earlier && earlier.currency !== currency) {
        throw new DomainError(
          'invalid',
          'VALIDATION_ERROR',
          `currency: ${input.vendor}/${input.model} is priced in ${earlier.currency.toUpperCase()}; a rate in ${currency.toUpperCase()} would add up costs in two currencies as one number`,
          'currency',
        );
      }
      const row = await tx.vendorRate.create({
        data: {
          organizationId,
          vendor: input.vendor,
          model: input.model,
          currency,
          ...(Object.fromEntries(RATE_PRICES.map(({ key, name }) => [key, input[name] ?? null])) as Record<keyof RatePrices, string | null>),
          effectiveFrom,
        },
      });
      const created = describeRates([...pair, row], now).find((r) => r.id === row.id)!;
      const { id: _id, in_effect: _inEffect, created_at: _createdAt, ...settings } = created;
      await writeAudit(tx, { organizationId, actor, action: 'vendor_rate.created', entityType: 'vendor_rate', entityId: row.id, after: settings });
      return created;
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    throw new DomainError(
      'conflict',
      'ALREADY_EXISTS',
      `${input.vendor}/${input.model} already has a rate starting at ${effectiveFrom.toISOString()}: rates are not edited, so start the new one at another instant`,
      'effective_from',
    );
  }
}

/**
 * Prices one usage line at the rate in effect now, by the rule ingest rates
 * events with (billing/token-cost.ts): the cost, exact and unrounded, and the
 * rate. Refused when no rate is in effect, or it has no price for a count.
 */
export async function priceNow(prisma: PrismaClient, organizationId: string, usage: TokenUsage, now = new Date()): Promise<{ cost: string; currency: string; rate: VendorRateJson }> {
  const pair = await prisma.vendorRate.findMany({ where: { organizationId, vendor: usage.vendor, model: usage.model } });
  const rate = describeRates(pair, now).find((r) => r.in_effect);
  const row = rate && pair.find((r) => r.id === rate.id)!;
  if (!rate || !row) throw new DomainError('not_found', 'RATE_NOT_FOUND', `No rate in effect for ${usage.vendor}/${usage.model}`, 'model');
  const priced = linePrice(tokenRateOf(row), usage);
  if (!priced.ok) {
    throw new DomainError(
      'invalid',
      'UNPRICED_USAGE',
      `${priced.unpricedCounts.join(', ')}: the rate in effect for ${usage.vendor}/${usage.model} (${rate.id}) has no price for ${priced.unpricedCounts.length === 1 ? 'it' : 'them'}; add a rate that has`,
      priced.unpricedCounts[0],
    );
  }
  return { cost: toPlainString(priced.cost), currency: rate.currency, rate };
}

export const ProvidersPricingQuerySchema = z.strictObject({
  vendor: z.string().min(1).optional().meta({ description: 'Only this vendor (provider)' }),
});
export type ProvidersPricingQuery = z.output<typeof ProvidersPricingQuerySchema>;

export const ProvidersPricingSchema = z
  .object({
    data: z.array(
      z.object({
        vendor: z.string(),
        models: z.array(
          z.object({
            model: z.string(),
            currency: z.string(),
            current: VendorRateSchema.nullable().meta({ description: 'The rate events of this model timestamped now are priced with; null: none (their usage is left unpriced)' }),
            upcoming: z.array(VendorRateSchema).meta({ description: 'Rates announced to start later, earliest first' }),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'ProvidersPricing' });
export type ProvidersPricingJson = z.output<typeof ProvidersPricingSchema>;

/**
 * The organization's price book: per vendor (provider) and model, the rate in
 * effect now and those announced for later — what usage sent now costs, and
 * what changes when. History stays on GET /vendor-rates.
 */
export async function providersPricing(prisma: PrismaClient, organizationId: string, query: ProvidersPricingQuery, now = new Date()): Promise<ProvidersPricingJson> {
  const rates = describeRates(await prisma.vendorRate.findMany({ where: { organizationId, ...(query.vendor ? { vendor: query.vendor } : {}) } }), now);
  const vendors = new Map<string, Map<string, ProvidersPricingJson['data'][number]['models'][number]>>();
  for (const rate of rates) {
    const models = vendors.get(rate.vendor) ?? new Map();
    vendors.set(rate.vendor, models);
    const entry = models.get(rate.model) ?? { model: rate.model, currency: rate.currency, current: null, upcoming: [] };
    models.set(rate.model, entry);
    if (rate.in_effect) entry.current = rate;
    else if (Date.parse(rate.effective_from) > now.getTime()) entry.upcoming.push(rate);
  }
  return { data: [...vendors].map(([vendor, models]) => ({ vendor, models: [...models.values()] })) };
}

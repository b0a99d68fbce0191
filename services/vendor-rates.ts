import { z } from 'zod';
import 'zod-openapi';
import { isKnownCurrency } from '../billing/currency';
import { rateInEffect } from '../billing/token-cost';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { PrismaClient, VendorRateModel } from '../prisma/client';
import { isUniqueViolation } from '../prisma/errors';
import { DomainError } from './errors';
import { storableName } from './schemas/name';

/*
 * What a model vendor charges the organization per million tokens: the cost
 * side of every rated event (margins, leak detection). A rate is never
 * edited: a price change is a new rate with a later effective_from, and from
 * that instant it supersedes the one before (the latest start in effect
 * wins, billing/token-cost.ts rateInEffect), so the history of what was in
 * effect when stays exactly as it was. Events are rated when their batch is
 * processed and keep the rate they were rated with, so a rate starts now or
 * later, never in the past; a vendor and model keep one currency.
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

export const VendorRateCreateSchema = z.strictObject({
  vendor: storableName('The model vendor, as events name it in vendor_usage', 'openai'),
  model: storableName('The model, as events name it in vendor_usage', 'gpt-4o'),
  currency: z
    .string()
    .transform((c) => c.toLowerCase())
    .refine(isKnownCurrency, { message: 'is not a known ISO 4217 currency (e.g. usd, eur)', params: { code: 'UNKNOWN_CURRENCY' } })
    .optional()
    .meta({ description: 'ISO 4217 code, stored lower-case; default: the currency of this vendor and model\'s earlier rates, else usd. A vendor and model keep one currency (their events\' costs are added up).', example: 'usd' }),
  input_per_million_tokens: price('What the vendor charges per million input tokens', '2.50'),
  output_per_million_tokens: price('What the vendor charges per million output tokens', '10.00'),
  effective_from: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 instant like 2026-12-01T00:00:00Z' })
    .optional()
    .meta({
      description:
        'When the rate takes effect: now (the default) or later, never in the past — events are rated as they are processed and keep the rate they were rated with, so a back-dated rate would claim a history it did not have. From then on it supersedes the pair\'s earlier rates.',
      example: '2026-12-01T00:00:00Z',
    }),
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
    input_per_million_tokens: z.string(),
    output_per_million_tokens: z.string(),
    effective_from: z.string(),
    effective_to: z.string().nullable().meta({ description: 'An end the row was stored with (not set through this API); null: open' }),
    superseded_at: z.string().nullable().meta({ description: 'When the next rate of the same vendor and model took (or takes) over; null: none has' }),
    in_effect: z.boolean().meta({ description: 'Whether events of this vendor and model timestamped now are rated with it' }),
    created_at: z.string(),
  })
  .meta({ id: 'VendorRate' });
export type VendorRateJson = z.output<typeof VendorRateSchema>;

export const VendorRateListSchema = z.object({ data: z.array(VendorRateSchema) }).meta({ id: 'VendorRateList' });

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
      input_per_million_tokens: r.inputPerMillionTokens.toFixed(),
      output_per_million_tokens: r.outputPerMillionTokens.toFixed(),
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
  const effectiveFrom = input.effective_from ? new Date(input.effective_from) : now;
  if (now.getTime() - effectiveFrom.getTime() > SKEW_MS) {
    throw new DomainError(
      'invalid',
      'VALIDATION_ERROR',
      'effective_from: must be now or later: events already rated keep the rate they were rated with, so a rate cannot start in the past',
      'effective_from',
    );
  }
  try {
    return await prisma.$transaction(async (tx) => {
      const pair = await tx.vendorRate.findMany({ where: { organizationId, vendor: input.vendor, model: input.model }, orderBy: { effectiveFrom: 'desc' } });
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
          inputPerMillionTokens: input.input_per_million_tokens,
          outputPerMillionTokens: input.output_per_million_tokens,
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

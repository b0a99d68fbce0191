import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import 'zod-openapi';
import { dec, toPlainString } from '../billing/decimal';
import { writeAudit, type AuditActor } from '../prisma/audit';
import { Prisma, type PrismaClient } from '../prisma/client';
import { DomainError } from './errors';
import { decimalInput } from './schemas/decimal';
import { dateTimeInput } from './schemas/instant';
import { storableName } from './schemas/name';

/*
 * Burn tables (issue 15, point 3): what a unit of a meter costs in prepaid
 * credits, for one value of the meter's dimension or for the rest. Rates are
 * versions in time, never edited: a new one takes over from its
 * effective_from (ending the open one), because the ingest batches burn each
 * event at the rate in effect at its timestamp as they process it, and a
 * burn already made keeps its rate. Only sum and count meters burn: each
 * event adds its quantity (sum) or one (count) to them.
 */

/** Where a clock may be behind the caller's: an effective_from this far back counts as now. */
const SKEW_MS = 5 * 60_000;

export const BurnRateCreateSchema = z.strictObject({
  meter: storableName('The key of the meter whose units burn credits (a sum or count meter)', 'tokens'),
  dimension_value: storableName("A value of the meter's dimension this rate is for; absent: every value without a rate of its own (and events without one)", 'gpt-4o').optional(),
  credits: decimalInput("Credits burned per per_units units (0: this usage burns none and is invoiced at the plan's price)"),
  per_units: decimalInput('How many units `credits` is for (e.g. 1000 for "per 1,000 tokens")')
    .refine((v) => dec(v).gt(0), { message: 'must be more than 0' })
    .default('1'),
  effective_from: dateTimeInput(
    "When the rate takes effect: now (the default) or later; earlier only where this meter and value had no rate (events burned meanwhile keep the rate they burned at). It ends the meter and value's open rate.",
  ).optional(),
});
export type BurnRateCreate = z.output<typeof BurnRateCreateSchema>;

export const BurnRateListQuerySchema = z.strictObject({
  meter: z.string().min(1).optional().meta({ description: 'Only rates of this meter (key)' }),
});

export const BurnRateSchema = z
  .object({
    id: z.uuid(),
    meter: z.string(),
    dimension_value: z.string().nullable().meta({ description: 'null: every value without a rate of its own' }),
    credits: z.string(),
    per_units: z.string(),
    effective_from: z.string(),
    effective_to: z.string().nullable().meta({ description: 'null: open (in effect until a later rate takes over)' }),
    created_at: z.string(),
  })
  .meta({ id: 'CreditBurnRate' });
export type BurnRateJson = z.output<typeof BurnRateSchema>;

export const BurnRateListSchema = z.object({ data: z.array(BurnRateSchema) }).meta({ id: 'CreditBurnRateList' });

type RateRow = Prisma.CreditBurnRateGetPayload<{ include: { meter: { select: { key: true } } } }>;

const rateJson = (r: RateRow): BurnRateJson => ({
  id: r.id,
  meter: r.meter.key,
  dimension_value: r.dimensionValue,
  credits: toPlainString(dec(r.credits)),
  per_units: toPlainString(dec(r.perUnits)),
  effective_from: r.effectiveFrom.toISOString(),
  effective_to: r.effectiveTo?.toISOString() ?? null,
  created_at: r.createdAt.toISOString(),
});

/** The organization's burn rates, by meter, value and start. */
export async function listBurnRates(prisma: PrismaClient, organizationId: string, query: z.output<typeof BurnRateListQuerySchema>): Promise<{ data: BurnRateJson[] }> {
  const rows = await prisma.creditBurnRate.findMany({
    where: { organizationId, ...(query.meter ? { meter: { key: query.meter } } : {}) },
    include: { meter: { select: { key: true } } },
    orderBy: [{ meter: { key: 'asc' } }, { dimensionValue: { sort: 'asc', nulls: 'first' } }, { effectiveFrom: 'asc' }],
  });
  return { data: rows.map(rateJson) };
}

/** A new burn rate version for a meter (and value of its dimension). */
export async function addBurnRate(prisma: PrismaClient, organizationId: string, input: BurnRateCreate, actor: AuditActor, now = new Date()): Promise<BurnRateJson> {
  const meter = await prisma.meter.findUnique({ where: { organizationId_key: { organizationId, key: input.meter } } });
  if (!meter) throw new DomainError('invalid', 'UNKNOWN_METER', `meter: no meter ${input.meter} in your organization`, 'meter');
  if (meter.aggregation !== 'sum' && meter.aggregation !== 'count') {
    throw new DomainError('invalid', 'VALIDATION_ERROR', `meter: ${input.meter} is a ${meter.aggregation} meter; only sum and count meters burn credits per event`, 'meter');
  }
  const dimensionValue = input.dimension_value ?? null;
  if (dimensionValue !== null && meter.dimension === null) {
    throw new DomainError('invalid', 'UNKNOWN_FIELD', `dimension_value: meter ${input.meter} has no dimension`, 'dimension_value');
  }
  const requested = input.effective_from ?? now;
  const effectiveFrom = requested.getTime() > now.getTime() - SKEW_MS && requested.getTime() < now.getTime() ? now : requested;
  try {
    return await prisma.$transaction(async (tx) => {
      // No ingest batch is between reading the rates and its commit while this runs (prisma/burn-rates.ts holdBurnRates).
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`credit-burn-rates:${organizationId}`}, 0))`;
      const versions = await tx.creditBurnRate.findMany({ where: { organizationId, meterId: meter.id, dimensionValue }, orderBy: { effectiveFrom: 'desc' } });
      const latest = versions[0];
      const what = `${input.meter}${dimensionValue === null ? '' : ` (${meter.dimension} ${dimensionValue})`}`;
      if (latest && latest.effectiveFrom.getTime() >= effectiveFrom.getTime()) {
        throw new DomainError('conflict', 'CONFLICT', `effective_from: ${what} has a rate from ${latest.effectiveFrom.toISOString()}; rates are not edited, so start the new one after it`, 'effective_from');
      }
      const covers = (r: (typeof versions)[number]) => r.effectiveFrom.getTime() <= effectiveFrom.getTime() && (r.effectiveTo === null || r.effectiveTo.getTime() > effectiveFrom.getTime());
      if (effectiveFrom.getTime() < now.getTime() && versions.some(covers)) {
        throw new DomainError('conflict', 'CONFLICT', `effective_from: ${what} had a rate in effect at ${effectiveFrom.toISOString()}, which events may have burned at; start the new rate now or later`, 'effective_from');
      }
      // A covered event keeps no record of its meters: a close reads them from the rates in effect at its timestamp.
      // A rate starting at or before a covered event of this event type would change that reading after the fact.
      const [burned] = await tx.$queryRaw<{ timestamp: Date }[]>`
        SELECT e."timestamp" FROM usage_events e
         WHERE EXISTS (SELECT 1 FROM credit_transactions t WHERE t.organization_id = ${organizationId}::uuid AND t.kind = 'burn')
           AND e.organization_id = ${organizationId}::uuid AND e.event_type = ${meter.eventType} AND e."timestamp" >= ${effectiveFrom} AND e.credits_covered
         ORDER BY e."timestamp" DESC LIMIT 1`;
      if (burned) {
        throw new DomainError(
          'conflict',
          'CONFLICT',
          `effective_from: ${meter.eventType} events at or after ${effectiveFrom.toISOString()} have burned credits at the rates then in effect (the latest at ${burned.timestamp.toISOString()}); start the new rate after ${burned.timestamp.toISOString()}`,
          'effective_from',
        );
      }
      if (latest && latest.effectiveTo === null) await tx.creditBurnRate.update({ where: { id: latest.id }, data: { effectiveTo: effectiveFrom } });
      const created = await tx.creditBurnRate.create({
        data: {
          id: randomUUID(),
          organizationId,
          meterId: meter.id,
          dimensionValue,
          credits: input.credits,
          perUnits: input.per_units,
          effectiveFrom,
          createdBy: `${actor.type}:${actor.id}`,
        },
        include: { meter: { select: { key: true } } },
      });
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'credit_burn_rate.created',
        entityType: 'credit_burn_rate',
        entityId: created.id,
        after: { ...rateJson(created), endedRate: latest && latest.effectiveTo === null ? latest.id : null },
      });
      return rateJson(created);
    });
  } catch (err) {
    // Two rates for one meter and value created at once: the exclusion constraint keeps them apart.
    if (err instanceof Prisma.PrismaClientKnownRequestError && /credit_burn_rates_no_overlap/.test(String(err.meta?.['message'] ?? err.message))) {
      throw new DomainError('conflict', 'CONFLICT', 'effective_from: another rate for this meter and value was created at the same time; read the rates and try again', 'effective_from');
    }
    throw err;
  }
}

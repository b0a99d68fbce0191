import { dec } from '../billing/decimal';
import type { BurnRate } from '../billing/credit-burn';
import type { Queryable } from './pg';

/** An organization's burn rates, and the dimensions their meters read. */
export interface BurnRates {
  rates: BurnRate[];
  dimensions: string[];
}

/** The organization's burn rates (with what their meters read), and the dimensions those meters have; null when it has none. */
export async function loadBurnRates(db: Queryable, organizationId: string): Promise<BurnRates | null> {
  const { rows } = await db.query<{
    meter_id: string; event_type: string; aggregation: 'sum' | 'count'; dimension: string | null; dimension_value: string | null;
    credits: string; per_units: string; effective_from: Date; effective_to: Date | null;
  }>({
    name: 'ingest-burn-rates',
    text: `SELECT r.meter_id, m.event_type, m.aggregation::text AS aggregation, m.dimension, r.dimension_value, r.credits::text AS credits, r.per_units::text AS per_units,
                  r.effective_from, r.effective_to
             FROM credit_burn_rates AS r JOIN meters AS m ON m.id = r.meter_id
            WHERE r.organization_id = $1`,
    values: [organizationId],
  });
  if (rows.length === 0) return null;
  const rates: BurnRate[] = rows.map((r) => ({
    meterId: r.meter_id,
    eventType: r.event_type,
    aggregation: r.aggregation,
    dimension: r.dimension,
    dimensionValue: r.dimension_value,
    credits: dec(r.credits),
    perUnits: dec(r.per_units),
    effectiveFrom: r.effective_from,
    effectiveTo: r.effective_to,
  }));
  return { rates, dimensions: [...new Set(rates.flatMap((r) => (r.dimension ? [r.dimension] : [])))] };
}

/**
 * Holds the organization's burn rates still for the rest of the caller's transaction (a shared advisory lock): the
 * ingest batch takes it before reading the rates it burns at, and adding a rate takes it exclusively
 * (services/credit-burn-rates.ts), so a rate never lands between a batch's read of the rates and its commit. A close
 * reads which meters a covered event's credits covered from the rates in effect at its timestamp; this, and
 * refusing a rate that would change that for an event already burned, keep that reading what the burn decided.
 */
export async function holdBurnRates(db: Queryable, organizationId: string): Promise<void> {
  await db.query({ name: 'ingest-hold-burn-rates', text: `SELECT pg_advisory_xact_lock_shared(hashtextextended('credit-burn-rates:' || $1::text, 0))`, values: [organizationId] });
}


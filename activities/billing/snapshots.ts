import { ApplicationFailure } from '@temporalio/activity';
import { formatDay, nextUtcMidnight, startOfUtcDay } from '../../billing/calendar';
import { toPlainString } from '../../billing/decimal';
import { meterOf, planTimeline, type MeterRef } from '../../billing/draft-inputs';
import type { DayReading } from '../../billing/usage-readings';
import { readPlanChanges, readPlanPrices, readSubscriptionTerms } from '../../prisma/billing-reads';
import { Prisma } from '../../prisma/client';
import type { RawDb } from '../../prisma/raw-db';
import { aggregateUsage } from '../../prisma/usage-aggregates';
import type { ActivityDeps } from '../deps';

/**
 * Upserts one customer's daily readings of one meter on (customer, meter,
 * day, dimension value: a meter with a dimension has a reading per value, ''
 * for events without one; '' too for a meter without) and returns the
 * snapshot ids, one per reading, in the readings' order. A row only changes
 * (and gets a new taken_at) when its numbers do, so re-running a snapshot
 * changes nothing.
 */
export async function upsertSnapshots(
  db: RawDb,
  scope: { organizationId: string; customerId: string; meterId: string; takenAt: Date },
  readings: readonly DayReading[],
): Promise<string[]> {
  if (readings.length === 0) return [];
  const values = readings.map((r) => r.dimensionValue ?? '');
  const days = readings.map((r) => formatDay(r.day));
  type Row = { id: string; day: Date; dimension_value: string };
  const stored = Prisma.sql`
    SELECT s.id, (s.day::timestamp AT TIME ZONE 'UTC') AS day, s.dimension_value FROM usage_snapshots s
     WHERE s.customer_id = ${scope.customerId}::uuid AND s.meter_id = ${scope.meterId}::uuid
       AND (s.day, s.dimension_value) IN (SELECT * FROM unnest(${days}::date[], ${values}::text[]))`;
  // One statement: rows the upsert wrote come back from it, rows it left unchanged from the table as the statement found them.
  const found = await db.$queryRaw<Row[]>`
    WITH upserted AS (
      INSERT INTO usage_snapshots (id, organization_id, customer_id, meter_id, dimension_value, day, quantity, event_count, cost, revenue, newest_at, newest_id, taken_at)
      SELECT gen_random_uuid(), ${scope.organizationId}::uuid, ${scope.customerId}::uuid, ${scope.meterId}::uuid, r.value, r.day, r.quantity, r.event_count, r.cost, r.revenue, r.newest_at, r.newest_id, ${scope.takenAt}
      FROM unnest(${days}::date[], ${readings.map((r) => toPlainString(r.quantity))}::numeric[], ${readings.map((r) => r.eventCount)}::int[],
                  ${readings.map((r) => toPlainString(r.cost))}::numeric[], ${readings.map((r) => toPlainString(r.revenue))}::numeric[],
                  ${readings.map((r) => r.newestAt)}::timestamptz[], ${readings.map((r) => r.newestId)}::uuid[], ${values}::text[])
        AS r(day, quantity, event_count, cost, revenue, newest_at, newest_id, value)
      ON CONFLICT (customer_id, meter_id, day, dimension_value) DO UPDATE SET
        quantity = EXCLUDED.quantity, event_count = EXCLUDED.event_count, cost = EXCLUDED.cost, revenue = EXCLUDED.revenue,
        newest_at = EXCLUDED.newest_at, newest_id = EXCLUDED.newest_id, taken_at = EXCLUDED.taken_at
      WHERE (usage_snapshots.quantity, usage_snapshots.event_count, usage_snapshots.cost, usage_snapshots.revenue, usage_snapshots.newest_id)
        IS DISTINCT FROM (EXCLUDED.quantity, EXCLUDED.event_count, EXCLUDED.cost, EXCLUDED.revenue, EXCLUDED.newest_id)
      RETURNING id, day, dimension_value
    )
    SELECT id, (day::timestamp AT TIME ZONE 'UTC') AS day, dimension_value FROM upserted
    UNION ALL
    ${stored} AND NOT EXISTS (SELECT 1 FROM upserted u WHERE u.day = s.day AND u.dimension_value = s.dimension_value)`;
  // A row another transaction committed after the statement began, with the same numbers, is in neither part (the
  // upsert skipped it, the statement's snapshot predates it): outside REPEATABLE READ a read of its own finds it.
  const rows = found.length === readings.length ? found : await db.$queryRaw<Row[]>(stored);
  const key = (day: Date, value: string) => `${day.getTime()}|${value}`;
  const byDay = new Map(rows.map((r) => [key(r.day, r.dimension_value), r.id]));
  return readings.map((r, i) => byDay.get(key(r.day, values[i]!))!);
}

/** Snapshots one meter's events over [from, to) per day (and value of its dimension) for a customer (aggregated in PostgreSQL). */
export async function snapshotMeter(
  db: RawDb,
  q: { organizationId: string; customerId: string; customerExternalId: string; meter: MeterRef; from: Date; to: Date; takenAt: Date },
): Promise<string[]> {
  const { days } = await aggregateUsage(db, q.meter, { organizationId: q.organizationId, customerExternalId: q.customerExternalId, eventType: q.meter.eventType, ranges: [{ start: q.from, end: q.to }] });
  return upsertSnapshots(db, { organizationId: q.organizationId, customerId: q.customerId, meterId: q.meter.id, takenAt: q.takenAt }, days);
}

export interface SnapshotUsageInput {
  organizationId: string;
  subscriptionId: string;
  /** any instant of the UTC day to snapshot (ISO) */
  day: string;
  /** the workflow's clock when it asked (ISO), recorded as taken_at */
  takenAt: string;
}

/** The daily snapshot: the subscription's customer × each priced meter (× each value of its dimension) × one UTC day, as an upsert. */
export function snapshotUsage({ prisma }: ActivityDeps) {
  return async function snapshotUsage(input: SnapshotUsageInput): Promise<{ snapshots: number }> {
    const terms = await readSubscriptionTerms(prisma, input.organizationId, input.subscriptionId);
    if (!terms) throw ApplicationFailure.nonRetryable(`subscription ${input.subscriptionId} not found`, 'NotFound');
    const from = startOfUtcDay(new Date(input.day));
    const to = nextUtcMidnight(from);
    let snapshots = 0;
    // The plan in effect that day: a change recorded for a later instant (the period end) has moved the subscription's plan already.
    const inEffect = planTimeline(terms.plan, await readPlanChanges(prisma, input.subscriptionId))(from);
    // A meter with a dimension is priced by several prices (one per value the plan names): snapshot it once.
    const meters = new Map((await readPlanPrices(prisma, inEffect.id)).map((p) => [p.meter.id, p.meter]));
    for (const meter of meters.values()) {
      const ids = await snapshotMeter(prisma, {
        organizationId: input.organizationId,
        customerId: terms.customerId,
        customerExternalId: terms.customer.externalId,
        meter: meterOf(meter),
        from,
        to,
        takenAt: new Date(input.takenAt),
      });
      snapshots += ids.length;
    }
    return { snapshots };
  };
}

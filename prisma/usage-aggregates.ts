import { dec, type Dec } from '../billing/decimal';
import type { DimensionSlice } from '../billing/dimension-slices';
import { combineDaily, validateMeter, type Meter } from '../billing/meter-aggregation';
import type { DayReading } from '../billing/usage-readings';
import { Prisma } from './generated/client';
import { planPerCall, type RawDb } from './raw-db';

/*
 * Meter readings computed where the events are: one customer's events of one
 * type aggregated by PostgreSQL (GROUP BY UTC day), so a close, a snapshot or
 * a leak check never ships event rows into Node. The SQL follows
 * billing/meter-aggregation.ts `aggregate` rule for rule (test/usage-aggregates.test.ts
 * checks them against each other): sum, count and max of quantities; distinct
 * non-null values of a property; the quantity of the newest event, ties on
 * timestamp going to the larger id.
 */

/** One customer's events of one type in any of `ranges` ([start, end)), narrowed by `where` (on alias `e`). */
export interface UsageScope {
  organizationId: string;
  customerExternalId: string;
  eventType: string;
  ranges: readonly { start: Date; end: Date }[];
  where?: Prisma.Sql;
}

const TRUE = Prisma.sql`true`;

/** `e` falls in one of the ranges ([start, end)). */
function inRanges(ranges: readonly { start: Date; end: Date }[]): Prisma.Sql {
  if (ranges.length === 0) return Prisma.sql`false`;
  return Prisma.sql`(${Prisma.join(ranges.map((r) => Prisma.sql`(e."timestamp" >= ${r.start} AND e."timestamp" < ${r.end})`), ' OR ')})`;
}

function scopeSql(s: UsageScope): Prisma.Sql {
  return Prisma.sql`e.organization_id = ${s.organizationId}::uuid AND e.customer_external_id = ${s.customerExternalId} AND e.event_type = ${s.eventType}
    AND ${inRanges(s.ranges)} AND (${s.where ?? TRUE})`;
}

/**
 * `e` falls in the slice of a dimensional meter a price bills (billing/draft-inputs.ts inSlice, rule for
 * rule): its dimension property, as text, is the slice's value; or, for a default slice, is none of the
 * others (absent counts as no value).
 */
export function sliceSql(slice: DimensionSlice | undefined): Prisma.Sql {
  if (!slice) return TRUE;
  if (slice.value !== null) return Prisma.sql`(e.properties ->> ${slice.dimension}) = ${slice.value}`;
  if (slice.others.length === 0) return TRUE;
  return Prisma.sql`COALESCE(e.properties ->> ${slice.dimension}, '') <> ALL(${slice.others}::text[])`;
}

/** The newest event (by timestamp, then id) as PostgreSQL's `max` of a row: its text form ends with `,<id>,<quantity>)`. */
const NEWEST = Prisma.sql`max(ROW(e."timestamp", e.id, e.quantity))`;

function parseNewest(text: string | null): { id: string; quantity: Dec } | null {
  if (text === null) return null;
  const fields = text.slice(0, -1).split(',');
  return { id: fields[fields.length - 2]!, quantity: dec(fields[fields.length - 1]!) };
}

/** SQL for the meter's quantity over the rows matching `filter`, as text (`latest`: the newest row, read with `quantityOf`). */
export function quantitySql(meter: Meter, filter: Prisma.Sql = TRUE): Prisma.Sql {
  validateMeter(meter);
  switch (meter.aggregation) {
    case 'sum':
      return Prisma.sql`COALESCE(sum(e.quantity) FILTER (WHERE ${filter}), 0)::text`;
    case 'count':
      return Prisma.sql`(count(*) FILTER (WHERE ${filter}))::text`;
    case 'max':
      return Prisma.sql`COALESCE(max(e.quantity) FILTER (WHERE ${filter}), 0)::text`;
    case 'unique_count':
      // JSON null counts as absent, as in `aggregate`.
      return Prisma.sql`(count(DISTINCT NULLIF(e.properties -> ${meter.property!}, 'null'::jsonb)) FILTER (WHERE ${filter}))::text`;
    case 'latest':
      return Prisma.sql`(${NEWEST} FILTER (WHERE ${filter}))::text`;
  }
}

/** A sum or count meter's units of event `e`: its quantity, or one. */
const unitsSql = (meter: Meter): Prisma.Sql => (meter.aggregation === 'count' ? Prisma.sql`1` : Prisma.sql`e.quantity`);

/** Only sum and count meters burn prepaid credits (billing/credit-burn.ts): the others' usage is never net of credits. */
const burnsCredits = (meter: Meter): boolean => meter.aggregation === 'sum' || meter.aggregation === 'count';

/**
 * What the events burned: `FROM usage_events e ${EVENT_CREDITS_JOIN}` gives creditedSql its `ec`, the events a wallet
 * could not cover in full (and every burned event rated before usage_events.credits_covered existed). An event with
 * neither that row nor credits_covered burned nothing.
 */
export const EVENT_CREDITS_JOIN = Prisma.sql`LEFT JOIN usage_event_credits ec ON ec.event_id = e.id`;

/**
 * SQL: does the meter's burn rate in effect at the event's timestamp, for the event's value of the meter's dimension
 * (that value's own rate before the default one), burn credits? Whether a covered event's credits covered this meter:
 * billing/credit-burn.ts eventBurn's meterIds, rule for rule (test/credits-covered-meters.test.ts checks the two agree).
 * Burn rates are versions never edited and a meter's dimension never changes, so this reads what the burn read.
 */
function burnRateCoversSql(meterId: string): Prisma.Sql {
  return Prisma.sql`COALESCE((SELECT r.credits > 0 FROM credit_burn_rates r JOIN meters m ON m.id = r.meter_id
      WHERE r.meter_id = ${meterId}::uuid AND r.effective_from <= e."timestamp" AND (r.effective_to IS NULL OR r.effective_to > e."timestamp")
        AND (r.dimension_value IS NULL OR r.dimension_value = e.properties ->> m.dimension)
      ORDER BY r.dimension_value IS NULL LIMIT 1), false)`;
}

/**
 * SQL for the units of the meter prepaid credits covered over the rows matching `filter`, as text: every unit of an
 * event its wallet covered in full (credits_covered) when the meter's burn rate priced it; for an event with a
 * usage_event_credits row that burned for this meter, its units less the share of them its wallet could not cover
 * (billing/credit-burn.ts billableUnits, rule for rule). 0 for a meter that cannot burn credits. Reads `e` (with
 * credits_covered, "timestamp" and properties) and `ec` (EVENT_CREDITS_JOIN).
 */
export function creditedSql(meter: Meter & { id: string }, filter: Prisma.Sql = TRUE): Prisma.Sql {
  if (!burnsCredits(meter)) return Prisma.sql`'0'::text`;
  const units = unitsSql(meter);
  return Prisma.sql`(COALESCE(sum(${units} - round(${units} * ec.uncovered / ec.credits, 6))
    FILTER (WHERE ${filter} AND ${meter.id}::uuid = ANY(ec.meter_ids)), 0)
    + COALESCE(sum(${units}) FILTER (WHERE ${filter} AND CASE WHEN e.credits_covered THEN ${burnRateCoversSql(meter.id)} ELSE false END), 0))::text`;
}

/** SQL for the meter's quantity an invoice bills over the rows matching `filter`, as text: its quantity less what prepaid credits covered. */
export function billableQuantitySql(meter: Meter & { id: string }, filter: Prisma.Sql = TRUE): Prisma.Sql {
  if (!burnsCredits(meter)) return quantitySql(meter, filter);
  return Prisma.sql`(${quantitySql(meter, filter)}::numeric - ${creditedSql(meter, filter)}::numeric)::text`;
}

/** The quantity from a `quantitySql` column. */
export function quantityOf(meter: Meter, raw: string | null): Dec {
  if (meter.aggregation === 'latest') return parseNewest(raw)?.quantity ?? dec(0);
  return dec(raw ?? 0);
}

interface DayRow {
  day: Date;
  dimension_value: string | null;
  quantity: string | null;
  credited: string;
  event_count: number;
  cost: string;
  revenue: string;
  newest_at: Date;
  newest: string;
}

export interface UsageAggregate {
  /** the meter's reading per UTC day that has events, oldest first (what usage_snapshots store); per value too, for a meter with a dimension */
  days: DayReading[];
  /** the meter's quantity over every matching event */
  quantity: Dec;
  /** of it, the units prepaid credits covered (what an invoice bills is quantity less this) */
  credited: Dec;
  events: number;
}

/**
 * The meter's daily readings (per value of its dimension, when it has one)
 * and total quantity over the scope's events (of its slice, for a price of a
 * dimensional meter).
 * One GROUP BY statement; `unique_count` needs a second (a value seen on two
 * days counts once in the total).
 */
export async function aggregateUsage(db: RawDb, meter: Meter & { id: string; dimension?: string; slice?: DimensionSlice }, scope: UsageScope): Promise<UsageAggregate> {
  const where = Prisma.sql`${scopeSql(scope)} AND ${sliceSql(meter.slice)}`;
  const value = meter.dimension ? Prisma.sql`COALESCE(e.properties ->> ${meter.dimension}, '')` : Prisma.sql`NULL::text`;
  // (a customer's events: planned for each call, prisma/raw-db.ts planPerCall)
  const rows = await db.$queryRaw<DayRow[]>(
    planPerCall(Prisma.sql`
    SELECT (date_trunc('day', e."timestamp" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS day, ${value} AS dimension_value,
           ${meter.aggregation === 'latest' ? Prisma.sql`NULL::text` : quantitySql(meter)} AS quantity, ${creditedSql(meter)} AS credited,
           count(*)::int AS event_count, COALESCE(sum(e.cost), 0)::text AS cost, COALESCE(sum(e.revenue), 0)::text AS revenue,
           max(e."timestamp") AS newest_at, ${NEWEST}::text AS newest
    FROM usage_events e ${EVENT_CREDITS_JOIN} WHERE ${where}
    GROUP BY 1, 2 ORDER BY 1, 2`),
  );
  const days: DayReading[] = rows.map((r) => {
    const newest = parseNewest(r.newest)!;
    return {
      day: r.day,
      ...(r.dimension_value !== null ? { dimensionValue: r.dimension_value } : {}),
      quantity: meter.aggregation === 'latest' ? newest.quantity : dec(r.quantity ?? 0),
      eventCount: r.event_count,
      cost: dec(r.cost),
      revenue: dec(r.revenue),
      newestAt: r.newest_at,
      newestId: newest.id,
    };
  });
  const events = days.reduce((n, d) => n + d.eventCount, 0);
  const credited = rows.reduce((sum, r) => sum.plus(dec(r.credited)), dec(0));
  if (meter.aggregation !== 'unique_count') {
    return { days, events, credited, quantity: combineDaily(meter, days.map((d) => ({ day: d.day.toISOString(), quantity: d.quantity, newestAt: d.newestAt, newestId: d.newestId }))) };
  }
  if (days.length <= 1) return { days, events, credited, quantity: days[0]?.quantity ?? dec(0) };
  const [total] = await db.$queryRaw<{ quantity: string }[]>(planPerCall(Prisma.sql`SELECT ${quantitySql(meter)} AS quantity FROM usage_events e WHERE ${where}`));
  return { days, events, credited, quantity: dec(total!.quantity) };
}

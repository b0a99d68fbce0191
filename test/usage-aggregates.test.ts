import { randomUUID } from 'node:crypto';
import { billableUnits } from '../billing/credit-burn';
import { dec, type Dec } from '../billing/decimal';
import { inSlice, type DimensionSlice } from '../billing/dimension-slices';
import { aggregate, type Meter, type MeterAggregation } from '../billing/meter-aggregation';
import { readingsByDay, type RatedEvent } from '../billing/usage-readings';
import { Prisma } from '../prisma/client';
import { aggregateUsage } from '../prisma/usage-aggregates';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma } from './harness/fixtures';
import { insertBatch } from './harness/insert-batch';

/*
 * The close, snapshots, previews and leak checks aggregate usage in
 * PostgreSQL (prisma/usage-aggregates.ts). billing/meter-aggregation.ts and
 * billing/usage-readings.ts state the rules; this checks the SQL against them
 * on awkward data: ties on timestamp, six-decimal quantities, property values
 * of every JSON type (null and missing count as absent), events without cost,
 * and events that burned prepaid credits (for this meter or another, covered
 * in full, in part, or not at all) against billing/credit-burn.ts billableUnits.
 */

const CUSTOMER = 'agg-customer';
const DAY0 = Date.UTC(2026, 9, 30, 22); // two hours before a month end

/** A small deterministic generator, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const USERS: unknown[] = ['ann', 'bob', 1, 2.5, true, false, { team: 'x' }, ['a'], null, undefined, 'ANN', '1'];

let organizationId: string;
let events: RatedEvent[];
const METER_ID = randomUUID();
/** what each event burned, by id (absent: nothing) */
const burnedOf = new Map<string, { credits: Dec; uncovered: Dec; meterIds: string[] }>();

beforeAll(async () => {
  ({ organizationId } = await createTestOrganization('agg'));
  const next = random(42);
  const planned = Array.from({ length: 400 }, (_, i) => {
    // Some events share a millisecond (ties go to the larger id), spread over three UTC days.
    const at = new Date(DAY0 + Math.floor(next() * 50) * 3_600_000 * (i % 7 === 0 ? 0 : 1) + Math.floor(next() * 3) * 1000);
    const quantity = (Math.floor(next() * 10_000_000) / 1_000_000).toFixed(6);
    const user = USERS[Math.floor(next() * USERS.length)];
    const cost = next() < 0.2 ? null : (next() / 1000).toFixed(12);
    const revenue = next() < 0.2 ? null : (next() * 10).toFixed(6);
    // Four in ten burned credits (some for another meter only; some at a rate of none); of those, a third in part, a third not at all.
    const burns = next() < 0.4;
    const credits = next() < 0.1 ? '0' : (Math.floor(next() * 5_000_000) / 1_000_000).toFixed(6);
    const share = next();
    const uncovered = share < 0.33 ? '0' : share < 0.66 ? credits : (Number(credits) * next()).toFixed(6);
    const meterIds = next() < 0.2 ? [randomUUID()] : [METER_ID];
    return { at, quantity, user, cost, revenue, burn: burns ? { credits, uncovered, meterIds } : null };
  });
  const batch = await insertBatch(
    testPrisma(),
    organizationId,
    planned.map((p) => ({ customerExternalId: CUSTOMER, timestamp: p.at.toISOString(), eventType: 'agg.call', quantity: p.quantity })),
  );
  for (const [i, id] of batch.eventIds.entries()) {
    const p = planned[i]!;
    const properties = p.user === undefined ? {} : { user: p.user };
    await testPrisma().$executeRaw`UPDATE usage_events SET properties = ${JSON.stringify(properties)}::jsonb, cost = ${p.cost}::numeric, revenue = ${p.revenue}::numeric WHERE id = ${id}::uuid`;
    // As rating writes it: a row only for an event that burned more than 0 credits (one that burned 0 is billed in full).
    if (p.burn && Number(p.burn.credits) > 0) {
      await testPrisma().usageEventCredit.create({ data: { eventId: id, credits: p.burn.credits, uncovered: p.burn.uncovered, meterIds: p.burn.meterIds } });
    }
    if (p.burn) burnedOf.set(id, { credits: dec(p.burn.credits), uncovered: dec(p.burn.uncovered), meterIds: p.burn.meterIds });
  }
  const rows = await testPrisma().usageEvent.findMany({ where: { organizationId } });
  events = rows.map((r) => ({
    id: r.id,
    quantity: dec(r.quantity),
    timestamp: r.timestamp,
    properties: r.properties as Record<string, unknown>,
    cost: r.cost === null ? null : dec(r.cost),
    revenue: r.revenue === null ? null : dec(r.revenue),
  }));
});

afterAll(async () => {
  await closeTestPrisma();
});

const METERS: (Meter & { id: string })[] = [
  ...(['sum', 'count', 'max', 'latest'] as MeterAggregation[]).map((aggregation) => ({ id: METER_ID, aggregation })),
  { id: METER_ID, aggregation: 'unique_count', property: 'user' },
];

/** The units prepaid credits covered (billing/credit-burn.ts): only sum and count meters burn. */
function credited(meter: Meter, subset: readonly RatedEvent[]): string {
  if (meter.aggregation !== 'sum' && meter.aggregation !== 'count') return '0';
  return subset
    .reduce((total, e) => {
      const b = burnedOf.get(e.id);
      if (!b || !b.meterIds.includes(METER_ID)) return total;
      const units = meter.aggregation === 'count' ? dec(1) : e.quantity;
      return total.plus(units.minus(billableUnits(units, b.credits, b.uncovered)));
    }, dec(0))
    .toFixed();
}
const plain = (r: ReturnType<typeof readingsByDay>[number]) => ({
  day: r.day.toISOString(),
  quantity: r.quantity.toFixed(),
  eventCount: r.eventCount,
  cost: r.cost.toFixed(),
  revenue: r.revenue.toFixed(),
  newestAt: r.newestAt?.toISOString() ?? null,
  newestId: r.newestId,
});

describe.each(METERS)('a $aggregation meter aggregated in PostgreSQL', (meter) => {
  it('gives the daily readings and the total that billing/ computes from the events', async () => {
    const range = { start: new Date(DAY0 - 86_400_000), end: new Date(DAY0 + 4 * 86_400_000) };
    const sql = await aggregateUsage(testPrisma(), meter, { organizationId, customerExternalId: CUSTOMER, eventType: 'agg.call', ranges: [range] });
    expect(sql.days.length).toBeGreaterThanOrEqual(3);
    expect(sql.days.map(plain)).toEqual(readingsByDay(meter, events).map(plain));
    expect(sql.quantity.toFixed()).toBe(aggregate(meter, events).toFixed());
    expect(sql.events).toBe(events.length);
    expect(sql.credited.toFixed()).toBe(credited(meter, events));
    if (meter.aggregation === 'sum' || meter.aggregation === 'count') expect(sql.credited.gt(0)).toBe(true);
  });

  it('agrees over two ranges and a filter too', async () => {
    const cut = new Date(DAY0 + 20 * 3_600_000);
    const ranges = [
      { start: new Date(DAY0), end: cut },
      { start: new Date(cut.getTime() + 3_600_000), end: new Date(DAY0 + 40 * 3_600_000) },
    ];
    const inRanges = events.filter((e) => ranges.some((r) => e.timestamp >= r.start && e.timestamp < r.end) && e.cost !== null);
    const sql = await aggregateUsage(testPrisma(), meter, { organizationId, customerExternalId: CUSTOMER, eventType: 'agg.call', ranges, where: Prisma.sql`e.cost IS NOT NULL` });
    expect(sql.days.map(plain)).toEqual(readingsByDay(meter, inRanges).map(plain));
    expect(sql.quantity.toFixed()).toBe(aggregate(meter, inRanges).toFixed());
    expect(sql.credited.toFixed()).toBe(credited(meter, inRanges));
  });
});

/*
 * A price of a meter with a dimension reads a slice of its events (sliceSql): the dimension property as
 * PostgreSQL's `->>` gives it (numbers and booleans as their text, objects as JSON; null and missing as
 * no value), tested as billing/draft-inputs.ts inSlice tests a late event's value.
 */
describe.each<[string, DimensionSlice]>([
  ['user "ann"', { dimension: 'user', value: 'ann' }],
  ['user "1" (the string and the number)', { dimension: 'user', value: '1' }],
  ['user other than "ann", "1", "true"', { dimension: 'user', value: null, others: ['ann', '1', 'true'] }],
  ['user, any value', { dimension: 'user', value: null, others: [] }],
  ['a property no event has, other than "ann"', { dimension: 'absent', value: null, others: ['ann'] }],
])('the slice %s', (_name, slice) => {
  it('holds the events billing/ puts in it', async () => {
    const rows = await testPrisma().$queryRaw<{ id: string; v: string | null }[]>`SELECT id, properties ->> ${slice.dimension} AS v FROM usage_events WHERE organization_id = ${organizationId}::uuid`;
    const valueOf = new Map(rows.map((r) => [r.id, r.v]));
    const inIt = events.filter((e) => inSlice(slice, valueOf.get(e.id)!));
    expect(inIt.length).toBeGreaterThan(0);
    const range = { start: new Date(DAY0 - 86_400_000), end: new Date(DAY0 + 4 * 86_400_000) };
    for (const meter of METERS) {
      const sql = await aggregateUsage(testPrisma(), { ...meter, slice }, { organizationId, customerExternalId: CUSTOMER, eventType: 'agg.call', ranges: [range] });
      expect(sql.events).toBe(inIt.length);
      expect(sql.quantity.toFixed()).toBe(aggregate(meter, inIt).toFixed());
    }
  });
});

it('no events: no days, and the quantity an empty period has', async () => {
  for (const meter of METERS) {
    const none = await aggregateUsage(testPrisma(), meter, { organizationId, customerExternalId: 'nobody', eventType: 'agg.call', ranges: [{ start: new Date(DAY0), end: new Date(DAY0 + 1) }] });
    expect({ days: none.days, quantity: none.quantity.toFixed() }).toEqual({ days: [], quantity: '0' });
  }
});

/*
 * A range claim bills the events its close's snapshot saw: those whose
 * storing transaction is visible in pg_current_snapshot() of the close's
 * REPEATABLE READ transaction. This pins the PostgreSQL behaviour that rests on.
 */
it('a REPEATABLE READ snapshot sees events committed before its first statement, not those committed after', async () => {
  const { organizationId: org } = await createTestOrganization('agg-snap');
  const [before] = (await insertBatch(testPrisma(), org, [{ customerExternalId: 'c', timestamp: new Date(DAY0).toISOString(), eventType: 'x' }])).eventIds;
  const close = await testPool().connect();
  try {
    await close.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await close.query('SELECT 1');
    const [after] = (await insertBatch(testPrisma(), org, [{ customerExternalId: 'c', timestamp: new Date(DAY0).toISOString(), eventType: 'x' }])).eventIds;
    const seen = async (id: string) => {
      // Read the (immutable) column outside the snapshot, then ask the close's snapshot about it.
      const [row] = await testPrisma().$queryRaw<{ xid: string }[]>`SELECT inserted_xid::text AS xid FROM usage_events WHERE id = ${id}::uuid`;
      const { rows } = await close.query<{ seen: boolean }>('SELECT pg_visible_in_snapshot($1::xid8, pg_current_snapshot()) AS seen', [row!.xid]);
      return rows[0]!.seen;
    };
    expect(await seen(before!)).toBe(true);
    expect(await seen(after!)).toBe(false);
    // Later statements of the same transaction keep the same snapshot.
    await close.query('SELECT 2');
    expect(await seen(after!)).toBe(false);
  } finally {
    await close.query('ROLLBACK');
    close.release();
  }
});

import { randomUUID } from 'node:crypto';
import type { DimensionSlice } from '../billing/dimension-slices';
import { billedInvoiceSql } from './billed-invoices';
import type { Db } from './billing-reads';
import { Prisma } from './generated/client';
import type { RawDb } from './raw-db';

/*
 * Which line bills an event, for a meter. A late-usage line claims its
 * events one by one for its meter (late_event_claims), so an event two meters
 * read is billed late by a line of each; a period's usage line claims a range
 * (usage_claims) and bills the events of it that its transaction's snapshot
 * saw. These fragments test an event row aliased `e`; `meter` is a SQL uuid
 * expression (meterRef for a known meter, or a column).
 */

/** A known meter's id as a SQL uuid for the fragments below. */
export const meterRef = (meterId: string): Prisma.Sql => Prisma.sql`${meterId}::uuid`;

/** `e` falls in claim `c`'s slice: any event of its range, or, for a slice of a dimensional meter, as prisma/usage-aggregates.ts sliceSql says. */
const IN_CLAIM_SLICE = Prisma.sql`(c.dimension IS NULL
  OR (c.dimension_value IS NOT NULL AND (e.properties ->> c.dimension) = c.dimension_value)
  OR (c.dimension_value IS NULL AND COALESCE(e.properties ->> c.dimension, '') <> ALL(c.dimension_others)))`;

/** Alias `l` (the line) and `i` (its invoice) for a line filter. */
const ofLine = (line: Prisma.Sql, lineFilter?: Prisma.Sql) =>
  lineFilter ? Prisma.sql`AND EXISTS (SELECT 1 FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE l.id = ${line} AND (${lineFilter}))` : Prisma.empty;

/** `e` is claimed one by one for `meter` by a late-usage line (matching `lineFilter`, on `l` and `i`). */
export function heldFor(meter: Prisma.Sql, lineFilter?: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`EXISTS (SELECT 1 FROM late_event_claims x WHERE x.event_id = e.id AND x.meter_id = ${meter} ${ofLine(Prisma.sql`x.invoice_line_id`, lineFilter)})`;
}

/**
 * `e` is billed by a live range claim: of `meter` when given, else of any
 * meter of its type (a close saw it: it is not late), whose line matches
 * `lineFilter` (on `l` and `i`).
 */
export function coveredByClaim(q: { meter?: Prisma.Sql; lineFilter?: Prisma.Sql } = {}): Prisma.Sql {
  const ofMeter = q.meter ? Prisma.sql`AND c.meter_id = ${q.meter}` : Prisma.empty;
  return Prisma.sql`EXISTS (
    SELECT 1 FROM usage_claims c
    WHERE c.organization_id = e.organization_id AND c.customer_external_id = e.customer_external_id AND c.event_type = e.event_type ${ofMeter}
      AND c.released_at IS NULL AND e."timestamp" >= c.range_start AND e."timestamp" < c.range_end
      AND pg_visible_in_snapshot(e.inserted_xid, c.snapshot) AND e.id <> ALL(c.excluded_event_ids) AND ${IN_CLAIM_SLICE} ${ofLine(Prisma.sql`c.invoice_line_id`, q.lineFilter)})`;
}

/**
 * `e` is on no line of `meter` yet: no late-usage line of the meter took it
 * and no close saw it (a close claims the ranges of every meter it prices;
 * one that saw the event without pricing this meter left it unbilled by
 * design, not late).
 */
export const unbilledFor = (meter: Prisma.Sql): Prisma.Sql => Prisma.sql`(NOT ${heldFor(meter)} AND NOT ${coveredByClaim()})`;

/** `e` is on no invoice line at all, of any meter. */
export const UNBILLED = Prisma.sql`(NOT EXISTS (SELECT 1 FROM late_event_claims x WHERE x.event_id = e.id) AND NOT ${coveredByClaim()})`;

/** `e` is not claimed one by one for `meter` (a range claim's own events never are, but for those excluded from it). */
export const notHeldFor = (meter: Prisma.Sql): Prisma.Sql => Prisma.sql`NOT ${heldFor(meter)}`;

/** `e` is billed by one of these lines. */
export function billedByLines(lineIds: readonly string[]): Prisma.Sql {
  if (lineIds.length === 0) return Prisma.sql`false`;
  return Prisma.sql`(EXISTS (SELECT 1 FROM late_event_claims x WHERE x.event_id = e.id AND x.invoice_line_id = ANY(${lineIds}::uuid[])) OR EXISTS (
    SELECT 1 FROM usage_claims c
    WHERE c.invoice_line_id = ANY(${lineIds}::uuid[]) AND c.released_at IS NULL AND c.customer_external_id = e.customer_external_id AND c.event_type = e.event_type
      AND e."timestamp" >= c.range_start AND e."timestamp" < c.range_end AND pg_visible_in_snapshot(e.inserted_xid, c.snapshot)
      AND e.id <> ALL(c.excluded_event_ids) AND ${IN_CLAIM_SLICE} AND NOT ${heldFor(Prisma.sql`c.meter_id`)}))`;
}

/** `e` is held by an invoice that does not count as billed (rejected, written off, void, replaced): forgiven or waiting, not billed. */
const HELD_UNBILLED = Prisma.sql`NOT ${billedInvoiceSql('i')}`;

/** `e` is unbilled for `meter` or billed for it by an invoice that counts as billed: what the meter's usage of a period now amounts to. */
export function billableFor(meter: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(
  (NOT ${heldFor(meter)} AND NOT ${coveredByClaim({ meter, lineFilter: HELD_UNBILLED })})
  OR ${heldFor(meter, billedInvoiceSql('i'))})`;
}

/** A live range claim (not released by a re-draft). */
export interface LiveClaim {
  meterId: string;
  start: Date;
  end: Date;
}

/** The live claims on one customer's usage of these meters that overlap [from, to). */
export async function readLiveClaims(db: RawDb, q: { organizationId: string; customerExternalId: string; meterIds: readonly string[]; from: Date; to: Date }): Promise<LiveClaim[]> {
  if (q.meterIds.length === 0) return [];
  const rows = await db.$queryRaw<{ meter_id: string; range_start: Date; range_end: Date }[]>`
    SELECT meter_id, range_start, range_end FROM usage_claims
    WHERE organization_id = ${q.organizationId}::uuid AND customer_external_id = ${q.customerExternalId} AND meter_id = ANY(${[...q.meterIds]}::uuid[])
      AND released_at IS NULL AND range_start < ${q.to} AND range_end > ${q.from}
    ORDER BY range_start`;
  return rows.map((r) => ({ meterId: r.meter_id, start: r.range_start, end: r.range_end }));
}

export interface NewClaim {
  invoiceLineId: string;
  customerExternalId: string;
  meterId: string;
  eventType: string;
  start: Date;
  end: Date;
  /** the slice of a dimensional meter the line bills; absent: every event of the range */
  slice?: DimensionSlice | undefined;
}

/**
 * Range claims as one INSERT (a data-modifying WITH of the close's draft), with
 * the snapshot of the calling transaction (which must be REPEATABLE READ, so
 * that it is the snapshot its reads saw), each with the events of its range a
 * late-usage line of its meter already holds (it does not bill those), and the
 * invoice of its lines. A concurrent claim of another invoice on the same
 * instants of the meter fails an exclusion constraint; the retried transaction
 * then sees it.
 */
export function claimsSql(organizationId: string, invoiceId: string, claims: readonly NewClaim[]): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO usage_claims (id, organization_id, invoice_line_id, customer_external_id, meter_id, event_type, range_start, range_end, snapshot, excluded_event_ids,
                              dimension, dimension_value, dimension_others, invoice_id)
    SELECT id, ${organizationId}::uuid, line, customer, meter, type, s, t, pg_current_snapshot(),
           ARRAY(SELECT e.id FROM late_event_claims x JOIN usage_events e ON e.id = x.event_id
                 WHERE x.organization_id = ${organizationId}::uuid AND x.meter_id = meter AND e.customer_external_id = customer
                   AND e."timestamp" >= s AND e."timestamp" < t),
           dim, dim_value, COALESCE((SELECT array_agg(o) FROM jsonb_array_elements_text(others) AS o), '{}'), ${invoiceId}::uuid
    FROM unnest(${claims.map(() => randomUUID())}::uuid[], ${claims.map((c) => c.invoiceLineId)}::uuid[], ${claims.map((c) => c.customerExternalId)}::text[],
                ${claims.map((c) => c.meterId)}::uuid[], ${claims.map((c) => c.eventType)}::text[], ${claims.map((c) => c.start)}::timestamptz[], ${claims.map((c) => c.end)}::timestamptz[],
                ${claims.map((c) => c.slice?.dimension ?? null)}::text[], ${claims.map((c) => c.slice?.value ?? null)}::text[],
                ${claims.map((c) => JSON.stringify(c.slice && c.slice.value === null ? c.slice.others : []))}::jsonb[])
      AS n(id, line, customer, meter, type, s, t, dim, dim_value, others)`;
}

/** A late-usage line's claim on its events for its meter. */
export interface LateClaim {
  invoiceLineId: string;
  meterId: string;
  eventIds: readonly string[];
}

/** Late-usage lines' claims as one INSERT (a data-modifying WITH of the close's draft). An event already claimed for the meter fails the primary key. */
export function lateClaimsSql(organizationId: string, claims: readonly LateClaim[]): Prisma.Sql {
  const rows = claims.flatMap((c) => c.eventIds.map((eventId) => ({ eventId, meterId: c.meterId, lineId: c.invoiceLineId })));
  return Prisma.sql`
    INSERT INTO late_event_claims (event_id, meter_id, invoice_line_id, organization_id)
    SELECT event, meter, line, ${organizationId}::uuid
    FROM unnest(${rows.map((r) => r.eventId)}::uuid[], ${rows.map((r) => r.meterId)}::uuid[], ${rows.map((r) => r.lineId)}::uuid[]) AS n(event, meter, line)`;
}

/** Gives back the events an invoice's late-usage lines claimed (a re-draft or a write-off), for the next close to bill as late usage; how many events. */
export async function releaseLateClaimsOf(db: RawDb, organizationId: string, invoiceId: string): Promise<number> {
  const [row] = await db.$queryRaw<{ n: number }[]>`
    WITH released AS (
      DELETE FROM late_event_claims
      WHERE organization_id = ${organizationId}::uuid AND invoice_line_id IN (SELECT id FROM invoice_lines WHERE invoice_id = ${invoiceId}::uuid)
      RETURNING event_id)
    SELECT count(DISTINCT event_id)::int AS n FROM released`;
  return row?.n ?? 0;
}

/** Releases an invoice's range claims (a re-draft): its events become unbilled again, for the next revision to claim. */
export async function releaseClaimsOf(db: RawDb, organizationId: string, invoiceId: string): Promise<number> {
  return db.$executeRaw`
    UPDATE usage_claims SET released_at = now()
    WHERE organization_id = ${organizationId}::uuid AND released_at IS NULL
      AND invoice_line_id IN (SELECT id FROM invoice_lines WHERE invoice_id = ${invoiceId}::uuid)`;
}

/** An event as the drill-down from an invoice line lists it. */
export interface LineEvent {
  id: string;
  idempotency_key: string;
  event_type: string;
  quantity: string;
  timestamp: Date;
  customer_external_id: string;
  cost: string | null;
  revenue: string | null;
}

/** The events of a line: its customer's events of its meter's type in its period that it bills (one by one, or by its range claims). */
function lineEventsFrom(organizationId: string, lineId: string): Prisma.Sql {
  return Prisma.sql`
    FROM invoice_lines l
    JOIN invoices i ON i.id = l.invoice_id
    JOIN customers cu ON cu.id = i.customer_id
    JOIN meters m ON m.id = l.meter_id
    JOIN usage_events e ON e.organization_id = l.organization_id AND e.customer_external_id = cu.external_id AND e.event_type = m.event_type
                       AND e."timestamp" >= l.period_start AND e."timestamp" < l.period_end
    WHERE l.id = ${lineId}::uuid AND l.organization_id = ${organizationId}::uuid AND ${billedByLines([lineId])}`;
}

/** A line's events, oldest first (then by id), after the cursor. */
export async function readLineEvents(db: Db, q: { organizationId: string; lineId: string; after?: { timestamp: Date; id: string }; limit: number }): Promise<LineEvent[]> {
  const after = q.after ? Prisma.sql`AND (e."timestamp", e.id) > (${q.after.timestamp}::timestamptz, ${q.after.id}::uuid)` : Prisma.empty;
  return db.$queryRaw<LineEvent[]>`
    SELECT e.id, e.idempotency_key, e.event_type, e.quantity::text AS quantity, e."timestamp", e.customer_external_id, e.cost::text AS cost, e.revenue::text AS revenue
    ${lineEventsFrom(q.organizationId, q.lineId)} ${after}
    ORDER BY e."timestamp", e.id LIMIT ${q.limit}`;
}

export async function countLineEvents(db: Db, q: { organizationId: string; lineId: string }): Promise<number> {
  const [row] = await db.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n ${lineEventsFrom(q.organizationId, q.lineId)}`;
  return row?.n ?? 0;
}

/** The invoice lines that bill an event (one per meter of its type that billed it, one by one or by a range claim), oldest first. */
export async function billingLinesOf(db: Db, organizationId: string, eventId: string): Promise<string[]> {
  const rows = await db.$queryRaw<{ line: string }[]>`
    SELECT line FROM (
      SELECT x.invoice_line_id AS line, x.created_at AS at FROM late_event_claims x WHERE x.event_id = ${eventId}::uuid AND x.organization_id = ${organizationId}::uuid
      UNION ALL
      SELECT c.invoice_line_id, c.created_at FROM usage_events e JOIN usage_claims c
        ON c.organization_id = e.organization_id AND c.customer_external_id = e.customer_external_id AND c.event_type = e.event_type
       AND c.released_at IS NULL AND e."timestamp" >= c.range_start AND e."timestamp" < c.range_end
       AND pg_visible_in_snapshot(e.inserted_xid, c.snapshot) AND e.id <> ALL(c.excluded_event_ids) AND ${IN_CLAIM_SLICE}
      WHERE e.id = ${eventId}::uuid AND e.organization_id = ${organizationId}::uuid AND NOT ${heldFor(Prisma.sql`c.meter_id`)}
    ) lines ORDER BY at, line`;
  return rows.map((r) => r.line);
}

/**
 * Makes the calling transaction a writer of the customer's usage claims:
 * two closes of one customer at once (a range claim of one and a late claim
 * of the other need not touch a common row) then conflict on this row under
 * REPEATABLE READ, and the later one fails with a serialization error, is
 * retried, and sees the other. (Two late claims of one event and meter would
 * also collide on late_event_claims' primary key and fail safely.)
 */
export async function lockCustomerUsage(db: RawDb, organizationId: string, customerId: string): Promise<void> {
  await db.$executeRaw`UPDATE customers SET usage_claimed_at = clock_timestamp() WHERE id = ${customerId}::uuid AND organization_id = ${organizationId}::uuid`;
}

/** The database's transaction ids run behind those its usage claims recorded (see assertClaimsMatchDatabase). */
export class TransactionIdsBehindClaims extends Error {}

/**
 * Refuses to run on a database whose transaction counter is behind the
 * snapshots its usage claims recorded: a dump restored into a new cluster,
 * say. There, new events would get transaction ids that old claims' snapshots
 * count as seen, and late usage would be taken for billed. The API and the
 * worker check this at start; README "Restoring the database" says what to do.
 */
export async function assertClaimsMatchDatabase(db: Db): Promise<void> {
  const [row] = await db.$queryRaw<{ ahead: string | null; now: string }[]>`
    SELECT max(pg_snapshot_xmax(snapshot))::text AS ahead, pg_current_xact_id()::text AS now FROM usage_claims`;
  if (row?.ahead && BigInt(row.ahead) > BigInt(row.now)) {
    throw new TransactionIdsBehindClaims(
      `this database's transaction ids (now ${row.now}) are behind those its usage claims recorded (up to ${row.ahead}): was it restored into a new PostgreSQL cluster? ` +
        'Advance the transaction counter past that first (README, "Restoring the database"), or late usage would be taken for billed.',
    );
  }
}

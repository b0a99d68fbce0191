import { randomUUID } from 'node:crypto';
import type { DimensionSlice } from '../billing/dimension-slices';
import { billedInvoiceSql } from './billed-invoices';
import type { Db } from './billing-reads';
import { Prisma } from './generated/client';
import type { RawDb } from './raw-db';

/*
 * Which line bills an event. A late-usage line names its events one by one
 * (usage_events.invoice_line_id); a period's usage line claims a range
 * (usage_claims) and bills the events of it that its transaction's snapshot
 * saw. These fragments test an event row aliased `e`.
 */

/** `e` falls in claim `c`'s slice: any event of its range, or, for a slice of a dimensional meter, as prisma/usage-aggregates.ts sliceSql says. */
const IN_CLAIM_SLICE = Prisma.sql`(c.dimension IS NULL
  OR (c.dimension_value IS NOT NULL AND (e.properties ->> c.dimension) = c.dimension_value)
  OR (c.dimension_value IS NULL AND COALESCE(e.properties ->> c.dimension, '') <> ALL(c.dimension_others)))`;

/** `e` is billed by a live range claim (whose line matches `lineFilter`, on alias `l`, the claim's invoice line, and `i`, its invoice). */
export function coveredByClaim(lineFilter?: Prisma.Sql): Prisma.Sql {
  const ofLine = lineFilter ? Prisma.sql`AND EXISTS (SELECT 1 FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE l.id = c.invoice_line_id AND (${lineFilter}))` : Prisma.empty;
  return Prisma.sql`EXISTS (
    SELECT 1 FROM usage_claims c
    WHERE c.organization_id = e.organization_id AND c.customer_external_id = e.customer_external_id AND c.event_type = e.event_type
      AND c.released_at IS NULL AND e."timestamp" >= c.range_start AND e."timestamp" < c.range_end
      AND pg_visible_in_snapshot(e.inserted_xid, c.snapshot) AND e.id <> ALL(c.excluded_event_ids) AND ${IN_CLAIM_SLICE} ${ofLine})`;
}

/** `e` is on no invoice line yet (neither claimed one by one nor by a range). */
export const UNBILLED = Prisma.sql`(e.invoice_line_id IS NULL AND NOT ${coveredByClaim()})`;

/** `e` is billed by one of these lines. */
export function billedByLines(lineIds: readonly string[]): Prisma.Sql {
  if (lineIds.length === 0) return Prisma.sql`false`;
  return Prisma.sql`(e.invoice_line_id = ANY(${lineIds}::uuid[]) OR (e.invoice_line_id IS NULL AND EXISTS (
    SELECT 1 FROM usage_claims c
    WHERE c.invoice_line_id = ANY(${lineIds}::uuid[]) AND c.released_at IS NULL AND c.customer_external_id = e.customer_external_id AND c.event_type = e.event_type
      AND e."timestamp" >= c.range_start AND e."timestamp" < c.range_end AND pg_visible_in_snapshot(e.inserted_xid, c.snapshot)
      AND e.id <> ALL(c.excluded_event_ids) AND ${IN_CLAIM_SLICE})))`;
}

/** `e` is held by an invoice that does not count as billed (rejected, written off, void, replaced): forgiven or waiting, not billed. */
const HELD_UNBILLED = Prisma.sql`NOT ${billedInvoiceSql('i')}`;

/** `e` is unbilled or billed by an invoice that counts as billed: what the usage of a period now amounts to. */
export const BILLABLE = Prisma.sql`(
  (e.invoice_line_id IS NULL AND NOT ${coveredByClaim(HELD_UNBILLED)})
  OR (e.invoice_line_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE l.id = e.invoice_line_id AND ${HELD_UNBILLED})))`;

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
 * Writes range claims with the snapshot of the calling transaction (which
 * must be REPEATABLE READ, so that it is the snapshot its reads saw), each
 * with the events of its range a late-usage line already holds (it does not
 * bill those), and the invoice of its line (written before). A concurrent
 * claim of another invoice on the same instants of the meter fails an
 * exclusion constraint; the retried transaction then sees it.
 */
export async function insertClaims(db: RawDb, organizationId: string, claims: readonly NewClaim[]): Promise<void> {
  if (claims.length === 0) return;
  await db.$executeRaw`
    INSERT INTO usage_claims (id, organization_id, invoice_line_id, customer_external_id, meter_id, event_type, range_start, range_end, snapshot, excluded_event_ids,
                              dimension, dimension_value, dimension_others, invoice_id)
    SELECT id, ${organizationId}::uuid, line, customer, meter, type, s, t, pg_current_snapshot(),
           ARRAY(SELECT e.id FROM usage_events e
                 WHERE e.organization_id = ${organizationId}::uuid AND e.customer_external_id = customer AND e.event_type = type
                   AND e."timestamp" >= s AND e."timestamp" < t AND e.invoice_line_id IS NOT NULL),
           dim, dim_value, COALESCE((SELECT array_agg(o) FROM jsonb_array_elements_text(others) AS o), '{}'),
           (SELECT l.invoice_id FROM invoice_lines l WHERE l.id = line)
    FROM unnest(${claims.map(() => randomUUID())}::uuid[], ${claims.map((c) => c.invoiceLineId)}::uuid[], ${claims.map((c) => c.customerExternalId)}::text[],
                ${claims.map((c) => c.meterId)}::uuid[], ${claims.map((c) => c.eventType)}::text[], ${claims.map((c) => c.start)}::timestamptz[], ${claims.map((c) => c.end)}::timestamptz[],
                ${claims.map((c) => c.slice?.dimension ?? null)}::text[], ${claims.map((c) => c.slice?.value ?? null)}::text[],
                ${claims.map((c) => JSON.stringify(c.slice && c.slice.value === null ? c.slice.others : []))}::jsonb[])
      AS n(id, line, customer, meter, type, s, t, dim, dim_value, others)`;
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

/** The invoice line that bills an event (one by one or by a range claim), or null when none does. */
export async function billingLineOf(db: Db, organizationId: string, eventId: string): Promise<string | null> {
  const [row] = await db.$queryRaw<{ line: string | null }[]>`
    SELECT COALESCE(e.invoice_line_id, (
      SELECT c.invoice_line_id FROM usage_claims c
      WHERE c.organization_id = e.organization_id AND c.customer_external_id = e.customer_external_id AND c.event_type = e.event_type
        AND c.released_at IS NULL AND e."timestamp" >= c.range_start AND e."timestamp" < c.range_end
        AND pg_visible_in_snapshot(e.inserted_xid, c.snapshot) AND e.id <> ALL(c.excluded_event_ids) AND ${IN_CLAIM_SLICE}
      ORDER BY c.created_at LIMIT 1)) AS line
    FROM usage_events e WHERE e.id = ${eventId}::uuid AND e.organization_id = ${organizationId}::uuid`;
  return row?.line ?? null;
}

/**
 * Makes the calling transaction a writer of the customer's usage claims:
 * two closes of one customer at once (a range claim and a late claim touch
 * no common row) then conflict on this row under REPEATABLE READ, and the
 * later one fails with a serialization error, is retried, and sees the other.
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

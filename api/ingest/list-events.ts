import type { Pool } from 'pg';
import type { z } from 'zod';
import { eventBurn } from '../../billing/credit-burn';
import { dec, toPlainString } from '../../billing/decimal';
import { loadBurnRates } from '../../prisma/burn-rates';
import { ApiError } from '../errors';
import type { ListEventsQuerySchema } from '../schemas/events';

type ListQuery = z.output<typeof ListEventsQuerySchema>;

interface Position {
  timestamp: Date;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Opaque to clients; it is the (timestamp, id) of the last row of the page. */
export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.timestamp.toISOString(), position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string' && UUID.test(value[1])) {
      const timestamp = new Date(value[0]);
      if (!Number.isNaN(timestamp.getTime())) return { timestamp, id: value[1] };
    }
  } catch {
    // fall through to the client error below
  }
  throw new ApiError(400, 'INVALID_CURSOR', 'cursor is not one this API returned', { field: 'cursor' });
}

interface EventRow {
  id: string;
  batch_id: string;
  idempotency_key: string;
  customer_external_id: string;
  customer_id: string | null;
  event_type: string;
  feature: string | null;
  quantity: string;
  timestamp: Date;
  properties: Record<string, unknown>;
  vendor_usage: unknown[];
  revenue_amount: string | null;
  currency: string | null;
  status: string;
  cost: string | null;
  revenue: string | null;
  received_at: Date;
  rated_at: Date | null;
  reservation_id: string | null;
  credits: string | null;
  credits_uncovered: string | null;
  /** an event its wallet covered in full: its properties as PostgreSQL's ->> reads them (what the burn read) */
  covered_dimensions: Record<string, string | null> | null;
}

const plain = (v: string | null): string | null => (v === null ? null : toPlainString(dec(v)));

/** Newest first, keyset-paginated on the (organization_id, timestamp, id) index. */
export async function listEvents(pool: Pool, organizationId: string, query: ListQuery) {
  const where = ['organization_id = $1'];
  const params: unknown[] = [organizationId];
  const add = (sql: string, value: unknown): void => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (query.customer) add('customer_external_id = ?', query.customer);
  if (query.event_type) add('event_type = ?', query.event_type);
  if (query.status) add('status = ?::event_status', query.status);
  if (query.from) add('"timestamp" >= ?::timestamptz', query.from.toISOString());
  if (query.to) add('"timestamp" < ?::timestamptz', query.to.toISOString());
  if (query.cursor) {
    const after = decodeCursor(query.cursor);
    params.push(after.timestamp.toISOString(), after.id);
    where.push(`("timestamp", id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(query.limit + 1);
  const { rows } = await pool.query<EventRow>(
    `SELECT e.id, batch_id, idempotency_key, customer_external_id, customer_id, event_type, feature, quantity::text AS quantity,
            "timestamp", properties, vendor_usage, revenue_amount::text AS revenue_amount, currency, status,
            cost::text AS cost, revenue::text AS revenue, received_at, rated_at, reservation_id,
            ec.credits::text AS credits, ec.uncovered::text AS credits_uncovered,
            CASE WHEN e.credits_covered THEN (SELECT COALESCE(jsonb_object_agg(key, value), '{}') FROM jsonb_each_text(e.properties)) END AS covered_dimensions
       FROM (SELECT * FROM usage_events
              WHERE ${where.join(' AND ')}
              ORDER BY "timestamp" DESC, id DESC
              LIMIT $${params.length}) AS e
       LEFT JOIN usage_event_credits ec ON ec.event_id = e.id
      ORDER BY "timestamp" DESC, e.id DESC`,
    params,
  );
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  const burned = await coveredCredits(pool, organizationId, page);
  return {
    data: page.map(({ credits, credits_uncovered, covered_dimensions: _, ...r }) => ({
      ...r,
      credits: credits !== null ? { burned: plain(credits)!, uncovered: plain(credits_uncovered)! } : burned.has(r.id) ? { burned: burned.get(r.id)!, uncovered: '0' } : null,
      quantity: toPlainString(dec(r.quantity)),
      revenue_amount: plain(r.revenue_amount),
      cost: plain(r.cost),
      revenue: plain(r.revenue),
      timestamp: r.timestamp.toISOString(),
      received_at: r.received_at.toISOString(),
      rated_at: r.rated_at?.toISOString() ?? null,
    })),
    next_cursor: rows.length > query.limit && last ? encodeCursor({ timestamp: last.timestamp, id: last.id }) : null,
  };
}

/**
 * What the events of the page their wallets covered in full burned (they keep only the mark, credits_covered): the
 * burn's own rule (billing/credit-burn.ts eventBurn, rounded to the ledger's 6 decimals) at the rates in effect at
 * each event's timestamp, which are versions never edited. Reads the burn rates only when the page has such events.
 */
async function coveredCredits(pool: Pool, organizationId: string, page: readonly EventRow[]): Promise<Map<string, string>> {
  const covered = page.filter((r) => r.covered_dimensions !== null);
  if (covered.length === 0) return new Map();
  const burning = await loadBurnRates(pool, organizationId);
  return new Map(
    covered.map((r) => {
      const { credits } = eventBurn(burning?.rates ?? [], { eventType: r.event_type, quantity: dec(r.quantity), timestamp: r.timestamp, dimensions: r.covered_dimensions });
      return [r.id, toPlainString(credits)];
    }),
  );
}

import { applicableLimit } from '../billing/applicable-limit';
import { dec, toPlainString, type Dec } from '../billing/decimal';
import { quotaLevel, type QuotaLevel } from '../billing/quota';
import { quotaWindow } from '../billing/quota-window';
import type { Prisma, PrismaClient, QuotaLimitModel } from '../prisma/client';

/** One counter a batch touched: a limit, a customer and a window. */
export interface TouchedCounter {
  limit: QuotaLimitModel;
  customerExternalId: string;
  eventType: string;
  windowStart: Date;
  windowEnd: Date | null;
}

export interface RefreshedCounter extends TouchedCounter {
  counterId: string;
  used: Dec;
  level: QuotaLevel | null;
}

/**
 * The (limit, customer, window) triples the batch's events fall into, under
 * the limit that applies to each customer and event type. Events are reduced
 * to distinct UTC hours first — the finest reset window — so a batch of 1,000
 * events usually yields a handful of rows.
 */
export async function touchedCounters(prisma: PrismaClient, batchId: string, organizationId: string): Promise<TouchedCounter[]> {
  const hours = await prisma.$queryRaw<{ customer_external_id: string; event_type: string; hour: Date }[]>`
    SELECT DISTINCT customer_external_id, event_type, date_trunc('hour', timestamp, 'UTC') AS hour
    FROM usage_events
    WHERE batch_id = ${batchId}::uuid AND organization_id = ${organizationId}::uuid`;
  if (hours.length === 0) return [];
  const limits = await prisma.quotaLimit.findMany({
    where: { organizationId, eventType: { in: [...new Set(hours.map((h) => h.event_type))] } },
  });
  const touched = new Map<string, TouchedCounter>();
  for (const h of hours) {
    const limit = applicableLimit(limits, h.event_type, h.customer_external_id);
    if (!limit) continue;
    const window = quotaWindow(limit.resetWindow, h.hour);
    touched.set(counterKey(limit.id, h.customer_external_id, window.start), {
      limit,
      customerExternalId: h.customer_external_id,
      eventType: h.event_type,
      windowStart: window.start,
      windowEnd: window.end,
    });
  }
  return [...touched.values()];
}

/**
 * Sets each counter's `used` to the sum of the stored events in its window
 * (creating the counter row if needed) and returns the level it is at.
 *
 * Recomputing rather than incrementing makes a second run land on the same
 * number. The rows are locked (FOR UPDATE) before the sum is taken: an API
 * transaction adding events and incrementing the counter either committed
 * before our lock (its events are in the sum) or waits for it and adds its
 * increment on top (its events are not), so no concurrent increment is lost.
 * Locks are taken in natural-key order; should a deadlock with another writer
 * still happen, PostgreSQL aborts one side and Temporal retries the activity.
 */
export async function refreshCounters(tx: Prisma.TransactionClient, organizationId: string, touched: TouchedCounter[]): Promise<RefreshedCounter[]> {
  const limitIds = touched.map((t) => t.limit.id);
  const customers = touched.map((t) => t.customerExternalId);
  const eventTypes = touched.map((t) => t.eventType);
  const starts = touched.map((t) => t.windowStart.toISOString());
  const ends = touched.map((t) => t.windowEnd?.toISOString() ?? null);

  await tx.$executeRaw`
    INSERT INTO quota_counters (id, quota_limit_id, customer_external_id, window_start, window_end, used, updated_at)
    SELECT gen_random_uuid(), k.limit_id, k.customer, k.window_start, k.window_end, 0, now()
    FROM unnest(${limitIds}::uuid[], ${customers}::text[], ${starts}::timestamptz[], ${ends}::timestamptz[])
      AS k(limit_id, customer, window_start, window_end)
    ORDER BY 2, 3, 4
    ON CONFLICT (quota_limit_id, customer_external_id, window_start) DO NOTHING`;
  const locked = await tx.$queryRaw<{ id: string; quota_limit_id: string; customer_external_id: string; window_start: Date }[]>`
    SELECT q.id, q.quota_limit_id, q.customer_external_id, q.window_start
    FROM quota_counters AS q
    JOIN unnest(${limitIds}::uuid[], ${customers}::text[], ${starts}::timestamptz[]) AS k(limit_id, customer, window_start)
      ON q.quota_limit_id = k.limit_id AND q.customer_external_id = k.customer AND q.window_start = k.window_start
    ORDER BY q.quota_limit_id, q.customer_external_id, q.window_start
    FOR UPDATE OF q`;
  const counterIds = new Map(locked.map((c) => [counterKey(c.quota_limit_id, c.customer_external_id, c.window_start), c.id]));

  // A new statement after the lock: its snapshot includes every API
  // transaction that incremented these counters before we got the lock.
  const sums = await tx.$queryRaw<{ used: { toString(): string } }[]>`
    SELECT COALESCE((
      SELECT SUM(e.quantity) FROM usage_events AS e
      WHERE e.organization_id = ${organizationId}::uuid
        AND e.customer_external_id = k.customer
        AND e.event_type = k.event_type
        AND e.timestamp >= k.window_start
        AND (k.window_end IS NULL OR e.timestamp < k.window_end)
    ), 0) AS used
    FROM unnest(${customers}::text[], ${eventTypes}::text[], ${starts}::timestamptz[], ${ends}::timestamptz[])
      WITH ORDINALITY AS k(customer, event_type, window_start, window_end, n)
    ORDER BY k.n`;

  const refreshed = touched.map((t, i): RefreshedCounter => {
    const key = counterKey(t.limit.id, t.customerExternalId, t.windowStart);
    const counterId = counterIds.get(key);
    const sum = sums[i];
    if (!counterId || !sum) throw new Error(`quota counter ${key} vanished inside its transaction`);
    const used = dec(sum.used);
    return { ...t, counterId, used, level: quotaLevel({ limit: t.limit.limitValue.toString(), softWarningPercent: t.limit.softWarningPercent }, used) };
  });

  await tx.$executeRaw`
    UPDATE quota_counters AS q
    SET used = u.used,
        limit_reached_at = CASE WHEN u.used >= l.limit_value THEN COALESCE(q.limit_reached_at, now()) ELSE q.limit_reached_at END,
        updated_at = now()
    FROM unnest(${refreshed.map((r) => r.counterId)}::uuid[], ${refreshed.map((r) => toPlainString(r.used))}::numeric[]) AS u(id, used),
      quota_limits AS l
    WHERE q.id = u.id AND l.id = q.quota_limit_id`;
  return refreshed;
}

function counterKey(limitId: string, customerExternalId: string, windowStart: Date): string {
  return `${limitId}\u0000${customerExternalId}\u0000${windowStart.toISOString()}`;
}

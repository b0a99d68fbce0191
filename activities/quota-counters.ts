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
  /** the batch's own usage in this counter's window */
  batchQuantity: Dec;
}

export interface RefreshedCounter extends TouchedCounter {
  counterId: string;
  used: Dec;
  level: QuotaLevel | null;
}

/**
 * The (limit, customer, window) triples the batch's events fall into, under
 * the limit that applies to each customer and event type, with the batch's
 * quantity in each. Events are summed per UTC hour first — the finest reset
 * window — so a batch of 1,000 events usually yields a handful of rows.
 */
export async function touchedCounters(prisma: PrismaClient, batchId: string, organizationId: string): Promise<TouchedCounter[]> {
  const hours = await prisma.$queryRaw<{ customer_external_id: string; event_type: string; hour: Date; quantity: { toString(): string } }[]>`
    SELECT customer_external_id, event_type, date_trunc('hour', timestamp, 'UTC') AS hour, SUM(quantity) AS quantity
    FROM usage_events
    WHERE batch_id = ${batchId}::uuid AND organization_id = ${organizationId}::uuid
    GROUP BY 1, 2, 3`;
  if (hours.length === 0) return [];
  const limits = await prisma.quotaLimit.findMany({
    where: { organizationId, eventType: { in: [...new Set(hours.map((h) => h.event_type))] } },
  });
  const touched = new Map<string, TouchedCounter>();
  for (const h of hours) {
    const limit = applicableLimit(limits, h.event_type, h.customer_external_id);
    if (!limit) continue;
    const window = quotaWindow(limit.resetWindow, h.hour);
    const key = counterKey(limit.id, h.customer_external_id, window.start);
    const seen = touched.get(key);
    if (seen) seen.batchQuantity = seen.batchQuantity.plus(dec(h.quantity));
    else
      touched.set(key, {
        limit,
        customerExternalId: h.customer_external_id,
        eventType: h.event_type,
        windowStart: window.start,
        windowEnd: window.end,
        batchQuantity: dec(h.quantity),
      });
  }
  return [...touched.values()];
}

/**
 * Adds the batch's usage to each SOFT counter it touched, exactly once, and
 * returns every touched counter's usage and level.
 *
 * Exactly once: the (counter, batch) row in quota_counter_batches is claimed
 * in the same transaction as the increment, so a retried or reset activity
 * finds the claim and adds nothing. This costs O(batch), not a re-sum of the
 * whole window (which grew with every event and held the counter locks for
 * seconds). HARD counters were already counted by the API in the transaction
 * that stored the events; here they are only read.
 *
 * The rows are locked (FOR UPDATE) in natural-key order, the order the API
 * uses too; should a deadlock still happen, PostgreSQL aborts one side and
 * Temporal retries the activity.
 */
export async function refreshCounters(tx: Prisma.TransactionClient, batchId: string, touched: TouchedCounter[]): Promise<RefreshedCounter[]> {
  const limitIds = touched.map((t) => t.limit.id);
  const customers = touched.map((t) => t.customerExternalId);
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
    ORDER BY q.quota_limit_id, q.customer_external_id COLLATE "C", q.window_start
    FOR UPDATE OF q`;
  const counterIds = new Map(locked.map((c) => [counterKey(c.quota_limit_id, c.customer_external_id, c.window_start), c.id]));
  const withIds = touched.map((t) => {
    const key = counterKey(t.limit.id, t.customerExternalId, t.windowStart);
    const counterId = counterIds.get(key);
    if (!counterId) throw new Error(`quota counter ${key} vanished inside its transaction`);
    return { ...t, counterId };
  });

  const soft = withIds.filter((t) => t.limit.mode === 'SOFT');
  if (soft.length > 0) {
    await tx.$executeRaw`
      WITH claimed AS (
        INSERT INTO quota_counter_batches (counter_id, batch_id, quantity)
        SELECT c.counter_id, ${batchId}::uuid, c.quantity
        FROM unnest(${soft.map((t) => t.counterId)}::uuid[], ${soft.map((t) => toPlainString(t.batchQuantity))}::numeric[]) AS c(counter_id, quantity)
        ON CONFLICT (counter_id, batch_id) DO NOTHING
        RETURNING counter_id, quantity
      )
      UPDATE quota_counters AS q
      SET used = q.used + claimed.quantity,
          limit_reached_at = CASE WHEN q.used + claimed.quantity >= l.limit_value THEN COALESCE(q.limit_reached_at, now()) ELSE q.limit_reached_at END,
          updated_at = now()
      FROM claimed, quota_limits AS l
      WHERE q.id = claimed.counter_id AND l.id = q.quota_limit_id`;
  }

  const current = await tx.$queryRaw<{ id: string; used: { toString(): string } }[]>`
    SELECT id, used FROM quota_counters WHERE id = ANY(${withIds.map((t) => t.counterId)}::uuid[])`;
  const usedById = new Map(current.map((c) => [c.id, dec(c.used)]));
  return withIds.map((t): RefreshedCounter => {
    const used = usedById.get(t.counterId) ?? dec(0);
    return { ...t, used, level: quotaLevel({ limit: t.limit.limitValue.toString(), softWarningPercent: t.limit.softWarningPercent }, used) };
  });
}

function counterKey(limitId: string, customerExternalId: string, windowStart: Date): string {
  return `${limitId}\u0000${customerExternalId}\u0000${windowStart.toISOString()}`;
}

import type { Pool } from 'pg';
import type { StoredTier } from '../../billing/stored-price';

/** The billed period: a past calendar month, so every billing run closes at once. */
export const BENCH_PERIOD = { start: '2026-10-01T00:00:00.000Z', end: '2026-11-01T00:00:00.000Z' } as const;
export const BENCH_EVENT_TYPE = 'api.request';
/** The public graduated example of issue 3: ≤100 @ 0.10, ≤1,000 @ 0.08, the rest @ 0.05. */
const TIERS: StoredTier[] = [
  { up_to: 100, unit_amount: '0.10', flat_amount: '0' },
  { up_to: 1000, unit_amount: '0.08', flat_amount: '0' },
  { up_to: null, unit_amount: '0.05', flat_amount: '0' },
];
/** Rows per insert statement: customers × events, split within a customer when it has more. */
const CHUNK_ROWS = 200_000;

export interface SeededTenant {
  organizationId: string;
  name: string;
  subscriptionIds: string[];
  events: number;
}

/**
 * One tenant with a monthly plan (base fee 49.00 plus a graduated price on
 * one sum meter), `subscriptions` customers each subscribed from the period
 * start (anchor day 1), and `eventsPerSubscription` rated events per customer
 * spread over the period's days. Straight SQL (generate_series), not the API:
 * the benchmark measures the close, not the seeding.
 */
export async function seedPeriodCloseTenant(
  pool: Pool,
  opts: { subscriptions: number; eventsPerSubscription: number; progress: (line: string) => void },
): Promise<SeededTenant> {
  const name = `bench-period-close-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${process.pid}`;
  const client = await pool.connect();
  try {
    const q = async <T extends object = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => (await client.query<T>(sql, params)).rows;
    const [org] = await q<{ id: string }>(
      `INSERT INTO organizations (id, name, late_event_grace_seconds) VALUES (gen_random_uuid(), $1, 0) RETURNING id`,
      [name],
    );
    const organizationId = org!.id;
    const [meter] = await q<{ id: string }>(
      `INSERT INTO meters (id, organization_id, key, name, event_type, aggregation) VALUES (gen_random_uuid(), $1, 'api-requests', 'API requests', $2, 'sum') RETURNING id`,
      [organizationId, BENCH_EVENT_TYPE],
    );
    const [plan] = await q<{ id: string }>(
      `INSERT INTO plans (id, organization_id, key, name, currency, interval, base_fee) VALUES (gen_random_uuid(), $1, 'growth', 'Growth', 'usd', 'month', 49) RETURNING id`,
      [organizationId],
    );
    await q(
      `INSERT INTO plan_prices (id, organization_id, plan_id, meter_id, model, tiers) VALUES (gen_random_uuid(), $1, $2, $3, 'graduated', $4::jsonb)`,
      [organizationId, plan!.id, meter!.id, JSON.stringify(TIERS)],
    );
    await q(
      `INSERT INTO customers (id, organization_id, external_id, name)
       SELECT gen_random_uuid(), $1, 'bench-customer-' || n, 'Bench customer ' || n FROM generate_series(1, $2::int) AS n`,
      [organizationId, opts.subscriptions],
    );
    await q(
      // Marked as started, so the stack's sweeper starts no subscription workflow (which would bill November too) while the benchmark runs.
      `INSERT INTO subscriptions (id, organization_id, customer_id, plan_id, start_date, billing_anchor_day, workflow_started_at)
       SELECT gen_random_uuid(), $1, c.id, $2, $3::timestamptz, 1, now() FROM customers c WHERE c.organization_id = $1`,
      [organizationId, plan!.id, BENCH_PERIOD.start],
    );
    // One request, already processed (its events go in rated): its processing batch says so, so no batcher takes it up.
    const [batch] = await q<{ id: string }>(
      `WITH processed AS (
         INSERT INTO processing_batches (id, organization_id, status, requests, events, request_ids, oldest_accepted_at, processed_at)
         SELECT id, $1, 'processed', 1, $2, ARRAY[id], now(), now() FROM (SELECT gen_random_uuid() AS id) AS fresh
         RETURNING id
       )
       INSERT INTO ingest_batches (id, organization_id, received, accepted, duplicates, rejected, processing_batch_id)
       SELECT id, $1, $2, $2, 0, 0, id FROM processed RETURNING id`,
      [organizationId, opts.subscriptions * opts.eventsPerSubscription],
    );
    // Events j = 0…k-1 of customer n are spread evenly over the first 30 days
    // of the period, shifted by an hour of the customer's own; quantities 1–200.
    const k = opts.eventsPerSubscription;
    const customersPerChunk = Math.max(1, Math.floor(CHUNK_ROWS / Math.max(1, k)));
    const eventsPerChunk = Math.min(Math.max(1, k), CHUNK_ROWS);
    let events = 0;
    for (let from = 1; from <= opts.subscriptions && k > 0; from += customersPerChunk) {
      const to = Math.min(opts.subscriptions, from + customersPerChunk - 1);
      for (let first = 0; first < k; first += eventsPerChunk) {
        const last = Math.min(k, first + eventsPerChunk) - 1;
        const [row] = await q<{ inserted: string }>(
          `WITH ins AS (
             INSERT INTO usage_events (id, organization_id, batch_id, idempotency_key, customer_external_id, customer_id, event_type,
                                       quantity, "timestamp", properties, vendor_usage, status, cost, revenue, rated_at)
             SELECT gen_random_uuid(), $1, $2, 'bench-' || n || '-' || j, c.external_id, c.id, $3,
                    q.quantity,
                    $4::timestamptz + (j::bigint * 2592000000 / $5::int) * interval '1 millisecond' + (n % 24) * interval '1 hour',
                    jsonb_build_object('request', j), '[]'::jsonb, 'rated', q.quantity * 0.0004, q.quantity * 0.001, now()
             FROM generate_series($6::int, $7::int) AS n
             JOIN customers c ON c.organization_id = $1 AND c.external_id = 'bench-customer-' || n
             CROSS JOIN generate_series($8::int, $9::int) AS j
             CROSS JOIN LATERAL (SELECT (1 + (n * 7 + j * 13) % 200)::numeric AS quantity) AS q
             RETURNING 1)
           SELECT count(*) AS inserted FROM ins`,
          [organizationId, batch!.id, BENCH_EVENT_TYPE, BENCH_PERIOD.start, k, from, to, first, last],
        );
        events += Number(row?.inserted ?? 0);
        opts.progress(`  ${events.toLocaleString('en-US')}/${(opts.subscriptions * k).toLocaleString('en-US')} events written`);
      }
    }
    // Fresh statistics, as autovacuum would give a tenant that grew over a month.
    await q('ANALYZE usage_events, customers, subscriptions');
    const subs = await q<{ id: string }>(`SELECT id FROM subscriptions WHERE organization_id = $1 ORDER BY id`, [organizationId]);
    return { organizationId, name, subscriptionIds: subs.map((s) => s.id), events };
  } finally {
    client.release();
  }
}

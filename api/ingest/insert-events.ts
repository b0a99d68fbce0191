import type { Pool, PoolClient } from 'pg';
import { INGEST_CHANNEL } from '../../prisma/ingest-channel';
import { inTransaction } from '../../prisma/pg';
import { UUID_V7_SQL } from '../../prisma/uuid-v7';
import { dec, toPlainString } from '../../billing/decimal';
import type { RejectedEvent } from '../schemas/events';
import { admitEvents, hardCounterFor, LIMIT_COLUMNS, quotaDetails, type CounterKey, type CounterState, type QuotaLimitRow } from './hard-quota';
import type { ValidatedRequest, ValidEvent } from './validate-events';


export interface StoreBatchInput extends ValidatedRequest {
  organizationId: string;
  apiKeyId: string;
  batchId: string;
  /** usage that already happened (the AI proxy's served calls): a HARD limit counts it but never refuses it */
  served?: boolean;
}

export interface StoredBatch {
  accepted: number;
  /** repeated in the request, or already stored */
  duplicateKeys: string[];
  /** validation and quota rejections, by index */
  rejected: RejectedEvent[];
  quotaRejected: number;
}

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Counters are upserted and locked in one fixed order (the SQL ORDER BY below
 * matches this comparator) so two transactions touching the same counters
 * queue behind each other instead of deadlocking.
 */
function compareCounters(a: CounterKey, b: CounterKey): number {
  return (
    compareStrings(a.limit.id, b.limit.id) ||
    compareStrings(a.customerExternalId, b.customerExternalId) ||
    a.windowStart.getTime() - b.windowStart.getTime()
  );
}

/** An event of the group with the request it belongs to. */
interface GroupEvent {
  request: number;
  event: ValidEvent;
}

const eventKey = (organizationId: string, idempotencyKey: string): string => `${organizationId}\u0000${idempotencyKey}`;

/**
 * The limits of the group's organizations and event types, any mode: a
 * customer's own row (even DISABLED) overrides the organization default, so
 * the HARD rows alone would not do.
 */
async function loadLimits(client: PoolClient, requests: readonly StoreBatchInput[], events: readonly GroupEvent[]): Promise<Map<string, QuotaLimitRow[]>> {
  const organizations = [...new Set(requests.map((r) => r.organizationId))];
  const eventTypes = [...new Set(events.map((e) => e.event.event_type))];
  const { rows } = await client.query<QuotaLimitRow & { organizationId: string }>({
    name: 'ingest-load-limits',
    text: `SELECT organization_id AS "organizationId", ${LIMIT_COLUMNS}
       FROM quota_limits
      WHERE organization_id = ANY($1::uuid[]) AND event_type = ANY($2::text[])`,
    values: [organizations, eventTypes],
  });
  const byOrganization = new Map<string, QuotaLimitRow[]>();
  for (const row of rows) byOrganization.set(row.organizationId, [...(byOrganization.get(row.organizationId) ?? []), row]);
  return byOrganization;
}

/** Creates missing counter rows, then locks all of them for the rest of the transaction. */
async function lockCounters(client: PoolClient, counters: readonly CounterKey[]): Promise<Map<string, CounterState>> {
  const limitIds = counters.map((c) => c.limit.id);
  const customers = counters.map((c) => c.customerExternalId);
  const starts = counters.map((c) => c.windowStart.toISOString());
  await client.query(
    `INSERT INTO quota_counters (id, quota_limit_id, customer_external_id, window_start, window_end, used, updated_at)
     SELECT gen_random_uuid(), u.l, u.c, u.s, u.e, 0, now()
       FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS u(l, c, s, e)
     ON CONFLICT (quota_limit_id, customer_external_id, window_start) DO NOTHING`,
    [limitIds, customers, starts, counters.map((c) => c.windowEnd?.toISOString() ?? null)],
  );
  const { rows } = await client.query<{ quota_limit_id: string; customer_external_id: string; window_start: Date; used: string; limit_reached_at: Date | null }>(
    `SELECT q.quota_limit_id, q.customer_external_id, q.window_start, q.used::text AS used, q.limit_reached_at
       FROM quota_counters q
       JOIN unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(l, c, s)
         ON q.quota_limit_id = u.l AND q.customer_external_id = u.c AND q.window_start = u.s
      ORDER BY q.quota_limit_id, q.customer_external_id COLLATE "C", q.window_start
        FOR UPDATE OF q`,
    [limitIds, customers, starts],
  );
  const byKey = new Map(counters.map((c) => [`${c.limit.id}|${c.customerExternalId}|${c.windowStart.toISOString()}`, c.key]));
  const states = new Map<string, CounterState>();
  for (const row of rows) {
    const key = byKey.get(`${row.quota_limit_id}|${row.customer_external_id}|${row.window_start.toISOString()}`);
    if (key) states.set(key, { used: dec(row.used), limitReachedAt: row.limit_reached_at });
  }
  return states;
}

async function saveCounters(client: PoolClient, counters: readonly CounterKey[], states: ReadonlyMap<string, CounterState>): Promise<void> {
  const changed = counters.filter((c) => states.has(c.key));
  if (changed.length === 0) return;
  await client.query(
    `UPDATE quota_counters q
        SET used = u.used, limit_reached_at = u.reached, updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::numeric[], $5::timestamptz[]) AS u(l, c, s, used, reached)
      WHERE q.quota_limit_id = u.l AND q.customer_external_id = u.c AND q.window_start = u.s`,
    [
      changed.map((c) => c.limit.id),
      changed.map((c) => c.customerExternalId),
      changed.map((c) => c.windowStart.toISOString()),
      changed.map((c) => toPlainString((states.get(c.key) as CounterState).used)),
      changed.map((c) => (states.get(c.key) as CounterState).limitReachedAt?.toISOString() ?? null),
    ],
  );
}

/**
 * One set-based INSERT for every event of the group. ON CONFLICT DO NOTHING
 * makes the idempotency-key claim in the same statement as the write;
 * RETURNING tells which keys were new. Rows go in sorted by organization and
 * key so overlapping concurrent transactions wait on each other in the same
 * order (no deadlock).
 */
/** The events' columns, $1…$12 of both insert statements, each an array in event order (reservation_id comes last: insertEventsSql). */
function eventColumns(requests: readonly StoreBatchInput[], sorted: readonly GroupEvent[]): unknown[] {
  return [
    sorted.map((e) => requests[e.request]!.organizationId),
    sorted.map((e) => requests[e.request]!.batchId),
    sorted.map((e) => e.event.idempotency_key),
    sorted.map((e) => e.event.customer_external_id),
    sorted.map((e) => e.event.event_type),
    sorted.map((e) => e.event.feature ?? null),
    sorted.map((e) => e.event.quantity),
    sorted.map((e) => e.event.timestamp),
    // One JSON array each, not a jsonb[]: pg writes an array parameter's literal by escaping every element's
    // quotes into a string of thousands of pieces, which for 1,000 events of 7 KB properties held 117 MiB of heap
    // for a 9 MB literal; one JSON.stringify is a single flat string of the body's size.
    JSON.stringify(sorted.map((e) => e.event.properties ?? {})),
    JSON.stringify(sorted.map((e) => e.event.vendor_usage ?? [])),
    sorted.map((e) => e.event.revenue_amount ?? null),
    sorted.map((e) => e.event.currency ?? null),
  ];
}

/** The events' reservation ids (the parameter insertEventsSql is given). */
const reservationColumn = (sorted: readonly GroupEvent[]): (string | null)[] => sorted.map((e) => e.event.reservation_id ?? null);

const insertEventsSql = (reservationParam: number) => `INSERT INTO usage_events (id, organization_id, batch_id, idempotency_key, customer_external_id, event_type, feature,
                               quantity, "timestamp", properties, vendor_usage, revenue_amount, currency, reservation_id)
     SELECT ${UUID_V7_SQL}, u.*
       FROM ROWS FROM (unnest($1::uuid[]), unnest($2::uuid[]), unnest($3::text[]), unnest($4::text[]), unnest($5::text[]), unnest($6::text[]),
                       unnest($7::numeric[]), unnest($8::timestamptz[]), jsonb_array_elements($9::jsonb), jsonb_array_elements($10::jsonb),
                       unnest($11::numeric[]), unnest($12::text[]), unnest($${reservationParam}::uuid[]))
            AS u(organization_id, batch_id, idempotency_key, customer_external_id, event_type, feature, quantity, "timestamp", properties,
                 vendor_usage, revenue_amount, currency, reservation_id)`;

/**
 * Rows go in sorted by organization and key, so overlapping concurrent
 * transactions wait on each other in the same order (no deadlock). Sorting
 * the keys with the built-in comparison (a string's code units, in native
 * code) is several times cheaper than a JS comparator on 1,000 rows.
 */
function sortedByKey(requests: readonly StoreBatchInput[], events: readonly GroupEvent[]): GroupEvent[] {
  const byKey = new Map(events.map((e) => [eventKey(requests[e.request]!.organizationId, e.event.idempotency_key), e]));
  return [...byKey.keys()].sort().map((key) => byKey.get(key) as GroupEvent);
}

/**
 * One set-based INSERT for every event of the group. ON CONFLICT DO NOTHING
 * makes the idempotency-key claim in the same statement as the write;
 * RETURNING tells which keys were new.
 */
async function insertEvents(client: PoolClient, requests: readonly StoreBatchInput[], events: readonly GroupEvent[]): Promise<Set<string>> {
  const sorted = sortedByKey(requests, events);
  const { rows } = await client.query<{ organization_id: string; idempotency_key: string }>({
    name: 'ingest-insert-events',
    text: `${insertEventsSql(13)}
     ON CONFLICT (organization_id, idempotency_key) DO NOTHING
     RETURNING organization_id, idempotency_key`,
    values: [...eventColumns(requests, sorted), reservationColumn(sorted)],
  });
  return new Set(rows.map((r) => eventKey(r.organization_id, r.idempotency_key)));
}

/**
 * Applies HARD limits to the events the group actually inserted, in arrival
 * order (request by request, event by event), under the counters' row locks;
 * refused events are deleted again in the same transaction, so concurrent
 * transactions can never pass a limit.
 */
async function enforceHardLimits(
  client: PoolClient,
  requests: readonly StoreBatchInput[],
  inserted: readonly GroupEvent[],
): Promise<Map<number, RejectedEvent[]>> {
  const refusedByRequest = new Map<number, RejectedEvent[]>();
  const limits = await loadLimits(client, requests, inserted);
  if (![...limits.values()].some((rows) => rows.some((l) => l.mode === 'HARD'))) return refusedByRequest;
  const metered = inserted.flatMap((e) => {
    const counter = hardCounterFor(limits.get(requests[e.request]!.organizationId) ?? [], e.event);
    return counter ? [{ ...e, counter }] : [];
  });
  if (metered.length === 0) return refusedByRequest;

  const unique = new Map<string, CounterKey>();
  for (const { counter } of metered) unique.set(counter.key, counter);
  const counters = [...unique.values()].sort(compareCounters);
  const start = await lockCounters(client, counters);
  // Decide at the time the locks are held, not when the requests arrived.
  const outcome = admitEvents(
    metered.map((m) => ({ counter: m.counter, quantity: m.event.quantity, served: requests[m.request]!.served === true })),
    start,
    new Date(),
  );
  const refused = metered.filter((_, position) => outcome.refused.has(position));
  if (refused.length > 0) {
    await client.query(
      `DELETE FROM usage_events AS e
        USING unnest($1::uuid[], $2::text[]) AS r(organization_id, idempotency_key)
        WHERE e.organization_id = r.organization_id AND e.idempotency_key = r.idempotency_key`,
      [refused.map((r) => requests[r.request]!.organizationId), refused.map((r) => r.event.idempotency_key)],
    );
  }
  await saveCounters(client, counters, outcome.counters);
  for (const { request, event, counter } of refused) {
    const list = refusedByRequest.get(request) ?? [];
    list.push({
      index: event.index,
      code: 'QUOTA_EXCEEDED',
      field: 'quantity',
      message: `${event.event_type} quota for customer ${event.customer_external_id} is exhausted until the window resets`,
      idempotency_key: event.idempotency_key,
      details: quotaDetails(counter, outcome.counters.get(counter.key) as CounterState),
    });
    refusedByRequest.set(request, list);
  }
  return refusedByRequest;
}

/**
 * The request rows with their final counts and a notification per
 * organization to the batcher — one statement. NOTIFY is transactional: the
 * batcher hears of the events only once they are committed.
 */
async function recordRequests(
  client: PoolClient,
  requests: readonly StoreBatchInput[],
  counts: readonly { received: number; accepted: number; duplicates: number; rejected: number }[],
): Promise<void> {
  const acceptedByOrganization = new Map<string, number>();
  requests.forEach((r, i) => acceptedByOrganization.set(r.organizationId, (acceptedByOrganization.get(r.organizationId) ?? 0) + counts[i]!.accepted));
  const notify = [...acceptedByOrganization].filter(([, accepted]) => accepted > 0);
  await client.query({
    name: 'ingest-record-requests',
    text: `WITH rows AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::int[], $6::int[], $7::int[])
         AS r(id, organization_id, api_key_id, received, accepted, duplicates, rejected)
     ), requests AS (
       INSERT INTO ingest_batches (id, organization_id, api_key_id, received, accepted, duplicates, rejected)
       SELECT * FROM rows
     )
     SELECT pg_notify('${INGEST_CHANNEL}', n.organization_id || ':' || n.accepted)
       FROM unnest($8::text[], $9::int[]) AS n(organization_id, accepted)`,
    values: [
      requests.map((r) => r.batchId),
      requests.map((r) => r.organizationId),
      requests.map((r) => r.apiKeyId),
      counts.map((c) => c.received),
      counts.map((c) => c.accepted),
      counts.map((c) => c.duplicates),
      counts.map((c) => c.rejected),
      notify.map(([organizationId]) => organizationId),
      notify.map(([, accepted]) => accepted),
    ],
  });
}

/** A request's counts as its ingest_batches row records them. */
interface RequestCounts {
  received: number;
  /** events that went to the insert (valid, and first of their key in the group) */
  sent: number;
  /** keys repeated in the request or earlier in the group */
  repeated: number;
  rejected: number;
}

/**
 * The whole group in one statement, which PostgreSQL runs as one
 * transaction: the events, the request rows with their counts and the
 * batcher's wake-up — one round trip and
 * one plan (a prepared statement) however many requests the group holds.
 * Only for groups no HARD limit applies to: the statement checks that itself
 * and, if one does, writes nothing and says so (`hard`), and the group goes
 * the transactional way. Null then; otherwise the keys that were new.
 */
async function storeInOneStatement(pool: Pool, requests: readonly StoreBatchInput[], events: readonly GroupEvent[], counts: readonly RequestCounts[]): Promise<Set<string> | null> {
  const sorted = sortedByKey(requests, events);
  const { rows } = await pool.query<{ hard: number | null; organization_id: string | null; idempotency_key: string | null }>({
    name: 'ingest-store-group',
    text: `WITH hard AS (
         SELECT 1 FROM quota_limits
          WHERE organization_id = ANY($1::uuid[]) AND event_type = ANY($5::text[]) AND mode = 'HARD'
          LIMIT 1
       ), inserted AS (
         ${insertEventsSql(20)}
          WHERE NOT EXISTS (SELECT 1 FROM hard)
         ON CONFLICT (organization_id, idempotency_key) DO NOTHING
         RETURNING organization_id, batch_id, idempotency_key
       ), per_request AS (
         SELECT r.id, r.organization_id, r.api_key_id, r.received, r.rejected,
                coalesce(n.accepted, 0) AS accepted, r.repeated + r.sent - coalesce(n.accepted, 0) AS duplicates
           FROM unnest($13::uuid[], $14::uuid[], $15::uuid[], $16::int[], $17::int[], $18::int[], $19::int[])
                AS r(id, organization_id, api_key_id, received, sent, repeated, rejected)
           LEFT JOIN (SELECT batch_id, count(*)::int AS accepted FROM inserted GROUP BY batch_id) AS n ON n.batch_id = r.id
          WHERE NOT EXISTS (SELECT 1 FROM hard)
       ), request_rows AS (
         INSERT INTO ingest_batches (id, organization_id, api_key_id, received, accepted, duplicates, rejected)
         SELECT id, organization_id, api_key_id, received, accepted, duplicates, rejected FROM per_request
       ), notified AS (
         SELECT pg_notify('${INGEST_CHANNEL}', organization_id || ':' || count(*)) FROM inserted GROUP BY organization_id
       )
       SELECT (SELECT count(*) FROM hard)::int AS hard, (SELECT count(*) FROM notified)::int AS notified,
              NULL::text AS organization_id, NULL::text AS idempotency_key
       UNION ALL
       SELECT NULL, NULL, organization_id::text, idempotency_key FROM inserted`,
    values: [
      ...eventColumns(requests, sorted),
      requests.map((r) => r.batchId),
      requests.map((r) => r.organizationId),
      requests.map((r) => r.apiKeyId),
      counts.map((c) => c.received),
      counts.map((c) => c.sent),
      counts.map((c) => c.repeated),
      counts.map((c) => c.rejected),
      reservationColumn(sorted),
    ],
  });
  if ((rows[0]?.hard ?? 0) > 0) return null;
  return new Set(rows.slice(1).map((r) => eventKey(r.organization_id!, r.idempotency_key!)));
}

/**
 * The transactional way, for groups a HARD limit applies to: insert the
 * events, admit them under the counters' row locks (refused ones are deleted
 * again), then the request rows and the wake-up — one transaction, with each
 * request judged as if the requests had come one after another: when an
 * earlier request's event is refused, a later request of the group carrying
 * the same idempotency key is not a duplicate of it — its event gets its own
 * turn (a next round), and is stored or refused on its own.
 */
async function storeUnderLimits(pool: Pool, requests: readonly StoreBatchInput[]): Promise<StoredBatch[]> {
  return inTransaction(pool, async (client) => {
    const results = requests.map((r) => ({ accepted: 0, duplicateKeys: [...r.inRequestDuplicates], refused: [] as RejectedEvent[] }));
    const keyOf = (e: GroupEvent): string => eventKey(requests[e.request]!.organizationId, e.event.idempotency_key);
    // Every request carrying a key, in arrival order; the first takes the first turn.
    const claimants = new Map<string, GroupEvent[]>();
    requests.forEach((request, i) => {
      for (const event of request.events) {
        const e = { request: i, event };
        const list = claimants.get(keyOf(e));
        if (list) list.push(e);
        else claimants.set(keyOf(e), [e]);
      }
    });
    let round = [...claimants.values()].map((list) => list.shift()!);
    while (round.length > 0) {
      const inserted = await insertEvents(client, requests, round);
      const fresh = round.filter((e) => inserted.has(keyOf(e)));
      const refusedKeys = new Set<string>();
      for (const [i, list] of fresh.length > 0 ? await enforceHardLimits(client, requests, fresh) : []) {
        results[i]!.refused.push(...list);
        for (const r of list) refusedKeys.add(eventKey(requests[i]!.organizationId, r.idempotency_key!));
      }
      const next: GroupEvent[] = [];
      for (const e of round) {
        const key = keyOf(e);
        if (!inserted.has(key)) results[e.request]!.duplicateKeys.push(e.event.idempotency_key);
        else if (!refusedKeys.has(key)) results[e.request]!.accepted += 1;
        const later = claimants.get(key)!;
        if (refusedKeys.has(key) && later.length > 0) next.push(later.shift()!);
        else for (const l of later.splice(0)) results[l.request]!.duplicateKeys.push(l.event.idempotency_key);
      }
      round = next;
    }
    await recordRequests(
      client,
      requests,
      results.map((r, i) => ({ received: requests[i]!.received, accepted: r.accepted, duplicates: r.duplicateKeys.length, rejected: requests[i]!.rejected.length + r.refused.length })),
    );
    return results.map((r, i): StoredBatch => ({
      accepted: r.accepted,
      duplicateKeys: r.duplicateKeys,
      rejected: [...requests[i]!.rejected, ...r.refused].sort((a, b) => a.index - b.index),
      quotaRejected: r.refused.length,
    }));
  });
}

/**
 * Stores the validated requests of one group: their events (each
 * idempotency key once per organization, the first request in arrival order
 * keeping it), HARD quota enforcement, the request rows with their counts
 * and the batcher's wake-up. Either all of it commits or none of it; each
 * request's result is its own. The request row (ingest_batches: API key,
 * counts, time, never changed but for the batch that claims it) is the
 * record of the acceptance; the audit log, read by people, gets no row per
 * request — at thousands of requests a second it would bury everything else.
 */
export async function storeGroup(pool: Pool, requests: readonly StoreBatchInput[]): Promise<StoredBatch[]> {
  const claimed = new Set<string>();
  const events: GroupEvent[] = [];
  const repeated: string[][] = requests.map((r) => [...r.inRequestDuplicates]);
  const sent = requests.map(() => 0);
  requests.forEach((request, i) => {
    for (const event of request.events) {
      const key = eventKey(request.organizationId, event.idempotency_key);
      // An earlier request of the group sent the same key: this one is a duplicate, as if it had come second.
      if (claimed.has(key)) repeated[i]!.push(event.idempotency_key);
      else {
        claimed.add(key);
        events.push({ request: i, event });
        sent[i]! += 1;
      }
    }
  });
  const counts = requests.map((r, i): RequestCounts => ({ received: r.received, sent: sent[i]!, repeated: repeated[i]!.length, rejected: r.rejected.length }));

  const inserted = await storeInOneStatement(pool, requests, events, counts);
  if (inserted === null) return storeUnderLimits(pool, requests);

  const perRequest = requests.map(() => ({ inserted: 0, alreadyStored: [] as string[] }));
  for (const e of events) {
    const own = perRequest[e.request]!;
    if (inserted.has(eventKey(requests[e.request]!.organizationId, e.event.idempotency_key))) own.inserted += 1;
    else own.alreadyStored.push(e.event.idempotency_key);
  }
  return requests.map((request, i): StoredBatch => ({
    accepted: perRequest[i]!.inserted,
    duplicateKeys: [...repeated[i]!, ...perRequest[i]!.alreadyStored],
    rejected: request.rejected,
    quotaRejected: 0,
  }));
}

import type { Queryable } from '../../prisma/pg';

/**
 * What an organization's ingest books hold: events stored and rated, keys,
 * requests waiting for a processing batch or claimed by two, batches by
 * status, their `batch.processed` audit rows, and what the quota counters
 * counted. Read after a crash test or a soak, once everything has drained.
 */
export interface IngestBooks {
  stored: number;
  rated: number;
  distinctKeys: number;
  quantity: string | null;
  waitingRequests: number;
  requestClaimedTwice: boolean;
  batchesByStatus: Record<string, number>;
  processedAudits: number;
  quotaUsed: string | null;
}

export async function readIngestBooks(db: Queryable, organizationId: string): Promise<IngestBooks> {
  const { rows: [events] } = await db.query<{ stored: number; rated: number; distinct_keys: number; quantity: string | null }>(
    `SELECT count(*)::int AS stored, count(*) FILTER (WHERE status = 'rated')::int AS rated, count(DISTINCT idempotency_key)::int AS distinct_keys, sum(quantity)::text AS quantity
       FROM usage_events WHERE organization_id = $1`,
    [organizationId],
  );
  const { rows: [requests] } = await db.query<{ waiting: number; claimed_twice: number | null }>(
    `SELECT count(*) FILTER (WHERE processing_batch_id IS NULL AND accepted > 0)::int AS waiting,
            (SELECT count(*)::int FROM (SELECT unnest(request_ids) AS id FROM processing_batches WHERE organization_id = $1) AS r GROUP BY id HAVING count(*) > 1 LIMIT 1) AS claimed_twice
       FROM ingest_batches WHERE organization_id = $1`,
    [organizationId],
  );
  const { rows: batches } = await db.query<{ status: string; n: number }>(`SELECT status::text, count(*)::int AS n FROM processing_batches WHERE organization_id = $1 GROUP BY 1`, [organizationId]);
  const { rows: [audits] } = await db.query<{ processed: number }>(`SELECT count(*)::int AS processed FROM audit_logs WHERE organization_id = $1 AND action = 'batch.processed'`, [organizationId]);
  // One counter per customer and month; together they hold every event's quantity once.
  const { rows: [counted] } = await db.query<{ used: string | null }>(
    `SELECT sum(q.used)::text AS used FROM quota_counters q JOIN quota_limits l ON l.id = q.quota_limit_id WHERE l.organization_id = $1`,
    [organizationId],
  );
  return {
    stored: events!.stored,
    rated: events!.rated,
    distinctKeys: events!.distinct_keys,
    quantity: events!.quantity,
    waitingRequests: requests!.waiting,
    requestClaimedTwice: requests!.claimed_twice !== null,
    batchesByStatus: Object.fromEntries(batches.map((b) => [b.status, b.n])),
    processedAudits: audits!.processed,
    quotaUsed: counted!.used,
  };
}

/**
 * Where the books do not balance, in words; empty when every one of
 * `expectedKeys` events was stored once and rated, every request sits in
 * exactly one processing batch, every batch was processed once (one audit
 * row each), and the SOFT quota counters hold each event's quantity once.
 */
export function ingestBooksProblems(books: IngestBooks, expectedKeys: number): string[] {
  const problems: string[] = [];
  if (books.stored !== expectedKeys) problems.push(`${books.stored} events stored, ${expectedKeys} sent`);
  if (books.distinctKeys !== books.stored) problems.push(`${books.stored} events stored under ${books.distinctKeys} idempotency keys`);
  if (books.rated !== books.stored) problems.push(`${books.stored - books.rated} events not rated`);
  if (books.waitingRequests > 0) problems.push(`${books.waitingRequests} requests never claimed by a processing batch`);
  if (books.requestClaimedTwice) problems.push('a request was claimed by two processing batches');
  const statuses = Object.keys(books.batchesByStatus);
  if (statuses.some((s) => s !== 'processed')) problems.push(`processing batches not processed: ${JSON.stringify(books.batchesByStatus)}`);
  const processed = books.batchesByStatus.processed ?? 0;
  if (books.processedAudits !== processed) problems.push(`${books.processedAudits} batch.processed audit rows for ${processed} processed batches`);
  if (books.quotaUsed !== books.quantity) problems.push(`quota counters hold ${books.quotaUsed}, the events' quantity is ${books.quantity}`);
  return problems;
}

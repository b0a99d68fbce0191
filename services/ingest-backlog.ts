import type { Queryable } from '../prisma/pg';

/** Work the API has accepted that the ingest workflows have not finished. */
export interface IngestBacklog {
  /** events waiting for a processing batch plus events in batches not processed yet */
  pendingEvents: number;
  /** true when more requests wait than were counted (pendingEvents is then a lower bound) */
  pendingEventsAtLeast: boolean;
  /** requests waiting for a processing batch */
  waitingRequests: number;
  /** processing batches claimed whose workflow has not finished */
  openBatches: number;
  /** when the oldest pending event was stored; null when nothing is pending */
  oldestPendingAt: Date | null;
}

/** Waiting requests counted at most; past it the figure is "at least". */
export const BACKLOG_COUNT_CAP = 100_000;

export interface WaitingOrganization {
  organizationId: string;
  /** when its oldest waiting request was stored */
  oldestAt: Date;
}

/**
 * Organizations with requests waiting for a processing batch, with the time
 * of the oldest: one index probe per organization (a loose index scan over
 * the partial index of waiting requests), however many requests wait.
 */
export async function waitingOrganizations(db: Queryable): Promise<WaitingOrganization[]> {
  const { rows } = await db.query<{ organization_id: string; oldest_at: Date }>({
    name: 'ingest-waiting-organizations',
    text: `WITH RECURSIVE waiting AS (
      (SELECT organization_id, created_at FROM ingest_batches
        WHERE processing_batch_id IS NULL AND accepted > 0
        ORDER BY organization_id, created_at LIMIT 1)
      UNION ALL
      SELECT next.organization_id, next.created_at
        FROM waiting, LATERAL (
          SELECT organization_id, created_at FROM ingest_batches
           WHERE processing_batch_id IS NULL AND accepted > 0 AND organization_id > waiting.organization_id
           ORDER BY organization_id, created_at LIMIT 1) AS next
    )
    SELECT organization_id, created_at AS oldest_at FROM waiting`,
  });
  return rows.map((r) => ({ organizationId: r.organization_id, oldestAt: r.oldest_at }));
}

export interface IngestBacklogReading extends IngestBacklog {
  /** the same figures per organization with anything pending */
  byOrganization: Map<string, IngestBacklog>;
}

const emptyBacklog = (): IngestBacklog => ({ pendingEvents: 0, pendingEventsAtLeast: false, waitingRequests: 0, openBatches: 0, oldestPendingAt: null });

const earliest = (a: Date | null, b: Date | null): Date | null => (a === null ? b : b === null ? a : a < b ? a : b);

/**
 * The ingest backlog of the whole deployment and of each organization (or
 * of one organization). Cheap when healthy — only waiting rows and open
 * batches are read, through partial indexes; when a backlog builds, counting
 * stops at BACKLOG_COUNT_CAP waiting requests so the check never becomes the
 * load it reports (the oldest waiting time stays exact: one index probe per
 * organization).
 */
export async function readIngestBacklog(db: Queryable, organizationId?: string): Promise<IngestBacklogReading> {
  const org = organizationId ?? null;
  const [{ rows: counts }, waiting] = await Promise.all([
    db.query<{ organization_id: string; waiting_requests: number; waiting_events: string; open_batches: number; open_events: string; oldest_open: Date | null }>({
      name: 'ingest-backlog',
      text: `WITH waiting AS (
        SELECT organization_id, accepted FROM ingest_batches
         WHERE processing_batch_id IS NULL AND accepted > 0 AND ($1::uuid IS NULL OR organization_id = $1::uuid)
         ORDER BY organization_id, created_at
         LIMIT $2
      ), open AS (
        SELECT organization_id, events, oldest_accepted_at FROM processing_batches
         WHERE status IN ('accepted', 'workflow_started') AND ($1::uuid IS NULL OR organization_id = $1::uuid)
      ), per_organization AS (
        SELECT organization_id, count(*)::int AS waiting_requests, sum(accepted)::bigint AS waiting_events,
               0 AS open_batches, 0::bigint AS open_events, NULL::timestamptz AS oldest_open
          FROM waiting GROUP BY organization_id
        UNION ALL
        SELECT organization_id, 0, 0, count(*)::int, sum(events)::bigint, min(oldest_accepted_at)
          FROM open GROUP BY organization_id
      )
      SELECT organization_id, sum(waiting_requests)::int AS waiting_requests, sum(waiting_events)::bigint AS waiting_events,
             sum(open_batches)::int AS open_batches, sum(open_events)::bigint AS open_events, min(oldest_open) AS oldest_open
        FROM per_organization GROUP BY organization_id`,
      values: [org, BACKLOG_COUNT_CAP],
    }),
    org === null ? waitingOrganizations(db) : oldestWaiting(db, org),
  ]);
  const capped = counts.reduce((sum, c) => sum + c.waiting_requests, 0) >= BACKLOG_COUNT_CAP;
  const byOrganization = new Map<string, IngestBacklog>();
  for (const c of counts) {
    byOrganization.set(c.organization_id, {
      pendingEvents: Number(c.waiting_events) + Number(c.open_events),
      pendingEventsAtLeast: capped,
      waitingRequests: c.waiting_requests,
      openBatches: c.open_batches,
      oldestPendingAt: c.oldest_open,
    });
  }
  for (const w of waiting) {
    const entry = byOrganization.get(w.organizationId) ?? emptyBacklog();
    byOrganization.set(w.organizationId, { ...entry, oldestPendingAt: earliest(entry.oldestPendingAt, w.oldestAt) });
  }
  const total = emptyBacklog();
  for (const b of byOrganization.values()) {
    total.pendingEvents += b.pendingEvents;
    total.waitingRequests += b.waitingRequests;
    total.openBatches += b.openBatches;
    total.oldestPendingAt = earliest(total.oldestPendingAt, b.oldestPendingAt);
  }
  return { ...total, pendingEventsAtLeast: capped, byOrganization };
}

/** One organization's oldest waiting request, through the same index. */
async function oldestWaiting(db: Queryable, organizationId: string): Promise<WaitingOrganization[]> {
  const { rows } = await db.query<{ oldest_at: Date }>({
    name: 'ingest-oldest-waiting',
    text: `SELECT created_at AS oldest_at FROM ingest_batches
     WHERE processing_batch_id IS NULL AND accepted > 0 AND organization_id = $1
     ORDER BY organization_id, created_at LIMIT 1`,
    values: [organizationId],
  });
  return rows.map((r) => ({ organizationId, oldestAt: r.oldest_at }));
}

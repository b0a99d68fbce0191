import { v7 } from '../prisma/uuid-v7';
import type { Client } from '@temporalio/client';
import type { Queryable } from '../prisma/pg';
import { startIngestWorkflow, type StartedWorkflow } from '../temporal/ingest';

export { waitingOrganizations } from '../services/ingest-backlog';

/** The most events one processing batch (one ingest workflow) takes. */
export const MAX_BATCH_EVENTS = 1_000;

export interface ClaimedBatch {
  batchId: string;
  organizationId: string;
  requests: number;
  events: number;
}

/**
 * Claims the organization's oldest waiting requests into a new processing
 * batch of at most `maxEvents` events (a request is never split; a single
 * request holds at most 1,000), in one statement: the candidate requests are
 * locked with SKIP LOCKED, so two batchers claiming at once take disjoint
 * requests and no request is ever in two batches. Returns null when nothing
 * is waiting.
 */
export async function claimBatch(db: Queryable, organizationId: string, maxEvents = MAX_BATCH_EVENTS): Promise<ClaimedBatch | null> {
  const batchId = v7();
  const { rows } = await db.query<{ requests: number; events: number }>({
    name: 'ingest-claim-batch',
    text: `WITH candidates AS (
      SELECT id, accepted, created_at FROM ingest_batches
       WHERE organization_id = $1 AND processing_batch_id IS NULL AND accepted > 0
       ORDER BY created_at, id
       LIMIT $3
         FOR UPDATE SKIP LOCKED
    ), running AS (
      SELECT id, accepted, created_at, sum(accepted) OVER (ORDER BY created_at, id) AS total FROM candidates
    ), picked AS (
      -- the first request always fits: it holds at most 1,000 events
      SELECT id, accepted, created_at FROM running WHERE total <= $3 OR total = accepted
    ), batch AS (
      INSERT INTO processing_batches (id, organization_id, requests, events, request_ids, oldest_accepted_at)
      SELECT $2, $1, count(*), sum(accepted), array_agg(id ORDER BY created_at, id), min(created_at)
        FROM picked
      HAVING count(*) > 0
      RETURNING requests, events
    ), claimed AS (
      UPDATE ingest_batches AS r SET processing_batch_id = $2
        FROM picked WHERE r.id = picked.id AND EXISTS (SELECT 1 FROM batch)
    )
    SELECT requests, events FROM batch`,
    values: [organizationId, batchId, maxEvents],
  });
  const row = rows[0];
  return row ? { batchId, organizationId, requests: row.requests, events: row.events } : null;
}

/** Processing batches claimed at least `olderThanMs` ago whose workflow start was never recorded. */
export async function unstartedBatches(db: Queryable, olderThanMs: number, limit = 500, organizationId: string | null = null): Promise<{ batchId: string; organizationId: string }[]> {
  const { rows } = await db.query<{ id: string; organization_id: string }>({
    name: 'ingest-unstarted-batches',
    text: `SELECT id, organization_id FROM processing_batches
     WHERE status = 'accepted' AND created_at < now() - $1 * interval '1 millisecond' AND ($3::uuid IS NULL OR organization_id = $3::uuid)
     ORDER BY created_at
     LIMIT $2`,
    values: [olderThanMs, limit, organizationId],
  });
  return rows.map((r) => ({ batchId: r.id, organizationId: r.organization_id }));
}

/** The organization's batches claimed whose workflow has not finished (started or not): its in-flight work. */
export async function openBatchCount(db: Queryable, organizationId: string): Promise<number> {
  const { rows } = await db.query<{ open: number }>({
    name: 'ingest-open-batches',
    text: `SELECT count(*)::int AS open FROM processing_batches WHERE organization_id = $1 AND status IN ('accepted', 'workflow_started')`,
    values: [organizationId],
  });
  return rows[0]?.open ?? 0;
}

/**
 * Starts `ingest:<batchId>` (a no-op if it exists: the id is deterministic)
 * and records it on the batch. The record is bookkeeping only, so it commits
 * without waiting for the WAL flush: lost in a crash, the batch reads
 * `accepted` and the next start of the same id is again a no-op. It only
 * moves a batch still `accepted`, never one already processed.
 */
export async function startBatch(
  db: Queryable,
  temporal: Client,
  batch: { batchId: string; organizationId: string },
  taskQueue: string,
): Promise<StartedWorkflow & { recorded: boolean }> {
  const started = await startIngestWorkflow(temporal, batch, taskQueue);
  const { rowCount } = await db.query({
    name: 'ingest-record-start',
    text: `UPDATE processing_batches
       SET status = 'workflow_started', workflow_id = $2, run_id = COALESCE($3, run_id)
     WHERE id = $1 AND status = 'accepted'
       AND set_config('synchronous_commit', 'off', true) IS NOT NULL`,
    values: [batch.batchId, started.workflowId, started.runId],
  });
  return { ...started, recorded: (rowCount ?? 0) > 0 };
}

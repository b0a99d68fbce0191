import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { IngestBatchInput } from '../temporal/ingest';
import { insertAuditRows, writeAudit, type AuditActor } from '../prisma/audit';
import type { Queryable } from '../prisma/pg';
import { ensureMarginWatchSchedules } from '../temporal/margin-watch-schedule';
import { ensureSubscriptionWorkflows } from '../temporal/subscriptions';
import { pendingTopUps } from '../prisma/credit-top-ups';
import { startCreditTopUp } from '../temporal/credit-top-up';
import { overdueHolds } from '../prisma/credit-ledger';
import { startReservationExpiry } from '../temporal/credit-reservation';
import { claimBatch, startBatch, unstartedBatches, waitingOrganizations } from './batch-formation';
import { TX_OPTIONS, type ActivityDeps } from './deps';
import { workflowActor } from './workflow-actor';

export interface FindOrphanBatchesInput {
  /** work younger than this is still the batcher's (worker/batcher.ts), or the API's */
  olderThanSeconds?: number;
  limit?: number;
  /** one organization only (tests share one database); default all */
  organizationId?: string;
}

export const DEFAULT_ORPHAN_AGE_SECONDS = 60;

/**
 * Batches whose workflow started more than `olderThanMs` ago and is no
 * longer running although the batch is not processed: an operator terminated
 * or cancelled it (its activities retry for ever otherwise). They become
 * `failed` — out of the organization's open batches and backlog, so one stuck
 * batch does not hold back the rest of its ingest — with an audit row; a
 * reset or a new run of `ingest:<id>` in the Temporal UI still processes them.
 * A batch whose workflow Temporal does not know at all goes back to
 * `accepted`, for the batcher to start again.
 */
async function settleEndedWorkflows(db: Queryable, temporal: Client, olderThanMs: number, limit: number, organizationId: string | null, actor: AuditActor): Promise<void> {
  const { rows } = await db.query<{ id: string; organization_id: string; workflow_id: string }>({
    name: 'ingest-started-long-ago',
    text: `SELECT id, organization_id, workflow_id FROM processing_batches
            WHERE status = 'workflow_started' AND workflow_id IS NOT NULL AND created_at < now() - $1 * interval '1 millisecond'
              AND ($3::uuid IS NULL OR organization_id = $3::uuid)
            ORDER BY created_at LIMIT $2`,
    values: [olderThanMs, limit, organizationId],
  });
  for (const batch of rows) {
    let status: string;
    try {
      status = (await temporal.workflow.getHandle(batch.workflow_id).describe()).status.name;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      status = 'NOT_FOUND';
    }
    if (status === 'RUNNING') continue;
    const next = status === 'NOT_FOUND' ? 'accepted' : 'failed';
    const { rowCount } = await db.query({
      name: 'ingest-settle-ended',
      text: `UPDATE processing_batches SET status = $2::batch_status WHERE id = $1 AND status = 'workflow_started'`,
      values: [batch.id, next],
    });
    if (rowCount === 0) continue;
    await insertAuditRows(db, [
      {
        organizationId: batch.organization_id,
        actor,
        action: next === 'failed' ? 'batch.failed' : 'batch.workflow_missing',
        entityType: 'processing_batch',
        entityId: batch.id,
        before: { status: 'workflow_started' },
        after: { status: next, workflowId: batch.workflow_id, workflowStatus: status },
      },
    ]);
  }
}

/**
 * The safety net behind the worker's batcher, run by a Temporal Schedule:
 * requests still waiting for a processing batch after `olderThanSeconds`
 * are claimed into batches here, and every batch claimed that long ago whose
 * workflow start was never recorded (the batcher died in between, or
 * Temporal was down) is returned for startOrphanBatch. Batches whose
 * workflow ended unprocessed are settled (see settleEndedWorkflows).
 * Deliberately across all organizations — this is the system's own chore.
 */
export function findOrphanBatches({ pool, temporal }: ActivityDeps) {
  return async function findOrphanBatches({ olderThanSeconds = DEFAULT_ORPHAN_AGE_SECONDS, limit = 500, organizationId }: FindOrphanBatchesInput = {}): Promise<IngestBatchInput[]> {
    const scope = organizationId ?? null;
    if (temporal) await settleEndedWorkflows(pool, temporal, olderThanSeconds * 1000, limit, scope, workflowActor());
    const cutoff = Date.now() - olderThanSeconds * 1000;
    const claimedNow: IngestBatchInput[] = [];
    for (const waiting of await waitingOrganizations(pool)) {
      if (waiting.oldestAt.getTime() > cutoff || (scope !== null && waiting.organizationId !== scope)) continue;
      // Up to `limit` batches per sweep; the next sweep takes the rest.
      while (claimedNow.length < limit) {
        const claimed = await claimBatch(pool, waiting.organizationId);
        if (!claimed) break;
        claimedNow.push({ batchId: claimed.batchId, organizationId: claimed.organizationId });
      }
    }
    const stale = await unstartedBatches(pool, olderThanSeconds * 1000, limit, scope);
    return [...stale, ...claimedNow];
  };
}

export interface StartOrphanBatchResult {
  workflowId: string;
  runId: string;
  /** the workflow was already running or done (the batcher got that far after all) */
  alreadyStarted: boolean;
  /** this call moved the batch from `accepted` to `workflow_started` */
  recorded: boolean;
}

/**
 * Starts the batch's ingest workflow (a no-op if it exists: the id is
 * deterministic) and records it on the batch, as the batcher would have,
 * with a `batch.workflow_started_by_sweeper` audit row when this call made
 * the transition.
 */
export function startOrphanBatch({ prisma, pool, temporal, taskQueue }: ActivityDeps) {
  return async function startOrphanBatch(batch: IngestBatchInput): Promise<StartOrphanBatchResult> {
    if (!temporal) throw ApplicationFailure.nonRetryable('startOrphanBatch needs a Temporal client in the activity deps', 'MissingDependency');
    const actor = workflowActor();
    const started = await startBatch(pool, temporal, batch, taskQueue);
    const runId = started.runId ?? (await temporal.workflow.getHandle(started.workflowId).describe()).runId;
    if (started.recorded) {
      await prisma.$transaction(async (tx) => {
        await tx.processingBatch.updateMany({ where: { id: batch.batchId, runId: null }, data: { runId } });
        await writeAudit(tx, {
          organizationId: batch.organizationId,
          actor,
          action: 'batch.workflow_started_by_sweeper',
          entityType: 'processing_batch',
          entityId: batch.batchId,
          before: { status: 'accepted' },
          after: { status: 'workflow_started', workflowId: started.workflowId, runId, alreadyStarted: started.alreadyStarted },
        });
      }, TX_OPTIONS);
    }
    return { workflowId: started.workflowId, runId, alreadyStarted: started.alreadyStarted, recorded: started.recorded };
  };
}

/**
 * Subscriptions committed without their workflow (the API could not reach
 * Temporal, or died in between): started here, under the same deterministic
 * id, and recorded. The sweeper's share of "every entity start has a sweeper".
 */
export function startOrphanSubscriptions({ prisma, temporal, taskQueue }: ActivityDeps) {
  return async function startOrphanSubscriptions({ olderThanSeconds = DEFAULT_ORPHAN_AGE_SECONDS, limit = 500, organizationId }: FindOrphanBatchesInput = {}): Promise<{ checked: number; started: number }> {
    if (!temporal) throw ApplicationFailure.nonRetryable('startOrphanSubscriptions needs a Temporal client in the activity deps', 'MissingDependency');
    const { checked, started } = await ensureSubscriptionWorkflows(temporal, prisma, { taskQueue, olderThanSeconds, limit, ...(organizationId ? { organizationId } : {}) });
    return { checked, started: started.length };
  };
}

/**
 * Schedules one sweep brings up to date at most: each is a Temporal update, and the sweep's activity has 30 s for
 * all of them (after a spec change, every organization needs one; the worker's start does them in the background
 * and the sweeps take the rest a few dozen at a time).
 */
export const MARGIN_WATCHES_PER_SWEEP = 50;

/** Margin-watch schedules for organizations without one (created after the worker started), with a changed interval, or of an older spec. */
export function ensureMarginWatches({ prisma, temporal, taskQueue }: ActivityDeps) {
  return async function ensureMarginWatches({ limit = 500, organizationId }: FindOrphanBatchesInput = {}): Promise<{ scheduled: number }> {
    if (!temporal) throw ApplicationFailure.nonRetryable('ensureMarginWatches needs a Temporal client in the activity deps', 'MissingDependency');
    const scheduled = await ensureMarginWatchSchedules(temporal, prisma, { taskQueue, limit: Math.min(limit, MARGIN_WATCHES_PER_SWEEP), ...(organizationId ? { organizationId } : {}) });
    return { scheduled: scheduled.length };
  };
}

/**
 * Credit top-ups recorded without their workflow running (the API or the
 * ingest batch could not reach Temporal after its commit, or died in
 * between): started here under their deterministic id, credit-top-up:<id>.
 * A start for one that runs already changes nothing.
 */
export function startOrphanTopUps({ prisma, temporal, taskQueue }: ActivityDeps) {
  return async function startOrphanTopUps({ olderThanSeconds = DEFAULT_ORPHAN_AGE_SECONDS, limit = 500, organizationId }: FindOrphanBatchesInput = {}): Promise<{ started: number }> {
    if (!temporal) throw ApplicationFailure.nonRetryable('startOrphanTopUps needs a Temporal client in the activity deps', 'MissingDependency');
    const pending = (await pendingTopUps(prisma, olderThanSeconds * 1000, limit)).filter((t) => !organizationId || t.organizationId === organizationId);
    for (const t of pending) await startCreditTopUp(temporal, taskQueue, { organizationId: t.organizationId, topUpId: t.id });
    return { started: pending.length };
  };
}

/**
 * Holds still held well past their expiry: their expiry timer never started
 * (Temporal was away when a repeated request found the hold). Starting it
 * now fires at once and gives the credits back.
 */
export function startOverdueHoldTimers({ prisma, temporal, taskQueue }: ActivityDeps) {
  return async function startOverdueHoldTimers({ olderThanSeconds = DEFAULT_ORPHAN_AGE_SECONDS, limit = 500, organizationId }: FindOrphanBatchesInput = {}): Promise<{ started: number }> {
    if (!temporal) throw ApplicationFailure.nonRetryable('startOverdueHoldTimers needs a Temporal client in the activity deps', 'MissingDependency');
    const overdue = await overdueHolds(prisma, olderThanSeconds * 1000, limit, organizationId ?? null);
    for (const h of overdue) await startReservationExpiry(temporal, taskQueue, { organizationId: h.organizationId, reservationId: h.id, expiresAt: h.expiresAt.toISOString() });
    return { started: overdue.length };
  };
}

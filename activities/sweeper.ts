import { ApplicationFailure } from '@temporalio/activity';
import type { IngestBatchInput } from '../temporal/ingest';
import { writeAudit } from '../prisma/audit';
import { claimBatch, startBatch, unstartedBatches, waitingOrganizations } from './batch-formation';
import { TX_OPTIONS, type ActivityDeps } from './deps';
import { workflowActor } from './workflow-actor';

export interface FindOrphanBatchesInput {
  /** work younger than this is still the batcher's (worker/batcher.ts) */
  olderThanSeconds?: number;
  limit?: number;
}

export const DEFAULT_ORPHAN_AGE_SECONDS = 60;

/**
 * The safety net behind the worker's batcher, run by a Temporal Schedule:
 * requests still waiting for a processing batch after `olderThanSeconds`
 * are claimed into batches here, and every batch claimed that long ago whose
 * workflow start was never recorded (the batcher died in between, or
 * Temporal was down) is returned for startOrphanBatch. Deliberately across
 * all organizations — this is the system's own chore.
 */
export function findOrphanBatches({ pool }: ActivityDeps) {
  return async function findOrphanBatches({ olderThanSeconds = DEFAULT_ORPHAN_AGE_SECONDS, limit = 500 }: FindOrphanBatchesInput = {}): Promise<IngestBatchInput[]> {
    const cutoff = Date.now() - olderThanSeconds * 1000;
    const claimedNow: IngestBatchInput[] = [];
    for (const waiting of await waitingOrganizations(pool)) {
      if (waiting.oldestAt.getTime() > cutoff) continue;
      // Up to `limit` batches per sweep; the next sweep takes the rest.
      while (claimedNow.length < limit) {
        const claimed = await claimBatch(pool, waiting.organizationId);
        if (!claimed) break;
        claimedNow.push({ batchId: claimed.batchId, organizationId: claimed.organizationId });
      }
    }
    const stale = await unstartedBatches(pool, olderThanSeconds * 1000, limit);
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

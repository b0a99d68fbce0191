import { ApplicationFailure } from '@temporalio/activity';
import { startIngestWorkflow, type IngestBatchInput } from '../temporal/ingest';
import { writeAudit } from '../prisma/audit';
import { TX_OPTIONS, type ActivityDeps } from './deps';
import { workflowActor } from './workflow-actor';

export interface FindOrphanBatchesInput {
  /** a batch younger than this may still be between the API's commit and its workflow start */
  olderThanSeconds?: number;
  limit?: number;
}

export const DEFAULT_ORPHAN_AGE_SECONDS = 60;

/**
 * Batches the API committed but never started a workflow for (it died in
 * between): still `accepted`, with events, and older than the grace age.
 * Deliberately across all organizations — this is the system's own chore.
 */
export function findOrphanBatches({ prisma }: ActivityDeps) {
  return async function findOrphanBatches({ olderThanSeconds = DEFAULT_ORPHAN_AGE_SECONDS, limit = 500 }: FindOrphanBatchesInput = {}): Promise<IngestBatchInput[]> {
    const rows = await prisma.$queryRaw<{ id: string; organization_id: string }[]>`
      SELECT id, organization_id FROM ingest_batches
      WHERE status = 'accepted' AND accepted > 0
        AND created_at < now() - ${olderThanSeconds} * interval '1 second'
      ORDER BY created_at
      LIMIT ${limit}`;
    return rows.map((r) => ({ batchId: r.id, organizationId: r.organization_id }));
  };
}

export interface StartOrphanBatchResult {
  workflowId: string;
  runId: string;
  /** the workflow was already running or done (the API got that far after all) */
  alreadyStarted: boolean;
  /** this call moved the batch from `accepted` to `workflow_started` */
  recorded: boolean;
}

/**
 * Starts the batch's ingest workflow (a no-op if it exists: the id is
 * deterministic) and records it on the batch, as the API would have. The
 * status update only applies to a batch still `accepted`, so it never moves a
 * batch the workflow has already processed back.
 */
export function startOrphanBatch({ prisma, temporal, taskQueue }: ActivityDeps) {
  return async function startOrphanBatch(batch: IngestBatchInput): Promise<StartOrphanBatchResult> {
    if (!temporal) throw ApplicationFailure.nonRetryable('startOrphanBatch needs a Temporal client in the activity deps', 'MissingDependency');
    const actor = workflowActor();
    const started = await startIngestWorkflow(temporal, batch, taskQueue);
    const runId = started.runId ?? (await temporal.workflow.getHandle(started.workflowId).describe()).runId;
    const recorded = await prisma.$transaction(async (tx) => {
      const { count } = await tx.ingestBatch.updateMany({
        where: { id: batch.batchId, organizationId: batch.organizationId, status: 'accepted' },
        data: { status: 'workflow_started', workflowId: started.workflowId, runId },
      });
      if (count === 0) return false;
      await writeAudit(tx, {
        organizationId: batch.organizationId,
        actor,
        action: 'batch.workflow_started_by_sweeper',
        entityType: 'ingest_batch',
        entityId: batch.batchId,
        before: { status: 'accepted' },
        after: { status: 'workflow_started', workflowId: started.workflowId, runId, alreadyStarted: started.alreadyStarted },
      });
      return true;
    }, TX_OPTIONS);
    return { workflowId: started.workflowId, runId, alreadyStarted: started.alreadyStarted, recorded };
  };
}

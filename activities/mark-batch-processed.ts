import type { IngestBatchInput } from '../temporal/ingest';
import { writeAudit } from '../prisma/audit';
import { TX_OPTIONS, type ActivityDeps } from './deps';
import { workflowActor } from './workflow-actor';

/**
 * Marks the batch processed and audits it — only on the actual transition,
 * so a retry or a reset run writes no second audit row. A batch whose
 * workflow was started but never recorded (the API died right after the
 * start) also gets its workflow and run id here.
 */
export function markBatchProcessed({ prisma }: ActivityDeps) {
  return async function markBatchProcessed({ batchId, organizationId }: IngestBatchInput): Promise<{ transitioned: boolean }> {
    const actor = workflowActor();
    return prisma.$transaction(async (tx) => {
      const [row] = await tx.$queryRaw<{ previous_status: string; rated: number }[]>`
        WITH previous AS (
          SELECT id, status FROM ingest_batches
          WHERE id = ${batchId}::uuid AND organization_id = ${organizationId}::uuid
            AND status IN ('accepted', 'workflow_started')
          FOR UPDATE
        )
        UPDATE ingest_batches AS b
        SET status = 'processed',
            processed_at = now(),
            workflow_id = COALESCE(b.workflow_id, ${actor.id}),
            run_id = COALESCE(b.run_id, ${actor.type === 'workflow' ? actor.runId : null})
        FROM previous
        WHERE b.id = previous.id
        RETURNING previous.status::text AS previous_status,
          (SELECT count(*)::int FROM usage_events WHERE batch_id = b.id AND status = 'rated') AS rated`;
      if (!row) return { transitioned: false };
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'batch.processed',
        entityType: 'ingest_batch',
        entityId: batchId,
        before: { status: row.previous_status },
        after: { status: 'processed', ratedEvents: row.rated },
      });
      return { transitioned: true };
    }, TX_OPTIONS);
  };
}

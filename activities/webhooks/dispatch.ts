import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Queryable } from '../../prisma/pg';
import { webhookDeliveryWorkflowId } from '../../temporal/workflow-ids';

/** Workflow type of one delivery round (workflows/webhook-delivery.ts). */
export const WEBHOOK_DELIVERY_WORKFLOW_TYPE = 'webhookDelivery';

/**
 * Starts the delivery workflow of every pending delivery round that has none
 * yet (oldest first, at most `limit`), and records each start. The workflow
 * id names the delivery and round and is never reused, so two dispatchers
 * racing (or a start whose record was lost) cannot deliver a round twice.
 * Returns how many rounds it started or found started.
 */
export async function startPendingDeliveries(db: Queryable, temporal: Client, taskQueue: string, organizationIds: readonly string[] | null, limit = 200): Promise<number> {
  const { rows } = await db.query<{ id: string; organization_id: string; round: number }>({
    name: 'webhook-unstarted',
    text: `SELECT id, organization_id, round FROM webhook_deliveries
            WHERE NOT workflow_started AND status = 'pending' AND ($1::uuid[] IS NULL OR organization_id = ANY ($1::uuid[]))
            ORDER BY created_at, id LIMIT $2`,
    values: [organizationIds, limit],
  });
  for (const d of rows) {
    try {
      await temporal.workflow.start(WEBHOOK_DELIVERY_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: webhookDeliveryWorkflowId(d.id, d.round),
        args: [{ organizationId: d.organization_id, deliveryId: d.id, round: d.round }],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    await db.query({ name: 'webhook-started', text: 'UPDATE webhook_deliveries SET workflow_started = true WHERE id = $1 AND round = $2', values: [d.id, d.round] });
  }
  return rows.length;
}

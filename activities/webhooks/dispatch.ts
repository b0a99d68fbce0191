import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { inTransaction } from '../../prisma/pg';
import { webhookDeliveryWorkflowId } from '../../temporal/workflow-ids';

/** Workflow type of one delivery round (workflows/webhook-delivery.ts). */
export const WEBHOOK_DELIVERY_WORKFLOW_TYPE = 'webhookDelivery';

/** Rounds started per pass; a full pass means more may be waiting. */
export const DISPATCH_PAGE = 200;

/**
 * Starts the delivery workflow of pending delivery rounds that have none yet
 * (oldest first, at most DISPATCH_PAGE), and records each start. Rows are
 * claimed with SKIP LOCKED, so the dispatchers of several worker processes
 * share the work instead of each starting every round; the workflow id names
 * the delivery and round and is never reused, so a start whose record was
 * lost cannot deliver a round twice either. Returns how many rounds it
 * started (or found started).
 */
export async function startPendingDeliveries(pool: Pool, temporal: Client, taskQueue: string, organizationIds: readonly string[] | null): Promise<number> {
  return inTransaction(pool, async (db) => {
    const { rows } = await db.query<{ id: string; organization_id: string; round: number }>({
      name: 'webhook-unstarted',
      text: `SELECT id, organization_id, round FROM webhook_deliveries
              WHERE NOT workflow_started AND status = 'pending' AND ($1::uuid[] IS NULL OR organization_id = ANY ($1::uuid[]))
              ORDER BY created_at, id LIMIT $2
              FOR NO KEY UPDATE SKIP LOCKED`,
      values: [organizationIds, DISPATCH_PAGE],
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
  }, { timeoutMs: 60_000 });
}

/**
 * Pending deliveries whose round's workflow is no longer running (an
 * operator terminated it, or it failed) would stay pending for ever: nothing
 * starts a round twice, and a pending delivery cannot be redelivered. Those
 * quiet for `quietMs` (no attempt due in that time) are looked up in
 * Temporal, and the ones whose workflow ended become failed, with the reason,
 * so they can be sent again. Returns how many it settled.
 */
export async function settleAbandonedDeliveries(pool: Pool, temporal: Client, organizationIds: readonly string[] | null, quietMs = 10 * 60_000): Promise<number> {
  const { rows } = await pool.query<{ id: string; round: number }>({
    name: 'webhook-quiet',
    text: `SELECT id, round FROM webhook_deliveries
            WHERE workflow_started AND status = 'pending' AND ($1::uuid[] IS NULL OR organization_id = ANY ($1::uuid[]))
              AND updated_at < now() - $2 * interval '1 millisecond'
              AND (next_attempt_at IS NULL OR next_attempt_at < now() - $2 * interval '1 millisecond')
            ORDER BY updated_at LIMIT 50`,
    values: [organizationIds, quietMs],
  });
  let settled = 0;
  for (const d of rows) {
    let status: string;
    try {
      status = (await temporal.workflow.getHandle(webhookDeliveryWorkflowId(d.id, d.round)).describe()).status.name;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      status = 'NOT_FOUND';
    }
    if (status === 'RUNNING') continue;
    const { rowCount } = await pool.query({
      name: 'webhook-settle-abandoned',
      text: `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, updated_at = now(),
                    last_error = 'the delivery workflow ended (' || $3 || ') before the delivery finished; send it again'
              WHERE id = $1 AND round = $2 AND status = 'pending'`,
      values: [d.id, d.round, status.toLowerCase()],
    });
    settled += rowCount ?? 0;
  }
  return settled;
}

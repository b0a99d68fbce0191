import { Router } from 'express';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ingestWorkflowId } from '../../temporal/names';
import { callerOf } from '../auth';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The Temporal status of the batch's workflow, or null when it has none (yet) or Temporal cannot say. */
async function workflowStatus(deps: ApiDeps, config: ApiConfig, workflowId: string): Promise<string | null> {
  try {
    const description = await deps.temporal.withDeadline(Date.now() + config.temporalTimeoutMs, () =>
      deps.temporal.workflow.getHandle(workflowId).describe(),
    );
    return description.status.name;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) config.log(`could not describe workflow ${workflowId}`, err);
    return null;
  }
}

export function batchesRouter(deps: ApiDeps, config: ApiConfig): Router {
  const router = Router();
  router.get('/:id', async (req, res) => {
    const caller = callerOf(req);
    const id = req.params.id;
    const notFound = new ApiError(404, 'NOT_FOUND', `No batch ${id}`);
    if (!UUID.test(id)) throw notFound;
    // Scoped by organization: another organization's batch is indistinguishable from a missing one.
    const batch = await deps.prisma.ingestBatch.findFirst({ where: { id, organizationId: caller.organizationId } });
    if (!batch) throw notFound;
    const started = batch.workflowId ?? (batch.accepted > 0 ? ingestWorkflowId(batch.id) : null);
    res.json({
      id: batch.id,
      status: batch.status,
      received: batch.received,
      accepted: batch.accepted,
      duplicates: batch.duplicates,
      rejected: batch.rejected,
      workflow_id: batch.workflowId,
      run_id: batch.runId,
      workflow_status: started ? await workflowStatus(deps, config, started) : null,
      created_at: batch.createdAt.toISOString(),
      processed_at: batch.processedAt?.toISOString() ?? null,
    });
  });
  return router;
}

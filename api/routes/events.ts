import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { ingestWorkflowId } from '../../temporal/names';
import { startIngestWorkflow } from '../../temporal/ingest';
import { callerOf } from '../auth';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { storeBatch, type StoredBatch } from '../ingest/insert-events';
import { validateEvents } from '../ingest/validate-events';
import { listEvents } from '../ingest/list-events';
import { ListEventsQuerySchema } from '../schemas/events';
import { parseOrThrow } from '../validation';

const RETRYABLE_PG_CODES = new Set(['40P01', '40001']);

/** A deadlock or serialization failure rolls the whole batch back, so running it again is safe. */
async function storeWithRetry(run: () => Promise<StoredBatch>): Promise<StoredBatch> {
  try {
    return await run();
  } catch (err) {
    if (RETRYABLE_PG_CODES.has((err as { code?: string }).code ?? '')) return run();
    throw err;
  }
}

export function eventsRouter(deps: ApiDeps, config: ApiConfig): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const caller = callerOf(req);
    const request = validateEvents(req.body, new Date());
    if (request.events.length === 0 && request.inRequestDuplicates.length === 0) {
      throw new ApiError(400, 'VALIDATION_ERROR', `All ${request.received} event(s) were rejected`, {
        batch_id: null,
        rejected: request.rejected,
      });
    }

    const batchId = randomUUID();
    const stored = await storeWithRetry(() =>
      storeBatch(deps.pgPool, { ...request, organizationId: caller.organizationId, apiKeyId: caller.apiKeyId, batchId }),
    );

    const firstQuota = stored.rejected.find((r) => r.code === 'QUOTA_EXCEEDED');
    if (stored.accepted === 0 && stored.duplicateKeys.length === 0 && firstQuota?.details) {
      throw new ApiError(403, 'QUOTA_EXCEEDED', 'Every event of the request is over a HARD quota', {
        ...firstQuota.details,
        batch_id: batchId,
        rejected: stored.rejected,
      });
    }

    let workflowId: string | null = null;
    if (stored.accepted > 0) {
      workflowId = ingestWorkflowId(batchId);
      await startWorkflow(deps, config, caller.organizationId, batchId);
    }
    res.status(202).json({
      batch_id: batchId,
      accepted: stored.accepted,
      duplicates: stored.duplicateKeys.length,
      duplicate_keys: stored.duplicateKeys,
      rejected: stored.rejected,
      workflow_id: workflowId,
    });
  });

  router.get('/', async (req, res) => {
    const caller = callerOf(req);
    const query = parseOrThrow(ListEventsQuerySchema, req.query, 'query');
    res.json(await listEvents(deps.pgPool, caller.organizationId, query));
  });

  return router;
}

/**
 * The events are committed before this runs. If Temporal is slow or down the
 * request still succeeds: the batch stays `accepted` and the sweeper schedule
 * starts its workflow later under the same deterministic id.
 */
async function startWorkflow(deps: ApiDeps, config: ApiConfig, organizationId: string, batchId: string): Promise<void> {
  try {
    const started = await deps.temporal.withDeadline(Date.now() + config.temporalTimeoutMs, () =>
      startIngestWorkflow(deps.temporal, { batchId, organizationId }, deps.taskQueue),
    );
    // Bookkeeping only, so it commits without waiting for the WAL flush: if it
    // were lost in a crash the batch would read `accepted` and the sweeper's
    // start of the same workflow id would be a no-op.
    await deps.pgPool.query(
      `UPDATE ingest_batches
          SET workflow_id = $2, run_id = COALESCE($3, run_id),
              status = CASE WHEN status = 'accepted' THEN 'workflow_started'::batch_status ELSE status END
        WHERE id = $1 AND set_config('synchronous_commit', 'off', true) IS NOT NULL`,
      [batchId, started.workflowId, started.runId],
    );
  } catch (err) {
    config.log(`could not start workflow for batch ${batchId}; the sweeper will start it`, err);
  }
}

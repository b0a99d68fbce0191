import { WorkflowNotFoundError } from '@temporalio/client';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { route, type RouteTable } from '../route-table';
import { BatchParamsSchema, BatchSchema } from '../schemas/other';

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

interface RequestRow {
  id: string;
  received: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  created_at: Date;
  processing_batch_id: string | null;
  status: string | null;
  workflow_id: string | null;
  run_id: string | null;
  processed_at: Date | null;
  batch_events: number | null;
  batch_requests: number | null;
  rated: number;
}

async function readBatch(deps: ApiDeps, config: ApiConfig, organizationId: string, id: string) {
  const notFound = new ApiError(404, 'NOT_FOUND', `No batch ${id}`);
  if (!UUID.test(id)) throw notFound;
  // Scoped by organization: another organization's batch is indistinguishable from a missing one.
  const { rows } = await deps.pgPool.query<RequestRow>(
    `SELECT r.id, r.received, r.accepted, r.duplicates, r.rejected, r.created_at, r.processing_batch_id,
            p.status::text AS status, p.workflow_id, p.run_id, p.processed_at, p.events AS batch_events, p.requests AS batch_requests,
            (SELECT count(*)::int FROM usage_events e WHERE e.batch_id = r.id AND e.organization_id = r.organization_id AND e.status = 'rated') AS rated
       FROM ingest_batches r
       LEFT JOIN processing_batches p ON p.id = r.processing_batch_id
      WHERE r.id = $1 AND r.organization_id = $2`,
    [id, organizationId],
  );
  const row = rows[0];
  if (!row) throw notFound;
  // Nothing accepted: nothing to process, done at once.
  const status = row.accepted === 0 ? 'processed' : (row.status ?? 'accepted');
  return {
    id: row.id,
    status,
    received: row.received,
    accepted: row.accepted,
    duplicates: row.duplicates,
    rejected: row.rejected,
    rated: row.rated,
    processing_batch: row.processing_batch_id ? { id: row.processing_batch_id, events: row.batch_events, requests: row.batch_requests } : null,
    workflow_id: row.workflow_id,
    run_id: row.run_id,
    workflow_status: row.workflow_id ? await workflowStatus(deps, config, row.workflow_id) : null,
    created_at: row.created_at.toISOString(),
    processed_at: row.processed_at?.toISOString() ?? null,
  };
}

/**
 * GET /api/v1/batches/:id — one request (the batch_id of its 202) and where
 * its events are: `accepted` while they wait for a processing batch, then the
 * status of that batch's `ingest:<processing batch id>` workflow, up to
 * `processed` once every event of the request is rated.
 */
export const batchRoutes: RouteTable = {
  mount: '/batches',
  routes: [
    route({
      method: 'get',
      path: '/{id}',
      summary: 'A request\'s events: stored counts, how many are rated, and the processing batch and workflow rating them',
      params: BatchParamsSchema,
      ok: { description: 'The batch', schema: BatchSchema },
      errors: { '404': 'No such batch in your organization' },
      handle: (deps, { caller, params, config }) => readBatch(deps, config, caller.organizationId, params.id),
    }),
  ],
};

import { Router } from 'express';
import type { ApiDeps } from '../deps';
import type { BacklogGate } from '../ingest/backlog-gate';

const READY_TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function probe(run: () => Promise<unknown>, what: string): Promise<string> {
  try {
    await withTimeout(run(), what);
    return 'ok';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * /health: the process is up. /ready: it can do its job (database and
 * Temporal answer), with the ingest backlog in the details. A backlog does
 * not make the API unready — it still answers everything but new events.
 */
export function healthRouter(deps: ApiDeps, backlog: BacklogGate): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const [database, temporal, ingest] = await Promise.all([
      probe(() => deps.pgPool.query('SELECT 1'), 'PostgreSQL'),
      probe(() => deps.temporal.withDeadline(Date.now() + READY_TIMEOUT_MS, () => deps.temporal.workflowService.getSystemInfo({})), 'Temporal'),
      withTimeout(backlog.refresh(250), 'the ingest backlog').then(
        (reading) => ({
          pending_events: reading.pendingEvents,
          pending_events_at_least: reading.pendingEventsAtLeast,
          waiting_requests: reading.waitingRequests,
          open_batches: reading.openBatches,
          oldest_pending_age_seconds: Math.round(reading.oldestPendingAgeSeconds * 10) / 10,
          organizations_paused: [...reading.byOrganization.keys()].filter((organizationId) => !backlog.accepting(organizationId)).length,
        }),
        (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
      ),
    ]);
    const ready = database === 'ok' && temporal === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks: { database, temporal }, ingest });
  });
  return router;
}

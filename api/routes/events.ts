import { Router } from 'express';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ingestRequest, type Ingest } from '../ingest/ingest-request';
import { listEvents } from '../ingest/list-events';
import { ListEventsQuerySchema } from '../schemas/events';
import { parseOrThrow } from '../validation';

export function eventsRouter(deps: ApiDeps, ingest: Ingest): Router {
  const router = Router();

  // Most posts take the fast lane (api/ingest/fast-lane.ts) before Express sees them; the rest come here.
  router.post('/', async (req, res) => {
    res.status(202).json(await ingestRequest(ingest, callerOf(req), req.body));
  });

  router.get('/', async (req, res) => {
    const caller = callerOf(req);
    const query = parseOrThrow(ListEventsQuerySchema, req.query, 'query');
    res.json(await listEvents(deps.pgPool, caller.organizationId, query));
  });

  return router;
}

import { Router } from 'express';
import { listUnpricedEvents, rerateUnpricedEvents, RerateRequestSchema, UnpricedEventsQuerySchema } from '../../services/unpriced-events';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';

/** Events with usage lines rating left unpriced, and their re-rating once a rate prices them (services/unpriced-events.ts). */
export function unpricedEventsRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const query = parseOrThrow(UnpricedEventsQuerySchema, req.query, 'query');
    res.json(await listUnpricedEvents(deps.prisma, callerOf(req).organizationId, query));
  });

  router.post('/rerate', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(RerateRequestSchema, req.body, 'request');
    res.json(await rerateUnpricedEvents(deps.prisma, caller.organizationId, body, apiKeyActor(caller)));
  });

  return router;
}

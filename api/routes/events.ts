import type { Request } from 'express';
import { z } from 'zod';
import { ingestRequest, type Ingest } from '../ingest/ingest-request';
import { listEvents } from '../ingest/list-events';
import { route, type RouteTable } from '../route-table';
import {
  BacklogFullSchema,
  EventPageSchema,
  IngestRequestSchema,
  IngestResponseSchema,
  ListEventsQuerySchema,
  QuotaExceededSchema,
  ValidationRejectedSchema,
} from '../schemas/events';

/** The deployment's ingest (group commit, backlog gate, counters), which api/app.ts keeps in `app.locals`. */
export function ingestOf(req: Request): Ingest {
  const ingest = req.app.locals.ingest as Ingest | undefined;
  if (!ingest) throw new Error('the ingest routes need the app createApi builds (app.locals.ingest is not set)');
  return ingest;
}

/**
 * POST and GET /api/v1/events. Most posts take the fast lane
 * (api/ingest/fast-lane.ts) before Express sees them; the rest come here,
 * to the same ingestRequest. The body is checked event by event there: the
 * valid events of a request are stored and the others listed as rejected.
 */
export const eventRoutes: RouteTable = {
  mount: '/events',
  routes: [
    route({
      method: 'post',
      path: '',
      summary: 'Ingest one event or a batch of up to 1,000',
      description:
        'Each event is validated on its own; invalid ones are listed in `rejected` and the rest are accepted. A repeated idempotency_key is a duplicate and is stored once. ' +
        'The answer comes once the events are committed (requests arriving together share one transaction); no workflow is started on the request path. ' +
        'The worker gathers each organization\'s waiting events into processing batches of up to 1,000 events or ~250 ms of arrivals and rates each batch in one ' +
        '`ingest:<processing batch id>` workflow: follow `batch_id` with GET /api/v1/batches/{id} to its status, processing batch and workflow.',
      body: IngestRequestSchema,
      bodyCheckedByHandler: true,
      ok: { status: 202, description: 'Stored; GET /api/v1/batches/{batch_id} follows the events until they are rated', schema: IngestResponseSchema },
      errors: {
        '400': { description: 'Every event was invalid, or the body is malformed', schema: ValidationRejectedSchema },
        '403': { description: 'Every event is over a HARD quota, or INSUFFICIENT_SCOPE: the key lacks the ingest scope', schema: QuotaExceededSchema },
        '503': {
          description:
            'INGEST_BACKLOG_FULL: more of this organization\'s events wait to be rated, or its oldest has waited longer, than the deployment allows (INGEST_MAX_BACKLOG_EVENTS, INGEST_MAX_BACKLOG_AGE_SECONDS); or SERVER_BUSY: the API process holds as many request bodies as it works on at once (API_BODY_BUDGET_BYTES) and this one found no room within API_BODY_BUDGET_WAIT_MS; or DATABASE_UNAVAILABLE. Nothing of the request was stored. Retry after the Retry-After header.',
          schema: BacklogFullSchema,
          headers: z.object({ 'Retry-After': z.string().meta({ description: 'Seconds to wait' }) }),
        },
      },
      handle: (_deps, { caller, req }) => ingestRequest(ingestOf(req), caller, req.body),
    }),
    route({
      method: 'get',
      path: '',
      summary: 'List stored events, newest first',
      query: ListEventsQuerySchema,
      ok: { description: 'One page of events', schema: EventPageSchema },
      handle: (deps, { caller, query }) => listEvents(deps.pgPool, caller.organizationId, query),
    }),
  ],
};

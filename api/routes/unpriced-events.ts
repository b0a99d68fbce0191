import { listUnpricedEvents, rerateUnpricedEvents, RerateRequestSchema, RerateResultSchema, UnpricedEventsQuerySchema, UnpricedEventsSchema } from '../../services/unpriced-events';
import { route, type RouteTable } from '../route-table';
import { apiKeyActor } from './catalog-common';

/** Events with usage lines rating left unpriced, and their re-rating once a rate prices them (services/unpriced-events.ts). */
export const unpricedEventRoutes: RouteTable = {
  mount: '/unpriced-events',
  routes: [
    route({
      method: 'get',
      path: '',
      summary: 'Events with vendor usage rating left unpriced, newest first, each line with why and whether a re-rate would price it now',
      description:
        "A usage line is unpriced when no rate of its vendor and model was in effect at the event timestamp, the rate in effect has no price for one of its counts, or it is not a usage line. Its cost is unknown, not zero: the event's cost holds its other lines. The summary counts every unpriced line by vendor and model.",
      query: UnpricedEventsQuerySchema,
      ok: { description: 'The summary and the newest unpriced events', schema: UnpricedEventsSchema },
      handle: (deps, { caller, query }) => listUnpricedEvents(deps.prisma, caller.organizationId, query),
    }),
    route({
      method: 'post',
      path: '/rerate',
      summary: 'Re-rate unpriced events: price the lines a rate in effect at their timestamp prices now',
      description:
        'Only adds: lines priced before keep their cost, newly priced lines add theirs and their rate, the rest stay unpriced. Each re-rated event gets an event.rerated audit row. A rate can be added for the time before a vendor and model had one (POST /api/v1/vendor-rates with an earlier effective_from), then the events of that time re-rated. Running it again prices nothing twice.',
      body: RerateRequestSchema,
      ok: { description: 'What was priced and what is still unpriced', schema: RerateResultSchema },
      handle: (deps, { caller, body }) => rerateUnpricedEvents(deps.prisma, caller.organizationId, body, apiKeyActor(caller)),
    }),
  ],
};

import { addBurnRate, BurnRateCreateSchema, BurnRateListQuerySchema, BurnRateListSchema, BurnRateSchema, listBurnRates } from '../../services/credit-burn-rates';
import { route, type RouteTable } from '../route-table';
import { apiKeyActor } from './catalog-common';

/** Burn tables (services/credit-burn-rates.ts): what a unit of a meter costs in prepaid credits, versioned in time. */
export const creditBurnRateRoutes: RouteTable = {
  mount: '/credit-burn-rates',
  routes: [
    route({
      method: 'post',
      path: '',
      summary: 'Add a burn rate: credits per units of a meter (and value of its dimension), from a time on',
      description:
        'Ingest burns credits from a customer\'s wallet as it rates their events, at the rate in effect at each event\'s timestamp. A rate is never edited: a new one ends the open one of its meter and value.',
      body: BurnRateCreateSchema,
      ok: { status: 201, description: 'Created', schema: BurnRateSchema },
      errors: { '409': 'A rate of this meter and value starts at or after effective_from, or was in effect then' },
      handle: (deps, { caller, body }) => addBurnRate(deps.prisma, caller.organizationId, body, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '',
      summary: 'List burn rates by meter, value and start',
      query: BurnRateListQuerySchema,
      ok: { description: 'The rates', schema: BurnRateListSchema },
      handle: (deps, { caller, query }) => listBurnRates(deps.prisma, caller.organizationId, query),
    }),
  ],
};

import { priceNow } from '../../services/vendor-rates';
import { route, type RouteTable } from '../route-table';
import { RatingRequestSchema, RatingResponseSchema } from '../schemas/other';

/** A cost preview: one usage line priced at the rate in effect now (services/vendor-rates.ts priceNow). */
export const ratingRoutes: RouteTable = {
  mount: '/rating',
  routes: [
    route({
      method: 'post',
      path: '/calculate',
      summary: 'Cost of one usage line (tokens by kind, images, seconds, requests) at the rate in effect now',
      body: RatingRequestSchema,
      ok: { description: 'Exact cost and the rate used', schema: RatingResponseSchema },
      errors: { '404': 'No rate in effect for vendor/model' },
      handle: async (deps, { caller, body }) => ({ ...body, ...(await priceNow(deps.prisma, caller.organizationId, body)) }),
    }),
  ],
};

import { marginReport } from '../../services/margins';
import { route, type RouteTable } from '../route-table';
import { MarginsQuerySchema, MarginsResponseSchema } from '../schemas/margins';

/** GET /api/v1/margins: revenue, cost and margin per customer or feature and currency, for the caller's organization (services/margins.ts). */
export const marginRoutes: RouteTable = {
  mount: '/margins',
  routes: [
    route({
      method: 'get',
      path: '',
      summary: 'Revenue, cost and margin per customer or feature, per currency',
      description:
        'For your organization only. revenue = event revenue + Ledgerflow invoice revenue + Stripe invoice revenue, each invoice counted by the UTC days its period shares with the window (an invoice for Nov 1–Dec 1 in a window from Nov 21 counts 10/30); cost = vendor cost of rated events; margin_bps = margin × 10,000 ÷ revenue. Margin alerts (Slack and email) use the current_period figures against threshold_bps.',
      query: MarginsQuerySchema,
      ok: { description: 'The margins', schema: MarginsResponseSchema },
      handle: (deps, { caller, query }) => marginReport(deps.prisma, caller.organizationId, query),
    }),
  ],
};

import { Router } from 'express';
import { providersPricing, ProvidersPricingQuerySchema } from '../../services/vendor-rates';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { parseOrThrow } from '../validation';

/** The caller's organization's price book by provider (services/vendor-rates.ts providersPricing). */
export function providersRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/pricing', async (req, res) => {
    const query = parseOrThrow(ProvidersPricingQuerySchema, req.query, 'query');
    res.json(await providersPricing(deps.prisma, callerOf(req).organizationId, query));
  });
  return router;
}

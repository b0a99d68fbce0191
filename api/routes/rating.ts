import { Router } from 'express';
import { priceNow } from '../../services/vendor-rates';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { RatingRequestSchema } from '../schemas/other';
import { parseOrThrow } from '../validation';

/** A cost preview: one usage line priced at the rate in effect now (services/vendor-rates.ts priceNow). */
export function ratingRouter(deps: ApiDeps): Router {
  const router = Router();
  router.post('/calculate', async (req, res) => {
    const body = parseOrThrow(RatingRequestSchema, req.body, 'request');
    res.json({ ...body, ...(await priceNow(deps.prisma, callerOf(req).organizationId, body)) });
  });
  return router;
}

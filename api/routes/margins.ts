import { Router } from 'express';
import { marginReport } from '../../services/margins';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { MarginsQuerySchema } from '../schemas/margins';
import { parseOrThrow } from '../validation';

/** GET /api/v1/margins: revenue, cost and margin per customer or feature and currency, for the caller's organization (services/margins.ts). */
export function marginsRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const query = parseOrThrow(MarginsQuerySchema, req.query, 'query');
    res.json(await marginReport(deps.prisma, callerOf(req).organizationId, query));
  });
  return router;
}

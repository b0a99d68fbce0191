import { Router } from 'express';
import { addVendorRate, listVendorRates, VendorRateCreateSchema, VendorRateListQuerySchema } from '../../services/vendor-rates';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';

/** The caller's organization's vendor rates (services/vendor-rates.ts): listed with their history, added, never edited. */
export function vendorRatesRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const query = parseOrThrow(VendorRateListQuerySchema, req.query, 'query');
    res.json(await listVendorRates(deps.prisma, callerOf(req).organizationId, query));
  });

  router.post('/', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(VendorRateCreateSchema, req.body, 'request');
    res.status(201).json(await addVendorRate(deps.prisma, caller.organizationId, body, apiKeyActor(caller)));
  });

  return router;
}

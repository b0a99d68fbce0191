import { Router } from 'express';
import {
  createQuotaLimit,
  deleteQuotaLimit,
  getQuotaLimit,
  listQuotaLimits,
  QuotaLimitCreateSchema,
  QuotaLimitListQuerySchema,
  QuotaLimitPatchSchema,
  refuseIdentityChange,
  updateQuotaLimit,
} from '../../services/quota-limits';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';

/** The caller's organization's quota limits (services/quota-limits.ts); ingest applies a change to its next request. */
export function quotaLimitsRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const query = parseOrThrow(QuotaLimitListQuerySchema, req.query, 'query');
    res.json(await listQuotaLimits(deps.prisma, callerOf(req).organizationId, query));
  });

  router.post('/', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(QuotaLimitCreateSchema, req.body, 'request');
    res.status(201).json(await createQuotaLimit(deps.prisma, caller.organizationId, body, apiKeyActor(caller)));
  });

  router.get('/:id', async (req, res) => {
    res.json(await getQuotaLimit(deps.prisma, callerOf(req).organizationId, req.params.id));
  });

  router.patch('/:id', async (req, res) => {
    const caller = callerOf(req);
    refuseIdentityChange(req.body);
    const patch = parseOrThrow(QuotaLimitPatchSchema, req.body, 'request');
    res.json(await updateQuotaLimit(deps.prisma, caller.organizationId, req.params.id, patch, apiKeyActor(caller)));
  });

  router.delete('/:id', async (req, res) => {
    const caller = callerOf(req);
    res.json(await deleteQuotaLimit(deps.prisma, caller.organizationId, req.params.id, apiKeyActor(caller)));
  });

  return router;
}

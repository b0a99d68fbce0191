import { Router } from 'express';
import { listPlanFeatures, PlanFeatureParamsSchema, PlanFeatureSetSchema, removePlanFeature, setPlanFeature } from '../../services/plan-features';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';

/** A plan's features (services/plan-features.ts): listed, set (created or replaced), removed; mounted under /plans. */
export function planFeaturesRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/:key/features', async (req, res) => {
    res.json(await listPlanFeatures(deps.prisma, callerOf(req).organizationId, req.params.key));
  });

  router.put('/:key/features/:feature', async (req, res) => {
    const caller = callerOf(req);
    const params = parseOrThrow(PlanFeatureParamsSchema, req.params, 'path');
    const body = parseOrThrow(PlanFeatureSetSchema, req.body, 'request');
    const { feature, created } = await setPlanFeature(deps.prisma, caller.organizationId, params.key, params.feature, body, apiKeyActor(caller));
    res.status(created ? 201 : 200).json(feature);
  });

  router.delete('/:key/features/:feature', async (req, res) => {
    const caller = callerOf(req);
    const params = parseOrThrow(PlanFeatureParamsSchema, req.params, 'path');
    res.json(await removePlanFeature(deps.prisma, caller.organizationId, params.key, params.feature, apiKeyActor(caller)));
  });

  return router;
}

import { listPlanFeatures, PlanFeatureListSchema, PlanFeatureParamsSchema, PlanFeatureSchema, PlanFeatureSetSchema, removePlanFeature, setPlanFeature } from '../../services/plan-features';
import { answer, route, type RouteTable } from '../route-table';
import { KeyParamsSchema } from '../../services/schemas/catalog';
import { apiKeyActor } from './catalog-common';

/** A plan's features (services/plan-features.ts): listed, set (created or replaced), removed; under /plans. */
export const planFeatureRoutes: RouteTable = {
  mount: '/plans',
  routes: [
    route({
      method: 'get',
      path: '/{key}/features',
      summary: "A plan's features",
      params: KeyParamsSchema,
      ok: { description: 'Its features by key', schema: PlanFeatureListSchema },
      errors: { '404': 'No such plan in your organization' },
      handle: (deps, { caller, params }) => listPlanFeatures(deps.prisma, caller.organizationId, params.key),
    }),
    route({
      method: 'put',
      path: '/{key}/features/{feature}',
      summary: "Set a plan's feature: a switch, a numeric limit or a config value (created or replaced)",
      description:
        "POST /api/v1/entitlements/check with feature answers from these: a customer is entitled to what any of its active subscriptions' plans grants. Audited (plan_feature.created, .updated).",
      params: PlanFeatureParamsSchema,
      body: PlanFeatureSetSchema,
      ok: { description: 'Replaced', schema: PlanFeatureSchema },
      alsoOk: { '201': { description: 'Created', schema: PlanFeatureSchema } },
      errors: { '404': 'No such plan in your organization' },
      handle: async (deps, { caller, params, body }) => {
        const { feature, created } = await setPlanFeature(deps.prisma, caller.organizationId, params.key, params.feature, body, apiKeyActor(caller));
        return answer(created ? 201 : 200, feature);
      },
    }),
    route({
      method: 'delete',
      path: '/{key}/features/{feature}',
      summary: "Remove a plan's feature (the plan then does not grant it)",
      params: PlanFeatureParamsSchema,
      ok: { description: 'The feature as it was', schema: PlanFeatureSchema },
      errors: { '404': 'No such plan, or it has no such feature' },
      handle: (deps, { caller, params }) => removePlanFeature(deps.prisma, caller.organizationId, params.key, params.feature, apiKeyActor(caller)),
    }),
  ],
};

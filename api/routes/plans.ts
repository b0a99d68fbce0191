import { createPlan, createPlanVersion, getPlan, listPlans, listPlanVersions } from '../../services/plans';
import { route, type RouteTable } from '../route-table';
import { KeyListQuerySchema, KeyParamsSchema, listOf, PlanCreateSchema, PlanSchema, PlanVersionCreateSchema, PlanVersionListSchema, PlanVersionParamsSchema } from '../../services/schemas/catalog';
import { apiKeyActor } from './catalog-common';

/** The caller's organization's plans and their versions (services/plans.ts). */

const noPlan = { '404': 'No such plan in your organization' };

export const planRoutes: RouteTable = {
  mount: '/plans',
  routes: [
    route({
      method: 'post',
      path: '',
      summary: 'Create a plan with its per-meter prices (version 1)',
      description: 'Each price names one of your meters by key and is checked by the same rules the invoices price with. To change the prices of a plan later, create its next version.',
      body: PlanCreateSchema,
      ok: { status: 201, description: 'Created', schema: PlanSchema },
      errors: { '409': 'A plan with this key exists' },
      handle: (deps, { caller, body }) => createPlan(deps.prisma, caller.organizationId, body, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '',
      summary: 'List plans by key, each at its newest version',
      query: KeyListQuerySchema,
      ok: { description: 'One page of plans', schema: listOf(PlanSchema, 'PlanList') },
      handle: (deps, { caller, query }) => listPlans(deps.prisma, caller.organizationId, query),
    }),
    route({
      method: 'get',
      path: '/{key}',
      summary: 'A plan at its newest version, with its prices',
      params: KeyParamsSchema,
      ok: { description: 'The plan', schema: PlanSchema },
      errors: noPlan,
      handle: (deps, { caller, params }) => getPlan(deps.prisma, caller.organizationId, params.key),
    }),
    route({
      method: 'post',
      path: '/{key}/versions',
      summary: 'Create the next version of a plan (a price change)',
      description:
        'The newest version\'s terms with the changes asked; currency and interval stay, features are copied. New subscriptions take the newest version. A subscription stays on its version until it is moved on purpose: a plan change to the same plan key (`POST /subscriptions/{id}/change-plan`), now or at the period end.',
      params: KeyParamsSchema,
      body: PlanVersionCreateSchema,
      ok: { status: 201, description: 'The new version', schema: PlanSchema },
      errors: noPlan,
      handle: (deps, { caller, params, body }) => createPlanVersion(deps.prisma, caller.organizationId, params.key, body, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '/{key}/versions',
      summary: 'Every version of a plan, newest first, with how many subscriptions each has',
      params: KeyParamsSchema,
      ok: { description: 'The versions', schema: PlanVersionListSchema },
      errors: noPlan,
      handle: (deps, { caller, params }) => listPlanVersions(deps.prisma, caller.organizationId, params.key),
    }),
    route({
      method: 'get',
      path: '/{key}/versions/{version}',
      summary: 'One version of a plan, with its prices',
      params: PlanVersionParamsSchema,
      ok: { description: 'The version', schema: PlanSchema },
      errors: { '404': 'No such plan or version in your organization' },
      handle: (deps, { caller, params }) => getPlan(deps.prisma, caller.organizationId, params.key, params.version),
    }),
  ],
};

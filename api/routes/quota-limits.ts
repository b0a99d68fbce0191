import {
  createQuotaLimit,
  deleteQuotaLimit,
  getQuotaLimit,
  listQuotaLimits,
  QuotaLimitCreateSchema,
  QuotaLimitListQuerySchema,
  QuotaLimitParamsSchema,
  QuotaLimitPatchSchema,
  QuotaLimitSchema,
  refuseIdentityChange,
  updateQuotaLimit,
} from '../../services/quota-limits';
import { route, type RouteTable } from '../route-table';
import { listOf } from '../../services/schemas/catalog';
import { apiKeyActor } from './catalog-common';

/** The caller's organization's quota limits (services/quota-limits.ts); ingest applies a change to its next request. */

const notFound = { '404': 'No such limit in your organization' };

export const quotaLimitRoutes: RouteTable = {
  mount: '/quota-limits',
  routes: [
    route({
      method: 'post',
      path: '',
      summary: 'Create a quota limit, for one customer or as the organization default',
      description:
        "One limit per event type and customer, and one organization default (customer_external_id null) per event type. A customer's own limit wins over the default; DISABLED switches the default off for that customer. Ingest applies it to its next request.",
      body: QuotaLimitCreateSchema,
      ok: { status: 201, description: 'Created', schema: QuotaLimitSchema },
      errors: { '409': 'That customer (or the default) has a limit on this event type already' },
      handle: (deps, { caller, body }) => createQuotaLimit(deps.prisma, caller.organizationId, body, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '',
      summary: 'List quota limits by id',
      query: QuotaLimitListQuerySchema,
      ok: { description: 'One page of limits', schema: listOf(QuotaLimitSchema, 'QuotaLimitList') },
      handle: (deps, { caller, query }) => listQuotaLimits(deps.prisma, caller.organizationId, query),
    }),
    route({
      method: 'get',
      path: '/{id}',
      summary: 'A quota limit',
      params: QuotaLimitParamsSchema,
      ok: { description: 'The limit', schema: QuotaLimitSchema },
      errors: notFound,
      handle: (deps, { caller, params }) => getQuotaLimit(deps.prisma, caller.organizationId, params.id),
    }),
    route({
      method: 'patch',
      path: '/{id}',
      summary: 'Change a quota limit (mode, limit, warning, grace, window; not what it counts)',
      params: QuotaLimitParamsSchema,
      // Naming what a limit counts is refused as such, not as an unknown field.
      before: (req) => refuseIdentityChange(req.body),
      body: QuotaLimitPatchSchema,
      ok: { description: 'The limit as changed', schema: QuotaLimitSchema },
      errors: notFound,
      handle: (deps, { caller, params, body }) => updateQuotaLimit(deps.prisma, caller.organizationId, params.id, body, apiKeyActor(caller)),
    }),
    route({
      method: 'delete',
      path: '/{id}',
      summary: 'Remove a quota limit and its usage counters',
      params: QuotaLimitParamsSchema,
      ok: { description: 'The limit as it was', schema: QuotaLimitSchema },
      errors: notFound,
      handle: (deps, { caller, params }) => deleteQuotaLimit(deps.prisma, caller.organizationId, params.id, apiKeyActor(caller)),
    }),
  ],
};

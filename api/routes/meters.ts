import { createMeter, getMeter, listMeters, updateMeter } from '../../services/meters';
import { KeyListQuerySchema, KeyParamsSchema, listOf, MeterCreateSchema, MeterPatchSchema, MeterSchema } from '../../services/schemas/catalog';
import { route, type RouteTable } from '../route-table';
import { apiKeyActor } from './catalog-common';

/** The caller's organization's meters (services/meters.ts). */

const notFound = { '404': 'No such meter in your organization' };

export const meterRoutes: RouteTable = {
  mount: '/meters',
  routes: [
    route({
      method: 'post',
      path: '',
      summary: 'Create a meter',
      body: MeterCreateSchema,
      ok: { status: 201, description: 'Created', schema: MeterSchema },
      errors: { '409': 'A meter with this key exists' },
      handle: (deps, { caller, body }) => createMeter(deps.prisma, caller.organizationId, body, apiKeyActor(caller)),
    }),
    route({
      method: 'get',
      path: '',
      summary: 'List meters by key',
      query: KeyListQuerySchema,
      ok: { description: 'One page of meters', schema: listOf(MeterSchema, 'MeterList') },
      handle: (deps, { caller, query }) => listMeters(deps.prisma, caller.organizationId, query),
    }),
    route({
      method: 'get',
      path: '/{key}',
      summary: 'A meter',
      params: KeyParamsSchema,
      ok: { description: 'The meter', schema: MeterSchema },
      errors: notFound,
      handle: (deps, { caller, params }) => getMeter(deps.prisma, caller.organizationId, params.key),
    }),
    route({
      method: 'patch',
      path: '/{key}',
      summary: 'Map a meter to the Stripe price that bills it on your own Stripe invoices',
      params: KeyParamsSchema,
      body: MeterPatchSchema,
      ok: { description: 'The meter', schema: MeterSchema },
      errors: notFound,
      handle: (deps, { caller, params, body }) => updateMeter(deps.prisma, caller.organizationId, params.key, body, apiKeyActor(caller)),
    }),
  ],
};

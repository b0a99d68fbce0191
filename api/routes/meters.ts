import { writeAudit } from '../../prisma/audit';
import type { MeterModel as Meter } from '../../prisma/client';
import { ApiError } from '../errors';
import { route, type RouteTable } from '../route-table';
import { KeyListQuerySchema, KeyParamsSchema, listOf, MeterCreateSchema, MeterPatchSchema, MeterSchema } from '../schemas/catalog';
import { apiKeyActor, isUniqueViolation, keyTaken, page } from './catalog-common';

export function meterJson(m: Meter) {
  return {
    id: m.id,
    key: m.key,
    name: m.name,
    event_type: m.eventType,
    aggregation: m.aggregation,
    property: m.property,
    stripe_price_id: m.stripePriceId,
    created_at: m.createdAt.toISOString(),
  };
}

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
      handle: async (deps, { caller, body }) => {
        try {
          const meter = await deps.prisma.$transaction(async (tx) => {
            const created = await tx.meter.create({
              data: {
                organizationId: caller.organizationId,
                key: body.key,
                name: body.name,
                eventType: body.event_type,
                aggregation: body.aggregation,
                property: body.property ?? null,
                stripePriceId: body.stripe_price_id ?? null,
              },
            });
            await writeAudit(tx, { organizationId: caller.organizationId, actor: apiKeyActor(caller), action: 'meter.created', entityType: 'meter', entityId: created.id, after: meterJson(created) });
            return created;
          });
          return meterJson(meter);
        } catch (err) {
          if (isUniqueViolation(err)) throw keyTaken('meter', body.key);
          throw err;
        }
      },
    }),
    route({
      method: 'get',
      path: '',
      summary: 'List meters by key',
      query: KeyListQuerySchema,
      ok: { description: 'One page of meters', schema: listOf(MeterSchema, 'MeterList') },
      handle: async (deps, { caller, query }) => {
        const rows = await deps.prisma.meter.findMany({
          where: { organizationId: caller.organizationId, ...(query.after ? { key: { gt: query.after } } : {}) },
          orderBy: { key: 'asc' },
          take: query.limit + 1,
        });
        const { data, has_more } = page(rows, query.limit);
        return { data: data.map(meterJson), has_more };
      },
    }),
    route({
      method: 'get',
      path: '/{key}',
      summary: 'A meter',
      params: KeyParamsSchema,
      ok: { description: 'The meter', schema: MeterSchema },
      errors: notFound,
      handle: async (deps, { caller, params }) => {
        const meter = await deps.prisma.meter.findUnique({ where: { organizationId_key: { organizationId: caller.organizationId, key: params.key } } });
        if (!meter) throw new ApiError(404, 'NOT_FOUND', `No meter ${params.key}`);
        return meterJson(meter);
      },
    }),
    route({
      method: 'patch',
      path: '/{key}',
      summary: 'Map a meter to the Stripe price that bills it on your own Stripe invoices',
      params: KeyParamsSchema,
      body: MeterPatchSchema,
      ok: { description: 'The meter', schema: MeterSchema },
      errors: notFound,
      handle: async (deps, { caller, params, body }) => {
        const meter = await deps.prisma.$transaction(async (tx) => {
          const before = await tx.meter.findUnique({ where: { organizationId_key: { organizationId: caller.organizationId, key: params.key } } });
          if (!before) throw new ApiError(404, 'NOT_FOUND', `No meter ${params.key}`);
          const after = await tx.meter.update({ where: { id: before.id }, data: { stripePriceId: body.stripe_price_id } });
          await writeAudit(tx, {
            organizationId: caller.organizationId,
            actor: apiKeyActor(caller),
            action: 'meter.updated',
            entityType: 'meter',
            entityId: after.id,
            before: { stripe_price_id: before.stripePriceId },
            after: { stripe_price_id: after.stripePriceId },
          });
          return after;
        });
        return meterJson(meter);
      },
    }),
  ],
};

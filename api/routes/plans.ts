import { dec, toPlainString } from '../../billing/decimal';
import { writeAudit } from '../../prisma/audit';
import type { PlanModel, PlanPriceModel } from '../../prisma/client';
import { ApiError } from '../errors';
import { priceFromRow } from '../../billing/stored-price';
import { priceColumns, priceJson } from '../plan-price-rows';
import { route, type RouteTable } from '../route-table';
import { KeyListQuerySchema, KeyParamsSchema, listOf, PlanCreateSchema, PlanSchema } from '../schemas/catalog';
import { apiKeyActor, isUniqueViolation, keyTaken, page } from './catalog-common';

type PlanWithPrices = PlanModel & { prices: (PlanPriceModel & { meter: { key: string } })[] };

const withPrices = { prices: { include: { meter: { select: { key: true } } }, orderBy: { meter: { key: 'asc' as const } } } };

function planJson(p: PlanWithPrices) {
  return {
    id: p.id,
    key: p.key,
    name: p.name,
    currency: p.currency,
    interval: p.interval,
    base_fee: toPlainString(dec(p.baseFee)),
    active: p.active,
    prices: p.prices.map((row) => priceJson(row.meter.key, priceFromRow(row))),
    created_at: p.createdAt.toISOString(),
  };
}

export const planRoutes: RouteTable = {
  mount: '/plans',
  routes: [
    route({
      method: 'post',
      path: '',
      summary: 'Create a plan with its per-meter prices',
      description: 'Each price names one of your meters by key and is checked by the same rules the invoices price with.',
      body: PlanCreateSchema,
      ok: { status: 201, description: 'Created', schema: PlanSchema },
      errors: { '409': 'A plan with this key exists' },
      handle: async (deps, { caller, body }) => {
        const organizationId = caller.organizationId;
        const meters = await deps.prisma.meter.findMany({ where: { organizationId, key: { in: body.prices.map((p) => p.meter) } }, select: { id: true, key: true } });
        const meterIds = new Map(meters.map((m) => [m.key, m.id]));
        body.prices.forEach((p, i) => {
          if (!meterIds.has(p.meter)) {
            const field = `prices.${i}.meter`;
            const message = `${field}: no meter with key ${p.meter}`;
            throw new ApiError(400, 'VALIDATION_ERROR', `Invalid request: ${message}`, { field, issues: [{ code: 'UNKNOWN_METER', field, message }] });
          }
        });
        try {
          const plan = await deps.prisma.$transaction(async (tx) => {
            const created = await tx.plan.create({
              data: { organizationId, key: body.key, name: body.name, currency: body.currency, interval: body.interval, baseFee: toPlainString(body.base_fee ?? dec(0)), active: body.active },
            });
            await tx.planPrice.createMany({
              data: body.prices.map((p) => ({ organizationId, planId: created.id, meterId: meterIds.get(p.meter)!, ...priceColumns(p.price) })),
            });
            const full = await tx.plan.findUniqueOrThrow({ where: { id: created.id }, include: withPrices });
            await writeAudit(tx, { organizationId, actor: apiKeyActor(caller), action: 'plan.created', entityType: 'plan', entityId: created.id, after: planJson(full) });
            return full;
          });
          return planJson(plan);
        } catch (err) {
          if (isUniqueViolation(err)) throw keyTaken('plan', body.key);
          throw err;
        }
      },
    }),
    route({
      method: 'get',
      path: '',
      summary: 'List plans by key',
      query: KeyListQuerySchema,
      ok: { description: 'One page of plans', schema: listOf(PlanSchema, 'PlanList') },
      handle: async (deps, { caller, query }) => {
        const rows = await deps.prisma.plan.findMany({
          where: { organizationId: caller.organizationId, ...(query.after ? { key: { gt: query.after } } : {}) },
          orderBy: { key: 'asc' },
          take: query.limit + 1,
          include: withPrices,
        });
        const { data, has_more } = page(rows, query.limit);
        return { data: data.map(planJson), has_more };
      },
    }),
    route({
      method: 'get',
      path: '/{key}',
      summary: 'A plan with its prices',
      params: KeyParamsSchema,
      ok: { description: 'The plan', schema: PlanSchema },
      errors: { '404': 'No such plan in your organization' },
      handle: async (deps, { caller, params }) => {
        const plan = await deps.prisma.plan.findUnique({ where: { organizationId_key: { organizationId: caller.organizationId, key: params.key } }, include: withPrices });
        if (!plan) throw new ApiError(404, 'NOT_FOUND', `No plan ${params.key}`);
        return planJson(plan);
      },
    }),
  ],
};

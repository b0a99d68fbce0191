import { Router } from 'express';
import { writeAudit } from '../../prisma/audit';
import type { MeterModel as Meter } from '../../prisma/client';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { KeyListQuerySchema, MeterCreateSchema, MeterPatchSchema } from '../schemas/catalog';
import { parseOrThrow } from '../validation';
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

export function metersRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(MeterCreateSchema, req.body, 'request');
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
        await writeAudit(tx, {
          organizationId: caller.organizationId,
          actor: apiKeyActor(caller),
          action: 'meter.created',
          entityType: 'meter',
          entityId: created.id,
          after: meterJson(created),
        });
        return created;
      });
      res.status(201).json(meterJson(meter));
    } catch (err) {
      if (isUniqueViolation(err)) throw keyTaken('meter', body.key);
      throw err;
    }
  });

  router.get('/', async (req, res) => {
    const caller = callerOf(req);
    const query = parseOrThrow(KeyListQuerySchema, req.query, 'query');
    const rows = await deps.prisma.meter.findMany({
      where: { organizationId: caller.organizationId, ...(query.after ? { key: { gt: query.after } } : {}) },
      orderBy: { key: 'asc' },
      take: query.limit + 1,
    });
    const { data, has_more } = page(rows, query.limit);
    res.json({ data: data.map(meterJson), has_more });
  });

  router.get('/:key', async (req, res) => {
    const caller = callerOf(req);
    // Scoped by organization: another organization's meter is indistinguishable from a missing one.
    const meter = await deps.prisma.meter.findUnique({ where: { organizationId_key: { organizationId: caller.organizationId, key: req.params.key } } });
    if (!meter) throw new ApiError(404, 'NOT_FOUND', `No meter ${req.params.key}`);
    res.json(meterJson(meter));
  });

  // Only the Stripe price mapping changes: a meter's event type and aggregation are part of every invoice already drafted with it.
  router.patch('/:key', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(MeterPatchSchema, req.body, 'request');
    const meter = await deps.prisma.$transaction(async (tx) => {
      const before = await tx.meter.findUnique({ where: { organizationId_key: { organizationId: caller.organizationId, key: req.params.key } } });
      if (!before) throw new ApiError(404, 'NOT_FOUND', `No meter ${req.params.key}`);
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
    res.json(meterJson(meter));
  });

  return router;
}

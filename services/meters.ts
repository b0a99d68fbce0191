import type { z } from 'zod';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { MeterModel, PrismaClient } from '../prisma/client';
import { isUniqueViolation } from '../prisma/errors';
import { DomainError } from './errors';
import type { MeterCreateSchema, MeterPatchSchema } from './schemas/catalog';

/*
 * Meters: what turns one event type's events in a period into a quantity a
 * plan prices. Created, listed, read, and mapped to the Stripe price that
 * bills them on the organization's own Stripe invoices (reconciliation
 * compares the two). The API's /meters routes and the web app's catalog page
 * call these; every change is an audit row.
 */

export type MeterCreate = z.output<typeof MeterCreateSchema>;
export type MeterPatch = z.output<typeof MeterPatchSchema>;

export function meterJson(m: MeterModel) {
  return {
    id: m.id,
    key: m.key,
    name: m.name,
    event_type: m.eventType,
    aggregation: m.aggregation,
    property: m.property,
    dimension: m.dimension,
    stripe_price_id: m.stripePriceId,
    created_at: m.createdAt.toISOString(),
  };
}
export type MeterJson = ReturnType<typeof meterJson>;

const noMeter = (key: string) => new DomainError('not_found', 'NOT_FOUND', `No meter ${key}`);

export async function createMeter(prisma: PrismaClient, organizationId: string, input: MeterCreate, actor: AuditActor): Promise<MeterJson> {
  try {
    return await prisma.$transaction(async (tx) => {
      const created = meterJson(
        await tx.meter.create({
          data: { organizationId, key: input.key, name: input.name, eventType: input.event_type, aggregation: input.aggregation, property: input.property ?? null, dimension: input.dimension ?? null, stripePriceId: input.stripe_price_id ?? null },
        }),
      );
      await writeAudit(tx, { organizationId, actor, action: 'meter.created', entityType: 'meter', entityId: created.id, after: created });
      return created;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new DomainError('conflict', 'ALREADY_EXISTS', `A meter with key ${input.key} already exists`, 'key');
    throw err;
  }
}

/** The organization's meters by key, one page (`limit` of them, after `after`). */
export async function listMeters(prisma: PrismaClient, organizationId: string, query: { after?: string | undefined; limit: number }): Promise<{ data: MeterJson[]; has_more: boolean }> {
  const rows = await prisma.meter.findMany({ where: { organizationId, ...(query.after ? { key: { gt: query.after } } : {}) }, orderBy: { key: 'asc' }, take: query.limit + 1 });
  return { data: rows.slice(0, query.limit).map(meterJson), has_more: rows.length > query.limit };
}

export async function getMeter(prisma: PrismaClient, organizationId: string, key: string): Promise<MeterJson> {
  const meter = await prisma.meter.findUnique({ where: { organizationId_key: { organizationId, key } } });
  if (!meter) throw noMeter(key);
  return meterJson(meter);
}

/** Maps the meter to the Stripe price that bills it (null: none). */
export async function updateMeter(prisma: PrismaClient, organizationId: string, key: string, input: MeterPatch, actor: AuditActor): Promise<MeterJson> {
  return prisma.$transaction(async (tx) => {
    const before = await tx.meter.findUnique({ where: { organizationId_key: { organizationId, key } } });
    if (!before) throw noMeter(key);
    const after = await tx.meter.update({ where: { id: before.id }, data: { stripePriceId: input.stripe_price_id } });
    await writeAudit(tx, { organizationId, actor, action: 'meter.updated', entityType: 'meter', entityId: after.id, before: { stripe_price_id: before.stripePriceId }, after: { stripe_price_id: after.stripePriceId } });
    return meterJson(after);
  });
}

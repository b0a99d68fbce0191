import { z } from 'zod';
import 'zod-openapi';
import { QUOTA_MODES } from '../billing/quota';
import { QUOTA_WINDOWS } from '../billing/quota-window';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { PrismaClient, QuotaLimitModel } from '../prisma/client';
import { isUniqueViolation } from '../prisma/errors';
import { DomainError } from './errors';
import { storableName } from './schemas/name';
import { isUuid } from './ids';

/*
 * An organization's quota limits: per event type, for one customer or as the
 * organization's default (customer_external_id null; at most one per event
 * type). A customer's own limit wins over the default, and a DISABLED one
 * switches the default off for that customer (billing/applicable-limit.ts).
 * HARD limits refuse events past the limit at ingest (after the grace
 * period), SOFT ones warn at soft_warning_percent and at 100 %. Ingest reads
 * the limits on every request, so a change applies to the next one.
 *
 * The API (api/routes/quota-limits.ts) and the web app's quota page call
 * these; every change writes an audit row in its transaction.
 */


/** Sized for the Decimal(20,6) column: nothing is rounded on the way in. */
const LIMIT_PATTERN = /^\d{1,14}(\.\d{1,6})?$/;
const MAX_GRACE_SECONDS = 366 * 24 * 3600;

const limitValue = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required for a HARD or SOFT limit' : 'must be a decimal string') })
  .regex(LIMIT_PATTERN, 'must be a non-negative decimal string like "10000" or "2.5" (at most 14 digits before the point and 6 after)')
  .meta({ description: 'Units of event_type (the sum of their quantities) allowed per reset window', example: '10000' });
const mode = z.enum(QUOTA_MODES).meta({ description: 'HARD refuses events past the limit (after the grace period); SOFT only warns; DISABLED switches the default off for a customer' });
const softWarningPercent = z.int().min(1).max(100).meta({ description: 'SOFT: warn when usage reaches this percentage of the limit', example: 80 });
const gracePeriodSeconds = z.int().min(0).max(MAX_GRACE_SECONDS).meta({ description: 'HARD: keep accepting for this long after the limit is first reached', example: 0 });
const resetWindow = z.enum(QUOTA_WINDOWS).meta({ description: 'Usage counts from the start of this UTC window (never: one window for ever)' });

const createFields = {
  event_type: storableName('The event type the limit counts', 'api_call'),
  customer_external_id: storableName('The customer the limit is for; null (or absent) makes it the organization default for every customer without one of their own', 'acme')
    .nullable()
    .default(null),
  soft_warning_percent: softWarningPercent.default(80),
  grace_period_seconds: gracePeriodSeconds.default(0),
  reset_window: resetWindow.default('month'),
};

/** HARD and SOFT limits count to a number; a DISABLED one counts nothing and needs none. */
export const QuotaLimitCreateSchema = z.discriminatedUnion('mode', [
  z.strictObject({ ...createFields, mode: z.enum(['HARD', 'SOFT']).meta({ description: 'HARD refuses events past the limit (after the grace period); SOFT only warns' }), limit: limitValue }),
  z.strictObject({ ...createFields, mode: z.literal('DISABLED').meta({ description: 'No limit: switches the organization default off for this customer' }), limit: limitValue.optional() }),
]);
export type QuotaLimitCreate = z.output<typeof QuotaLimitCreateSchema>;

/** Who and what a limit counts is what it is: changing either is another limit. */
const FIXED_FIELDS = { event_type: 'event type', customer_external_id: 'customer' } as const;

/** A change that names what a limit counts is refused with that field named (rather than as an unknown field). */
export function refuseIdentityChange(body: unknown): void {
  if (typeof body !== 'object' || body === null) return;
  for (const [field, what] of Object.entries(FIXED_FIELDS)) {
    if (Object.hasOwn(body, field)) throw new DomainError('invalid', 'VALIDATION_ERROR', `${field}: cannot change: a limit's ${what} is what it counts; remove this limit and create another`, field);
  }
}

export const QuotaLimitPatchSchema = z
  .strictObject({
    mode: mode.optional(),
    limit: limitValue.optional(),
    soft_warning_percent: softWarningPercent.optional(),
    grace_period_seconds: gracePeriodSeconds.optional(),
    reset_window: resetWindow.optional(),
  })
  .refine((body) => Object.values(body).some((v) => v !== undefined), { message: 'name at least one field to change: mode, limit, soft_warning_percent, grace_period_seconds or reset_window' })
  .meta({ minProperties: 1 });
export type QuotaLimitPatch = z.output<typeof QuotaLimitPatchSchema>;

export const QuotaLimitListQuerySchema = z.strictObject({
  event_type: z.string().min(1).optional().meta({ description: 'Only limits on this event type' }),
  customer_external_id: z.string().min(1).optional().meta({ description: 'Only this customer\'s own limits (the default is listed with customer_external_id null)' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).meta({ description: 'Page size' }),
  after: z.uuid().optional().meta({ description: 'Return limits whose id sorts after this one (the last id of the previous page)' }),
});
export type QuotaLimitListQuery = z.output<typeof QuotaLimitListQuerySchema>;

export const QuotaLimitParamsSchema = z.object({ id: z.string().meta({ description: 'The quota limit id' }) });

export const QuotaLimitSchema = z
  .object({
    id: z.uuid(),
    event_type: z.string(),
    customer_external_id: z.string().nullable().meta({ description: 'null: the organization default' }),
    mode: z.enum(QUOTA_MODES),
    limit: z.string().meta({ description: 'Decimal string', example: '10000' }),
    soft_warning_percent: z.int(),
    grace_period_seconds: z.int(),
    reset_window: z.enum(QUOTA_WINDOWS),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'QuotaLimit' });
export type QuotaLimitJson = z.output<typeof QuotaLimitSchema>;

export function quotaLimitJson(q: QuotaLimitModel): QuotaLimitJson {
  return {
    id: q.id,
    event_type: q.eventType,
    customer_external_id: q.customerExternalId,
    mode: q.mode,
    limit: q.limitValue.toFixed(),
    soft_warning_percent: q.softWarningPercent,
    grace_period_seconds: q.gracePeriodSeconds,
    reset_window: q.resetWindow,
    created_at: q.createdAt.toISOString(),
    updated_at: q.updatedAt.toISOString(),
  };
}

/** What a limit is, without its identity and times: the audit row's before and after. */
function settings(q: QuotaLimitJson) {
  const { id: _id, created_at: _created, updated_at: _updated, ...rest } = q;
  return rest;
}

const notFound = (id: string) => new DomainError('not_found', 'NOT_FOUND', `No quota limit ${id}`);

type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/**
 * The organization's limit `id`, locked for the rest of the transaction: two
 * changes (or a change and a removal) at once are recorded one after the
 * other, each audit row with the limit as it was just before.
 */
async function lockedLimit(tx: Tx, organizationId: string, id: string): Promise<QuotaLimitJson> {
  const [locked] = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM quota_limits WHERE id = ${id}::uuid AND organization_id = ${organizationId}::uuid FOR UPDATE`;
  if (!locked) throw notFound(id);
  return quotaLimitJson(await tx.quotaLimit.findUniqueOrThrow({ where: { id } }));
}

function whose(customer: string | null): string {
  return customer === null ? 'the organization default' : `customer ${customer}'s limit`;
}

/** The organization's limits, by id; filtered by event type or customer. */
export async function listQuotaLimits(prisma: PrismaClient, organizationId: string, query: QuotaLimitListQuery): Promise<{ data: QuotaLimitJson[]; has_more: boolean }> {
  const rows = await prisma.quotaLimit.findMany({
    where: {
      organizationId,
      ...(query.event_type ? { eventType: query.event_type } : {}),
      ...(query.customer_external_id ? { customerExternalId: query.customer_external_id } : {}),
      ...(query.after ? { id: { gt: query.after } } : {}),
    },
    orderBy: { id: 'asc' },
    take: query.limit + 1,
  });
  return { data: rows.slice(0, query.limit).map(quotaLimitJson), has_more: rows.length > query.limit };
}

/** One limit of the organization; another organization's is as missing as one that never existed. */
export async function getQuotaLimit(prisma: PrismaClient, organizationId: string, id: string): Promise<QuotaLimitJson> {
  const row = isUuid(id) ? await prisma.quotaLimit.findFirst({ where: { id, organizationId } }) : null;
  if (!row) throw notFound(id);
  return quotaLimitJson(row);
}

export async function createQuotaLimit(prisma: PrismaClient, organizationId: string, input: QuotaLimitCreate, actor: AuditActor): Promise<QuotaLimitJson> {
  try {
    return await prisma.$transaction(async (tx) => {
      const row = await tx.quotaLimit.create({
        data: {
          organizationId,
          eventType: input.event_type,
          customerExternalId: input.customer_external_id,
          mode: input.mode,
          limitValue: input.limit ?? '0',
          softWarningPercent: input.soft_warning_percent,
          gracePeriodSeconds: input.grace_period_seconds,
          resetWindow: input.reset_window,
        },
      });
      const created = quotaLimitJson(row);
      await writeAudit(tx, { organizationId, actor, action: 'quota_limit.created', entityType: 'quota_limit', entityId: row.id, after: settings(created) });
      return created;
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const existing = await prisma.quotaLimit.findFirst({ where: { organizationId, eventType: input.event_type, customerExternalId: input.customer_external_id }, select: { id: true } });
    throw new DomainError(
      'conflict',
      'ALREADY_EXISTS',
      `There is already ${whose(input.customer_external_id)} for event type ${input.event_type}${existing ? ` (${existing.id})` : ''}: change that one instead`,
      'customer_external_id',
    );
  }
}

/**
 * Changes a limit's settings. `ifUnchangedSince` (the updated_at a form was
 * filled from) refuses a change made over someone else's newer one.
 */
export async function updateQuotaLimit(
  prisma: PrismaClient,
  organizationId: string,
  id: string,
  patch: QuotaLimitPatch,
  actor: AuditActor,
  options: { ifUnchangedSince?: string } = {},
): Promise<QuotaLimitJson> {
  if (!isUuid(id)) throw notFound(id);
  return prisma.$transaction(async (tx) => {
    const before = await lockedLimit(tx, organizationId, id);
    if (options.ifUnchangedSince !== undefined && options.ifUnchangedSince !== before.updated_at) {
      throw new DomainError('conflict', 'CHANGED_MEANWHILE', `This limit was changed at ${before.updated_at} by someone else; reload it and make your change again`);
    }
    // A DISABLED limit counted to nothing: switched on, it needs a number to count to.
    if (patch.mode !== undefined && patch.mode !== 'DISABLED' && before.mode === 'DISABLED' && patch.limit === undefined) {
      throw new DomainError('invalid', 'MISSING_FIELD', `limit is required to turn a DISABLED limit into a ${patch.mode} one`, 'limit');
    }
    const row = await tx.quotaLimit.update({
      where: { id },
      data: {
        ...(patch.mode !== undefined ? { mode: patch.mode } : {}),
        ...(patch.limit !== undefined ? { limitValue: patch.limit } : {}),
        ...(patch.soft_warning_percent !== undefined ? { softWarningPercent: patch.soft_warning_percent } : {}),
        ...(patch.grace_period_seconds !== undefined ? { gracePeriodSeconds: patch.grace_period_seconds } : {}),
        ...(patch.reset_window !== undefined ? { resetWindow: patch.reset_window } : {}),
      },
    });
    const after = quotaLimitJson(row);
    if (after.limit !== before.limit) {
      // The grace period and the "reached" notice count from when usage reached the limit in force: under a new limit,
      // counters still below it have not reached it.
      await tx.$executeRaw`UPDATE quota_counters SET limit_reached_at = NULL WHERE quota_limit_id = ${id}::uuid AND limit_reached_at IS NOT NULL AND used < ${after.limit}::numeric`;
    }
    await writeAudit(tx, { organizationId, actor, action: 'quota_limit.updated', entityType: 'quota_limit', entityId: id, before: settings(before), after: settings(after) });
    return after;
  });
}

/** Removes a limit with its usage counters (the audit row keeps what it was). */
export async function deleteQuotaLimit(prisma: PrismaClient, organizationId: string, id: string, actor: AuditActor): Promise<QuotaLimitJson> {
  if (!isUuid(id)) throw notFound(id);
  return prisma.$transaction(async (tx) => {
    const removed = await lockedLimit(tx, organizationId, id);
    // Counters go with the limit (ON DELETE CASCADE).
    await tx.quotaLimit.delete({ where: { id } });
    await writeAudit(tx, { organizationId, actor, action: 'quota_limit.deleted', entityType: 'quota_limit', entityId: id, before: settings(removed) });
    return removed;
  });
}

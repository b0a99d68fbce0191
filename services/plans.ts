import { dec, toPlainString, type Dec } from '../billing/decimal';
import type { PriceModel } from '../billing/price-models';
import { priceFromRow } from '../billing/stored-price';
import { writeAudit, type AuditActor } from '../prisma/audit';
import { Prisma, type PlanModel, type PlanPriceModel, type PrismaClient } from '../prisma/client';
import { isUniqueViolation } from '../prisma/errors';
import { latestPlan, planInEffectSql } from '../prisma/plan-reads';
import { DomainError, invalidField } from './errors';
import { priceColumns, priceJson } from './plan-prices';

/*
 * Plans and their versions. A plan is named by its key; its prices and base
 * fee belong to a version. Changing them makes the next version (a new plans
 * row with the same key), copying the features: the subscriptions on older
 * versions keep what they signed up for until they are moved on purpose (a
 * plan change to the same key, services/subscriptions.ts), and new
 * subscriptions take the newest version. Billing reads prices by the
 * version's id, so an invoice never changes under a running subscription.
 */

type Db = Pick<PrismaClient, 'plan'>;
type PlanWithPrices = PlanModel & { prices: (PlanPriceModel & { meter: { key: string } })[] };

const withPrices = {
  prices: { include: { meter: { select: { key: true } } }, orderBy: [{ meter: { key: 'asc' as const } }, { dimensionValue: { sort: 'asc' as const, nulls: 'first' as const } }] },
};

export function planJson(p: PlanWithPrices) {
  return {
    id: p.id,
    key: p.key,
    version: p.version,
    name: p.name,
    currency: p.currency,
    interval: p.interval,
    base_fee: toPlainString(dec(p.baseFee)),
    active: p.active,
    prepaid_only: p.prepaidOnly,
    prices: p.prices.map((row) => priceJson(row.meter.key, row.dimensionValue, priceFromRow(row))),
    period_credits: p.periodCredits === null ? null : { credits: toPlainString(dec(p.periodCredits)), rollover: p.periodCreditsRollover },
    created_at: p.createdAt.toISOString(),
  };
}
export type PlanJson = ReturnType<typeof planJson>;

/** A plan price as sent: the meter's key (and dimension value) and a price model (checked by billing's validatePrice). */
export interface PlanPriceInput {
  meter: string;
  dimensionValue?: string;
  price: PriceModel;
}

export interface PlanCreate {
  key: string;
  name: string;
  currency: string;
  interval: 'month' | 'quarter' | 'year';
  base_fee?: Dec | undefined;
  active: boolean;
  prepaid_only?: boolean | undefined;
  prices: PlanPriceInput[];
  period_credits?: PeriodCredits | null | undefined;
}

/** Credits each billing period of a subscription to the plan grants. */
export interface PeriodCredits {
  credits: string;
  rollover: boolean;
}

/** What a new version changes; what it leaves out is the newest version's. */
export interface PlanVersionCreate {
  name?: string | undefined;
  base_fee?: Dec | undefined;
  active?: boolean | undefined;
  prepaid_only?: boolean | undefined;
  prices?: PlanPriceInput[] | undefined;
  period_credits?: PeriodCredits | null | undefined;
}


/** The plan's version `version` (default the newest); a missing one is a 404. */
export async function findPlan(db: Db, organizationId: string, key: string, version?: number): Promise<PlanModel> {
  const plan = version === undefined ? await latestPlan(db, organizationId, key) : await db.plan.findUnique({ where: { organizationId_key_version: { organizationId, key, version } } });
  if (!plan) throw new DomainError('not_found', 'NOT_FOUND', version === undefined ? `No plan ${key}` : `Plan ${key} has no version ${version}`);
  return plan;
}

/**
 * The newest version of the plan, every version's row held until the
 * transaction ends: a new version and a feature change take turns, and the
 * one that waited reads the version the other made (read after the lock).
 */
export async function lockNewestPlan(tx: Prisma.TransactionClient, organizationId: string, key: string): Promise<PlanModel> {
  await findPlan(tx, organizationId, key);
  await tx.$queryRaw`SELECT id FROM plans WHERE organization_id = ${organizationId}::uuid AND key = ${key} FOR UPDATE`;
  return findPlan(tx, organizationId, key);
}

/**
 * The meters the prices name, by key; an unknown one is refused with its field, and so is a dimension value
 * for a meter without a dimension, or a meter priced by value without a default price for the other values
 * (its usage of them would go unbilled).
 */
async function meterIds(db: Pick<PrismaClient, 'meter'>, organizationId: string, prices: readonly PlanPriceInput[]): Promise<Map<string, string>> {
  const meters = await db.meter.findMany({ where: { organizationId, key: { in: prices.map((p) => p.meter) } }, select: { id: true, key: true, dimension: true } });
  const byKey = new Map(meters.map((m) => [m.key, m]));
  const unknown = prices.findIndex((p) => !byKey.has(p.meter));
  if (unknown >= 0) throw invalidField(`prices.${unknown}.meter`, `no meter with key ${prices[unknown]!.meter}`, 'UNKNOWN_METER');
  prices.forEach((p, i) => {
    if (p.dimensionValue !== undefined && !byKey.get(p.meter)!.dimension) {
      throw invalidField(`prices.${i}.dimension_value`, `meter ${p.meter} has no dimension to price by value`, 'UNKNOWN_FIELD');
    }
    if (p.dimensionValue !== undefined && !prices.some((d) => d.meter === p.meter && d.dimensionValue === undefined)) {
      throw invalidField(
        `prices.${i}.dimension_value`,
        `meter ${p.meter} is priced for ${byKey.get(p.meter)!.dimension} ${p.dimensionValue} but has no default price (one without dimension_value) for its other values`,
        'MISSING_FIELD',
      );
    }
  });
  return new Map(meters.map((m) => [m.key, m.id]));
}

/** A price's plan_prices row. */
const priceRow = (organizationId: string, planId: string, ids: ReadonlyMap<string, string>, p: PlanPriceInput) => ({
  organizationId,
  planId,
  meterId: ids.get(p.meter)!,
  dimensionValue: p.dimensionValue ?? null,
  ...priceColumns(p.price),
});

const keyTaken = (key: string) => new DomainError('conflict', 'ALREADY_EXISTS', `A plan with key ${key} already exists; change its prices with a new version`, 'key');

export async function createPlan(prisma: PrismaClient, organizationId: string, input: PlanCreate, actor: AuditActor): Promise<PlanJson> {
  const ids = await meterIds(prisma, organizationId, input.prices);
  try {
    return await prisma.$transaction(async (tx) => {
      if (await latestPlan(tx, organizationId, input.key)) throw keyTaken(input.key);
      const created = await tx.plan.create({
        data: { organizationId, key: input.key, name: input.name, currency: input.currency, interval: input.interval, baseFee: toPlainString(input.base_fee ?? dec(0)), active: input.active, prepaidOnly: input.prepaid_only ?? false, ...periodCreditsColumns(input.period_credits ?? null) },
      });
      await tx.planPrice.createMany({ data: input.prices.map((p) => priceRow(organizationId, created.id, ids, p)) });
      const full = planJson(await tx.plan.findUniqueOrThrow({ where: { id: created.id }, include: withPrices }));
      await writeAudit(tx, { organizationId, actor, action: 'plan.created', entityType: 'plan', entityId: created.id, after: full });
      return full;
    });
  } catch (err) {
    // Two creations of one key at once: the second meets the first's version 1.
    if (isUniqueViolation(err)) throw keyTaken(input.key);
    throw err;
  }
}

/**
 * The plan's next version: the newest one's terms with `input`'s changes, its
 * features copied. The newest version is locked while the next is made, so
 * two changes at once make two versions, one after the other.
 */
export async function createPlanVersion(prisma: PrismaClient, organizationId: string, key: string, input: PlanVersionCreate, actor: AuditActor): Promise<PlanJson> {
  const ids = input.prices ? await meterIds(prisma, organizationId, input.prices) : null;
  return prisma.$transaction(async (tx) => {
    const { id } = await lockNewestPlan(tx, organizationId, key);
    const current = await tx.plan.findUniqueOrThrow({ where: { id }, include: { ...withPrices, features: true } });
    const created = await tx.plan.create({
      data: {
        organizationId,
        key,
        version: current.version + 1,
        name: input.name ?? current.name,
        currency: current.currency,
        interval: current.interval,
        baseFee: input.base_fee === undefined ? current.baseFee : toPlainString(input.base_fee),
        active: input.active ?? current.active,
        prepaidOnly: input.prepaid_only ?? current.prepaidOnly,
        ...(input.period_credits === undefined ? { periodCredits: current.periodCredits, periodCreditsRollover: current.periodCreditsRollover } : periodCreditsColumns(input.period_credits)),
      },
    });
    const prices: Prisma.PlanPriceCreateManyInput[] = ids
      ? input.prices!.map((p) => priceRow(organizationId, created.id, ids, p))
      : current.prices.map(({ meter: _meter, id: _id, createdAt: _createdAt, planId: _planId, tiers, ...row }) => ({ ...row, tiers: tiers ?? undefined, planId: created.id }));
    await tx.planPrice.createMany({ data: prices });
    await tx.planFeature.createMany({
      data: current.features.map((f) => ({ organizationId, planId: created.id, feature: f.feature, kind: f.kind, enabled: f.enabled, limitValue: f.limitValue, configValue: f.configValue })),
    });
    const full = planJson(await tx.plan.findUniqueOrThrow({ where: { id: created.id }, include: withPrices }));
    const was = planJson(current);
    // Thrown inside the transaction, so the copy is rolled back: a version is a change of terms.
    if (sameTerms(was, full)) throw new DomainError('invalid', 'VALIDATION_ERROR', `Invalid request: nothing changes: version ${full.version} would have version ${was.version}'s name, base fee, prices, active and prepaid-only flags and period credits`);
    await writeAudit(tx, { organizationId, actor, action: 'plan.version_created', entityType: 'plan', entityId: created.id, before: was, after: full });
    return full;
  });
}

/** The ids of the newest version of each plan, by key (after `after`, at most `limit + 1` when a limit is given). */
export async function newestPlanIds(prisma: Pick<PrismaClient, '$queryRaw'>, organizationId: string, page: { after?: string | undefined; limit?: number } = {}): Promise<string[]> {
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    SELECT DISTINCT ON (key) id FROM plans
     WHERE organization_id = ${organizationId}::uuid AND (${page.after ?? null}::text IS NULL OR key > ${page.after ?? null}::text)
     ORDER BY key, version DESC
     LIMIT ${page.limit === undefined ? null : page.limit + 1}`;
  return rows.map((r) => r.id);
}

const terms = (p: PlanJson) => JSON.stringify([p.name, p.base_fee, p.active, p.prepaid_only, p.prices, p.period_credits]);

const periodCreditsColumns = (c: PeriodCredits | null) => ({ periodCredits: c === null ? null : c.credits, periodCreditsRollover: c?.rollover ?? false });
const sameTerms = (a: PlanJson, b: PlanJson): boolean => terms(a) === terms(b);

/** The newest version of each plan, by key. */
export async function listPlans(prisma: PrismaClient, organizationId: string, query: { after?: string | undefined; limit: number }): Promise<{ data: PlanJson[]; has_more: boolean }> {
  const rows = await prisma.plan.findMany({ where: { id: { in: await newestPlanIds(prisma, organizationId, query) } }, include: withPrices, orderBy: { key: 'asc' } });
  return { data: rows.slice(0, query.limit).map(planJson), has_more: rows.length > query.limit };
}

/** One version of a plan (default the newest) with its prices. */
export async function getPlan(prisma: PrismaClient, organizationId: string, key: string, version?: number): Promise<PlanJson> {
  const plan = await findPlan(prisma, organizationId, key, version);
  return planJson(await prisma.plan.findUniqueOrThrow({ where: { id: plan.id }, include: withPrices }));
}

/** Every version of a plan, newest first, each with how many subscriptions are on it now (not canceled, the plan in effect). */
export async function listPlanVersions(prisma: PrismaClient, organizationId: string, key: string): Promise<{ data: (PlanJson & { subscriptions: number })[] }> {
  const rows = await prisma.plan.findMany({ where: { organizationId, key }, include: withPrices, orderBy: { version: 'desc' } });
  if (rows.length === 0) throw new DomainError('not_found', 'NOT_FOUND', `No plan ${key}`);
  // A recorded change moves a subscription's plan_id at once even when it takes effect later (at the period end):
  // count each subscription on the plan in effect now, by the invoice's rule (billing/draft-inputs.ts planTimeline).
  const counts = await prisma.$queryRaw<{ plan_id: string; n: number }[]>`
    SELECT plan_id, count(*)::int AS n FROM (
      SELECT ${Prisma.raw(planInEffectSql('s', 'now()'))} AS plan_id
        FROM subscriptions AS s
       WHERE s.organization_id = ${organizationId}::uuid AND s.status <> 'canceled'
         AND (s.plan_id = ANY(${rows.map((r) => r.id)}::uuid[])
              OR EXISTS (SELECT 1 FROM subscription_plan_changes AS ch WHERE ch.subscription_id = s.id AND ch.from_plan_id = ANY(${rows.map((r) => r.id)}::uuid[])))
    ) AS on_plan GROUP BY plan_id`;
  const byPlan = new Map(counts.map((c) => [c.plan_id, c.n]));
  return { data: rows.map((p) => ({ ...planJson(p), subscriptions: byPlan.get(p.id) ?? 0 })) };
}

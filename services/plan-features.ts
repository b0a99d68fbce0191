import { z } from 'zod';
import 'zod-openapi';
import { FEATURE_KINDS, type FeatureKind } from '../billing/entitlements';
import { toPlainString, dec } from '../billing/decimal';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { PlanFeatureModel, PrismaClient } from '../prisma/client';
import { DomainError } from './errors';
import { findPlan, lockNewestPlan, newestPlanIds } from './plans';
import { storableName } from './schemas/name';

/*
 * The features a plan carries (billing/entitlements.ts says what each kind
 * allows): set (created or replaced), listed and removed per plan and
 * feature key. POST /api/v1/entitlements/check answers from them. Every change
 * is an audit row with the feature before and after.
 */

const FEATURE_KEY = /^[a-z0-9][a-z0-9_.:-]{0,127}$/;

export const PlanFeatureParamsSchema = z.object({
  key: z.string().meta({ description: 'The plan\'s key' }),
  feature: z.string().regex(FEATURE_KEY, 'must be 1–128 lower-case letters, digits, _ . : - (starting with a letter or digit)').meta({ description: 'The feature key, as apps ask for it', example: 'sso' }),
});

export const PlanFeatureSetSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('boolean'), enabled: z.boolean().meta({ description: 'Whether the plan includes it' }) }),
    z.strictObject({
      kind: z.literal('limit'),
      limit: z
        .string()
        .regex(/^\d{1,14}(\.\d{1,6})?$/, 'must be a non-negative decimal string like "10" (at most 14 digits before the point and 6 after)')
        .meta({ description: 'Up to how much a request is allowed (seats, projects, context tokens)', example: '10' }),
    }),
    z.strictObject({ kind: z.literal('config'), value: storableName('The value apps use (a model name, a retention)', 'gpt-4o') }),
  ])
  .meta({ id: 'PlanFeatureSetRequest', description: 'A switch (boolean), a numeric limit, or a config value' });
export type PlanFeatureSet = z.output<typeof PlanFeatureSetSchema>;

export const PlanFeatureSchema = z
  .object({
    plan_key: z.string(),
    feature: z.string(),
    kind: z.enum(FEATURE_KINDS),
    enabled: z.boolean().nullable(),
    limit: z.string().nullable(),
    value: z.string().nullable(),
    updated_at: z.string(),
  })
  .meta({ id: 'PlanFeature' });
export type PlanFeatureJson = z.output<typeof PlanFeatureSchema>;

export const PlanFeatureListSchema = z.object({ data: z.array(PlanFeatureSchema) }).meta({ id: 'PlanFeatureList' });

function featureJson(planKey: string, f: PlanFeatureModel): PlanFeatureJson {
  return {
    plan_key: planKey,
    feature: f.feature,
    kind: f.kind as FeatureKind,
    enabled: f.enabled,
    limit: f.limitValue === null ? null : toPlainString(dec(f.limitValue.toString())),
    value: f.configValue,
    updated_at: f.updatedAt.toISOString(),
  };
}

/** Features belong to a plan version; these read and change the newest one's (a new version copies them, older ones keep theirs). */
const planOf = (prisma: Pick<PrismaClient, 'plan'>, organizationId: string, key: string) => findPlan(prisma, organizationId, key);

export async function listPlanFeatures(prisma: PrismaClient, organizationId: string, planKey: string): Promise<{ data: PlanFeatureJson[] }> {
  const plan = await planOf(prisma, organizationId, planKey);
  const rows = await prisma.planFeature.findMany({ where: { planId: plan.id }, orderBy: { feature: 'asc' } });
  return { data: rows.map((f) => featureJson(plan.key, f)) };
}

/** Creates or replaces a plan's feature; the audit row has it before (null when new) and after. */
export async function setPlanFeature(prisma: PrismaClient, organizationId: string, planKey: string, feature: string, input: PlanFeatureSet, actor: AuditActor): Promise<{ feature: PlanFeatureJson; created: boolean }> {
  return prisma.$transaction(async (tx) => {
    const plan = await lockNewestPlan(tx, organizationId, planKey);
    const values = {
      kind: input.kind,
      enabled: input.kind === 'boolean' ? input.enabled : null,
      limitValue: input.kind === 'limit' ? input.limit : null,
      configValue: input.kind === 'config' ? input.value : null,
    };
    const before = await tx.planFeature.findUnique({ where: { planId_feature: { planId: plan.id, feature } } });
    const row = await tx.planFeature.upsert({ where: { planId_feature: { planId: plan.id, feature } }, create: { organizationId, planId: plan.id, feature, ...values }, update: values });
    const after = featureJson(plan.key, row);
    await writeAudit(tx, {
      organizationId,
      actor,
      action: before ? 'plan_feature.updated' : 'plan_feature.created',
      entityType: 'plan_feature',
      entityId: row.id,
      before: before ? featureJson(plan.key, before) : null,
      after,
    });
    return { feature: after, created: !before };
  });
}

export async function removePlanFeature(prisma: PrismaClient, organizationId: string, planKey: string, feature: string, actor: AuditActor): Promise<PlanFeatureJson> {
  return prisma.$transaction(async (tx) => {
    const plan = await lockNewestPlan(tx, organizationId, planKey);
    const row = await tx.planFeature.findUnique({ where: { planId_feature: { planId: plan.id, feature } } });
    if (!row) throw new DomainError('not_found', 'NOT_FOUND', `Plan ${planKey} has no feature ${feature}`);
    await tx.planFeature.delete({ where: { id: row.id } });
    const was = featureJson(plan.key, row);
    await writeAudit(tx, { organizationId, actor, action: 'plan_feature.deleted', entityType: 'plan_feature', entityId: row.id, before: was });
    return was;
  });
}

export interface PlanWithFeatures {
  key: string;
  version: number;
  name: string;
  currency: string;
  interval: string;
  base_fee: string;
  active: boolean;
  features: PlanFeatureJson[];
}

/** Every plan of the organization at its newest version, with its features, active ones first, cheapest first (the web app's plans page). */
export async function listPlansWithFeatures(prisma: PrismaClient, organizationId: string): Promise<PlanWithFeatures[]> {
  const plans = await prisma.plan.findMany({
    where: { id: { in: await newestPlanIds(prisma, organizationId) } },
    include: { features: { orderBy: { feature: 'asc' } } },
    orderBy: [{ active: 'desc' }, { baseFee: 'asc' }, { key: 'asc' }],
  });
  return plans.map((p) => ({
    key: p.key,
    version: p.version,
    name: p.name,
    currency: p.currency,
    interval: p.interval,
    base_fee: toPlainString(dec(p.baseFee.toString())),
    active: p.active,
    features: p.features.map((f) => featureJson(p.key, f)),
  }));
}

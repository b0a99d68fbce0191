import type { Pool } from 'pg';
import { judgeFeature, upgradeOptions, type FeatureKind, type FeatureVerdict, type PlanFeatureGrant } from '../billing/entitlements';
import { dec, toPlainString } from '../billing/decimal';
import { planInEffectSql } from '../prisma/plan-reads';

/**
 * Is a customer entitled to a feature now (POST /api/v1/entitlements/check
 * with `feature`): the plans its subscriptions are on now and what their
 * feature grants, with the organization's other active plans in the same
 * currencies that would grant it (upgrade options, cheapest base fee first). One query through plain pg, no locks and no
 * writes: like the quota answer, it is read on the request path of the apps
 * that ask, so it must stay fast (bench/ingest.ts measures the check).
 */
export async function checkFeature(
  pool: Pool,
  organizationId: string,
  request: { customerExternalId: string; feature: string; quantity: string },
  now: Date,
): Promise<FeatureVerdict & { upgradeOptions: { planKey: string; planName: string; reason: string }[] }> {
  const { rows } = await pool.query<{
    key: string;
    name: string;
    currency: string;
    subscribed: boolean;
    kind: FeatureKind | null;
    enabled: boolean | null;
    limit_value: string | null;
    config_value: string | null;
  }>({
    name: 'entitlement-feature',
    // A subscription counts from its start until its cancellation takes effect (canceled_at, which may be later in
    // the period), on the plan in effect now: billing/draft-inputs.ts planTimeline, the newest change in effect,
    // else the first change's old plan, else its plan.
    text: `WITH own AS (
             SELECT ${planInEffectSql('s', '$4')} AS plan_id
               FROM subscriptions AS s
               JOIN customers AS c ON c.id = s.customer_id
              WHERE c.organization_id = $1 AND c.external_id = $2 AND s.start_date <= $4
                AND (s.status = 'active' OR s.canceled_at > $4)
           )
           SELECT p.key, p.name, p.currency, p.id IN (SELECT plan_id FROM own) AS subscribed,
                  f.kind, f.enabled, f.limit_value::text AS limit_value, f.config_value
             FROM plans AS p
             LEFT JOIN plan_features AS f ON f.plan_id = p.id AND f.feature = $3
            WHERE p.organization_id = $1
              -- the customer's own plans, and as upgrades the newest version of each active plan
              AND (p.id IN (SELECT plan_id FROM own)
                   OR (p.active AND p.version = (SELECT max(v.version) FROM plans AS v WHERE v.organization_id = p.organization_id AND v.key = p.key)))
            ORDER BY p.base_fee, p.key`,
    values: [organizationId, request.customerExternalId, request.feature, now.toISOString()],
  });
  const grantOf = (r: (typeof rows)[number]): PlanFeatureGrant | null =>
    r.kind === null ? null : { planKey: r.key, planName: r.name, kind: r.kind, enabled: r.enabled, limit: r.limit_value === null ? null : toPlainString(dec(r.limit_value)), value: r.config_value };
  const own = rows.filter((r) => r.subscribed);
  const verdict = judgeFeature(request.feature, own.map((r) => ({ planKey: r.key, grant: grantOf(r) })), request.quantity);
  // An upgrade is a plan change, which keeps the currency: only plans in the currencies of the customer's own.
  const currencies = new Set(own.map((r) => r.currency));
  const others = rows.filter((r) => !r.subscribed && (currencies.size === 0 || currencies.has(r.currency))).flatMap((r) => grantOf(r) ?? []);
  return { ...verdict, upgradeOptions: verdict.allowed ? [] : upgradeOptions(request.feature, others, request.quantity) };
}

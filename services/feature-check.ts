import type { Pool } from 'pg';
import { judgeFeature, upgradeOptions, type FeatureKind, type FeatureVerdict, type PlanFeatureGrant } from '../billing/entitlements';
import { dec, toPlainString } from '../billing/decimal';

/**
 * Is a customer entitled to a feature now (POST /api/v1/entitlements/check
 * with `feature`): its active subscriptions' plans (started by now) and what
 * their feature grants, with the organization's other active plans that would
 * grant it (upgrade options). One query through plain pg, no locks and no
 * writes: like the quota answer, it is read on the request path of the apps
 * that ask, so it must stay fast (bench/ingest.ts measures the check).
 */
export async function checkFeature(
  pool: Pool,
  organizationId: string,
  request: { customerExternalId: string; feature: string; quantity: string },
  now: Date,
): Promise<FeatureVerdict & { upgradeOptions: { planKey: string; planName: string; reason: string }[] }> {
  const { rows } = await pool.query<{ key: string; name: string; subscribed: boolean; kind: FeatureKind | null; enabled: boolean | null; limit_value: string | null; config_value: string | null }>({
    name: 'entitlement-feature',
    text: `SELECT p.key, p.name, s.subscribed, f.kind, f.enabled, f.limit_value::text AS limit_value, f.config_value
             FROM plans AS p
             LEFT JOIN plan_features AS f ON f.plan_id = p.id AND f.feature = $3
             CROSS JOIN LATERAL (
               SELECT EXISTS (
                 SELECT 1 FROM subscriptions AS s JOIN customers AS c ON c.id = s.customer_id
                  WHERE s.plan_id = p.id AND s.status = 'active' AND s.start_date <= $4
                    AND c.organization_id = $1 AND c.external_id = $2
               ) AS subscribed
             ) AS s
            WHERE p.organization_id = $1 AND (p.active OR s.subscribed)
            ORDER BY p.base_fee, p.key`,
    values: [organizationId, request.customerExternalId, request.feature, now.toISOString()],
  });
  const grantOf = (r: (typeof rows)[number]): PlanFeatureGrant | null =>
    r.kind === null ? null : { planKey: r.key, planName: r.name, kind: r.kind, enabled: r.enabled, limit: r.limit_value === null ? null : toPlainString(dec(r.limit_value)), value: r.config_value };
  const own = rows.filter((r) => r.subscribed);
  const verdict = judgeFeature(request.feature, own.map((r) => ({ planKey: r.key, grant: grantOf(r) })), request.quantity);
  const others = rows.filter((r) => !r.subscribed).flatMap((r) => grantOf(r) ?? []);
  return { ...verdict, upgradeOptions: verdict.allowed ? [] : upgradeOptions(request.feature, others, request.quantity) };
}

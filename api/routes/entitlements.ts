import type { Pool } from 'pg';
import { dec, toPlainString } from '../../billing/decimal';
import { admitUnderLimit, remaining } from '../../billing/quota';
import { quotaWindow } from '../../billing/quota-window';
import type { ApiDeps } from '../deps';
import { applicableLimit } from '../../billing/applicable-limit';
import { LIMIT_COLUMNS, policyOf, type QuotaLimitRow } from '../ingest/hard-quota';
import { route, type RouteTable } from '../route-table';
import { EntitlementRequestSchema, EntitlementResponseSchema } from '../schemas/other';
import { checkFeature } from '../../services/feature-check';
import { checkCredits } from '../../services/credit-check';
import { DomainError } from '../../services/errors';
import { priceNow } from '../../services/vendor-rates';
import type { TokenUsage } from '../../billing/token-cost';

/**
 * One round trip, no locks and no writes: the answer is advisory (the ingest
 * transaction is what enforces a HARD limit), so it must be fast. The query
 * returns the candidate limits (the customer's own and the organization
 * default) each with its counter for the window `now` falls in; the rule for
 * which one applies is billing's, shared with ingest. A feature is answered
 * from the customer's plans (services/feature-check.ts), also in one query.
 */
async function check(pool: Pool, organizationId: string, customer: string, eventType: string, quantity: string, now: Date) {
  const { rows } = await pool.query<QuotaLimitRow & { window_start: Date | null; used: string | null; limit_reached_at: Date | null }>(
    `SELECT ${LIMIT_COLUMNS}, c.window_start, c.used::text AS used, c.limit_reached_at
       FROM quota_limits
       LEFT JOIN LATERAL (
         SELECT q.window_start, q.used, q.limit_reached_at
           FROM quota_counters q
          WHERE q.quota_limit_id = quota_limits.id AND q.customer_external_id = $3
            AND q.window_start <= $4 AND (q.window_end IS NULL OR q.window_end > $4)
          ORDER BY q.window_start DESC
          LIMIT 1
       ) c ON true
      WHERE organization_id = $1 AND event_type = $2 AND (customer_external_id = $3 OR customer_external_id IS NULL)`,
    [organizationId, eventType, customer, now.toISOString()],
  );
  const limit = applicableLimit(rows, eventType, customer);
  if (!limit) return { allowed: true, reason: `no quota limit on ${eventType} for ${customer}`, limit: null, mode: null, used: '0', remaining: null, reset_at: null };
  const window = quotaWindow(limit.resetWindow, now);
  const counted = limit.window_start?.getTime() === window.start.getTime();
  const state = { used: dec(counted ? (limit.used ?? '0') : '0'), limitReachedAt: counted ? limit.limit_reached_at : null };
  const { admitted } = admitUnderLimit(policyOf(limit), state, [dec(quantity)], now);
  const allowed = admitted[0] ?? false;
  const [cap, used] = [toPlainString(dec(limit.limitValue)), toPlainString(state.used)];
  const resets = window.end ? `; it resets at ${window.end.toISOString()}` : '';
  const reason =
    limit.mode === 'DISABLED'
      ? `quotas on ${eventType} are off for ${customer}`
      : limit.mode === 'SOFT'
        ? `SOFT limit of ${cap} (${used} used): usage past it is allowed, with a notice`
        : !allowed
          ? `the HARD limit of ${cap} would be passed (${used} used, ${quantity} asked)${resets}`
          : state.used.plus(dec(quantity)).gt(dec(limit.limitValue))
            ? `past the HARD limit of ${cap} (${used} used, ${quantity} asked), let in during its grace period`
            : `within the HARD limit of ${cap} (${used} used)`;
  return { allowed, reason, limit: cap, mode: limit.mode, used, remaining: toPlainString(remaining(limit.limitValue, state.used)), reset_at: window.end?.toISOString() ?? null };
}

/** estimated_usage at the rate in effect now, or why it cannot be priced. */
async function costPreview(deps: ApiDeps, organizationId: string, usage: TokenUsage | undefined) {
  if (!usage) return {};
  try {
    const priced = await priceNow(deps.prisma, organizationId, usage);
    return { cost_preview: { cost: priced.cost, currency: priced.currency, rate_id: priced.rate.id } };
  } catch (err) {
    if (err instanceof DomainError) return { cost_preview: null, cost_preview_error: err.message };
    throw err;
  }
}

export const entitlementRoutes: RouteTable = {
  mount: '/entitlements',
  routes: [
    route({
      method: 'post',
      path: '/check',
      summary: 'Would this quantity be allowed now: under a quota and a prepaid-only wallet (event_type), or by the customer\'s plans (feature)?',
      description:
        'Send event_type or feature, one of them. A quota answer has the limit in effect and the usage in its window; a feature answer the deciding plan, the feature\'s kind and limit or value, and when refused the newest version of the organization\'s other active plans in the customer\'s currencies that would grant it, cheapest first. A customer is on the plans its subscriptions are on now (a plan change or cancellation counts from when it takes effect). For a customer on a prepaid-only plan, a quota answer also checks that the wallet covers the credits the usage would burn (credits). Either answer says why in words; with estimated_usage it also prices the call at the vendor rate in effect.',
      body: EntitlementRequestSchema,
      ok: { description: 'Allowed or not, and why', schema: EntitlementResponseSchema },
      handle: async (deps, { caller, body }) => {
        const now = new Date();
        if (body.feature !== undefined) {
          const [verdict, preview] = await Promise.all([
            checkFeature(deps.pgPool, caller.organizationId, { customerExternalId: body.customer_external_id, feature: body.feature, quantity: body.quantity }, now),
            costPreview(deps, caller.organizationId, body.estimated_usage),
          ]);
          return {
            allowed: verdict.allowed,
            reason: verdict.reason,
            limit: verdict.limit,
            mode: null,
            used: null,
            remaining: null,
            reset_at: null,
            feature: body.feature,
            kind: verdict.kind,
            value: verdict.value,
            plan_key: verdict.planKey,
            upgrade_options: verdict.upgradeOptions.map((o) => ({ plan_key: o.planKey, plan_name: o.planName, reason: o.reason })),
            ...preview,
          };
        }
        const [quota, credits, preview] = await Promise.all([
          check(deps.pgPool, caller.organizationId, body.customer_external_id, body.event_type!, body.quantity, now),
          checkCredits(deps.pgPool, caller.organizationId, { customerExternalId: body.customer_external_id, eventType: body.event_type!, quantity: dec(body.quantity), properties: body.properties }, now),
          costPreview(deps, caller.organizationId, body.estimated_usage),
        ]);
        // A quota refusal comes first; then a prepaid-only wallet that cannot cover it.
        const refusedByCredits = quota.allowed && credits !== null && !credits.allowed;
        return {
          ...quota,
          ...(refusedByCredits ? { allowed: false, reason: credits.reason } : credits?.allowed ? { reason: `${quota.reason}; ${credits.reason}` } : {}),
          credits: credits && { required: toPlainString(credits.required), balance: toPlainString(credits.balance) },
          ...preview,
        };
      },
    }),
  ],
};

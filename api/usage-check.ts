import type { Pool } from 'pg';
import { applicableLimit } from '../billing/applicable-limit';
import { dec, toPlainString } from '../billing/decimal';
import { admitUnderLimit, remaining } from '../billing/quota';
import { quotaWindow } from '../billing/quota-window';
import { LIMIT_COLUMNS, policyOf, type QuotaLimitRow } from './ingest/hard-quota';
import { checkCredits } from '../services/credit-check';

/*
 * Would this usage be allowed now: under the quota limit that applies, and (for a customer on a prepaid-only plan)
 * by its wallet. Asked by POST /api/v1/entitlements/check with an event_type, and by POST /api/v1/proxy/authorize
 * for the AI proxy before it forwards a call (proxy/). Advisory: the ingest transaction is what enforces a HARD limit.
 */

export interface UsageQuestion {
  customerExternalId: string;
  eventType: string;
  /** a non-negative decimal */
  quantity: string;
  properties?: Record<string, unknown> | undefined;
}

/**
 * One round trip, no locks and no writes: the answer is advisory (the ingest
 * transaction is what enforces a HARD limit), so it must be fast. The query
 * returns the candidate limits (the customer's own and the organization
 * default) each with its counter for the window `now` falls in; the rule for
 * which one applies is billing's, shared with ingest. A feature is answered
 * from the customer's plans (services/feature-check.ts), also in one query.
 */
async function checkQuota(pool: Pool, organizationId: string, customer: string, eventType: string, quantity: string, now: Date) {
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


/** The quota answer, and a prepaid-only wallet's when it has one: a quota refusal comes first, then a wallet that cannot cover the usage. */
export async function checkUsage(pool: Pool, organizationId: string, q: UsageQuestion, now: Date) {
  const [quota, credits] = await Promise.all([
    checkQuota(pool, organizationId, q.customerExternalId, q.eventType, q.quantity, now),
    checkCredits(pool, organizationId, { customerExternalId: q.customerExternalId, eventType: q.eventType, quantity: dec(q.quantity), properties: q.properties }, now),
  ]);
  const refusedByCredits = quota.allowed && credits !== null && !credits.allowed;
  return {
    ...quota,
    ...(refusedByCredits ? { allowed: false, reason: credits.reason } : credits?.allowed ? { reason: `${quota.reason}; ${credits.reason}` } : {}),
    credits: credits && { required: toPlainString(credits.required), balance: toPlainString(credits.balance) },
  };
}

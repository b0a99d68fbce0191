import { Router } from 'express';
import type { Pool } from 'pg';
import { dec, toPlainString } from '../../billing/decimal';
import { admitUnderLimit, remaining } from '../../billing/quota';
import { quotaWindow } from '../../billing/quota-window';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { applicableLimit } from '../../billing/applicable-limit';
import { LIMIT_COLUMNS, policyOf, type QuotaLimitRow } from '../ingest/hard-quota';
import { EntitlementRequestSchema } from '../schemas/other';
import { parseOrThrow } from '../validation';

/**
 * One round trip, no locks and no writes: the answer is advisory (the ingest
 * transaction is what enforces a HARD limit), so it must be fast. The query
 * returns the candidate limits (the customer's own and the organization
 * default) each with its counter for the window `now` falls in; the rule for
 * which one applies is billing's, shared with ingest.
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
  if (!limit) return { allowed: true, limit: null, mode: null, used: '0', remaining: null, reset_at: null };
  const window = quotaWindow(limit.resetWindow, now);
  const counted = limit.window_start?.getTime() === window.start.getTime();
  const state = { used: dec(counted ? (limit.used ?? '0') : '0'), limitReachedAt: counted ? limit.limit_reached_at : null };
  const { admitted } = admitUnderLimit(policyOf(limit), state, [dec(quantity)], now);
  return {
    allowed: admitted[0] ?? false,
    limit: toPlainString(dec(limit.limitValue)),
    mode: limit.mode,
    used: toPlainString(state.used),
    remaining: toPlainString(remaining(limit.limitValue, state.used)),
    reset_at: window.end?.toISOString() ?? null,
  };
}

export function entitlementsRouter(deps: ApiDeps): Router {
  const router = Router();
  router.post('/check', async (req, res) => {
    const caller = callerOf(req);
    const body = parseOrThrow(EntitlementRequestSchema, req.body, 'request');
    res.json(await check(deps.pgPool, caller.organizationId, body.customer_external_id, body.event_type, body.quantity, new Date()));
  });
  return router;
}

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
 * Two indexed reads, no locks and no writes: the answer is advisory (the
 * ingest transaction is what enforces a HARD limit), so it must be fast.
 */
async function check(pool: Pool, organizationId: string, customer: string, eventType: string, quantity: string, now: Date) {
  const { rows } = await pool.query<QuotaLimitRow>(
    `SELECT ${LIMIT_COLUMNS}
       FROM quota_limits
      WHERE organization_id = $1 AND event_type = $2 AND (customer_external_id = $3 OR customer_external_id IS NULL)`,
    [organizationId, eventType, customer],
  );
  const limit = applicableLimit(rows, eventType, customer);
  if (!limit) return { allowed: true, limit: null, mode: null, used: '0', remaining: null, reset_at: null };
  const window = quotaWindow(limit.resetWindow, now);
  const counter = await pool.query<{ used: string; limit_reached_at: Date | null }>(
    `SELECT used::text AS used, limit_reached_at FROM quota_counters
      WHERE quota_limit_id = $1 AND customer_external_id = $2 AND window_start = $3`,
    [limit.id, customer, window.start.toISOString()],
  );
  const state = { used: dec(counter.rows[0]?.used ?? '0'), limitReachedAt: counter.rows[0]?.limit_reached_at ?? null };
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

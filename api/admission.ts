import type { RequestHandler } from 'express';
import type { Pool } from 'pg';
import { createKeyAuthenticator, type Caller } from './auth';
import { InstanceCount } from './instances';
import { LocalBudgets, rateLimitError, type BudgetScope, type Spent } from './rate-limit';

export interface AdmissionOptions {
  /** requests per second per client IP that need a key lookup (0 = no limit) */
  rateLimitPerIpPerSecond: number;
  /** requests per second per organization, unless the operator set its own (0 = no limit) */
  rateLimitPerOrganizationPerSecond: number;
  apiKeyCacheMs: number;
  /** API processes that share rate limits (api/instances.ts) */
  apiInstanceGroup: string;
  log: (message: string, err?: unknown) => void;
}

/**
 * Who may call /api/v1, in one middleware, without a database round trip on
 * the hot path:
 * - a request that makes the API look its key up in api_keys (a key not
 *   seen for a few seconds, or a made-up one) first spends its client IP's
 *   budget, so a flood of made-up keys is limited before it reaches the
 *   database; concurrent requests with the same key share one lookup;
 * - every authenticated request spends its organization's budget (the
 *   operator's setting, or the deployment default) and, when the key has a
 *   limit of its own, the key's.
 * Budgets live in memory; each API process enforces its share of a limit
 * (api/instances.ts). Returns the middleware and a stop for the heartbeat.
 */
export interface Admitted {
  caller: Caller;
  /** RateLimit-* headers for the response */
  headers: Record<string, string>;
}

export interface Admission {
  /** The caller of a request from `ip` with this Authorization header, or an ApiError (401, 429). */
  admit(ip: string, authorization: string | undefined): Promise<Admitted>;
  /** The same, as Express middleware for /api/v1. */
  middleware: RequestHandler;
  stop(): void;
}

export function admission(pool: Pool, options: AdmissionOptions): Admission {
  const instances = new InstanceCount(pool, options.log, options.apiInstanceGroup);
  const budgets = new LocalBudgets(() => instances.current());
  const keys = createKeyAuthenticator(pool, { cacheMs: options.apiKeyCacheMs, log: options.log });

  const spendIpBudget = (ip: string) => async (): Promise<void> => {
    const spent = await budgets.spend('ip', ip, options.rateLimitPerIpPerSecond);
    if (spent && !spent.allowed) throw rateLimitError(spent, 'ip');
  };

  async function admit(ip: string, authorization: string | undefined): Promise<Admitted> {
    const caller = await keys.authenticate(authorization, spendIpBudget(ip));
    const organizationLimit = caller.rateLimits.organization ?? options.rateLimitPerOrganizationPerSecond;
    const spent: [BudgetScope, Spent | null][] = [['organization', await budgets.spend('organization', caller.organizationId, organizationLimit)]];
    if (caller.rateLimits.key !== null) spent.push(['key', await budgets.spend('key', caller.apiKeyId, caller.rateLimits.key)]);
    for (const [scope, s] of spent) if (s && !s.allowed) throw rateLimitError(s, scope);
    // The headers describe the budget closest to running out.
    const tightest = spent
      .map(([, s]) => s)
      .filter((s): s is Extract<Spent, { allowed: true }> => s !== null && s.allowed)
      .sort((a, b) => a.remaining - b.remaining)[0];
    return { caller, headers: tightest ? { 'RateLimit-Limit': String(tightest.points), 'RateLimit-Remaining': String(tightest.remaining) } : {} };
  }

  const middleware: RequestHandler = async (req, res, next) => {
    const { caller, headers } = await admit(req.ip ?? 'unknown', req.get('authorization'));
    res.set(headers);
    req.caller = caller;
    next();
  };
  return { admit, middleware, stop: () => instances.stop() };
}

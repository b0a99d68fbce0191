import type { Response } from 'express';
import type { Pool } from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { ErrorBody } from './errors';

/*
 * Why rate-limiter-flexible: it is widely used and maintained, counts in one
 * atomic upsert per request, and its PostgreSQL store lets several API
 * instances share one budget without adding Redis to the stack. If the store
 * fails, an in-memory "insurance" limiter keeps limiting per instance rather
 * than failing open or failing every request.
 */

/** Shared with the web app's sign-in limit (web/sign-in-limit.ts), under its own key prefixes. */
export const TABLE = 'api_rate_limits';
const WINDOW_SECONDS = 60;

/**
 * The library's own table, created UNLOGGED: counters are worth nothing after
 * a crash, and a transaction that writes only unlogged tables commits without
 * waiting for a WAL flush, which keeps the two upserts per request cheap.
 */
export async function createTable(pool: Pool): Promise<void> {
  try {
    await pool.query(
      `CREATE UNLOGGED TABLE IF NOT EXISTS ${TABLE} (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`,
    );
  } catch (err) {
    // Two instances starting at once race on CREATE TABLE IF NOT EXISTS; the loser sees 23505.
    if ((err as { code?: string }).code !== '23505') throw err;
  }
}

function createLimiter(pool: Pool, keyPrefix: string, points: number, log: (message: string, err?: unknown) => void): { limiter: RateLimiterPostgres; ready: Promise<void> } {
  const options = {
    storeClient: pool,
    storeType: 'pool',
    tableName: TABLE,
    tableCreated: true,
    keyPrefix,
    points,
    duration: WINDOW_SECONDS,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: WINDOW_SECONDS }),
  };
  const limiter = new RateLimiterPostgres(options);
  const ready = createTable(pool).catch((err: unknown) => {
    // The insurance limiter takes over while the store fails.
    log(`rate limit table could not be created; limiting in memory per instance (${keyPrefix})`, err);
  });
  return { limiter, ready };
}

/** What spending one point said: allowed with what is left, or refused with when to retry. */
export type Spent = { allowed: true; points: number; remaining: number } | { allowed: false; points: number; refusal: RateLimiterRes };

/**
 * Spends one point of a per-minute budget under a key; resolves with the
 * outcome (a refusal is an outcome, not an error). `null` when the budget is
 * 0, which disables the limit.
 */
export function budget(pool: Pool, keyPrefix: string, points: number, log: (message: string, err?: unknown) => void): ((key: string) => Promise<Spent>) | null {
  if (points <= 0) return null;
  const { limiter, ready } = createLimiter(pool, keyPrefix, points, log);
  return async (key) => {
    await ready;
    try {
      const result = await limiter.consume(key);
      return { allowed: true, points, remaining: result.remainingPoints };
    } catch (rejected) {
      if (rejected instanceof RateLimiterRes) return { allowed: false, points, refusal: rejected };
      throw rejected;
    }
  };
}

/** The 429 for a refused request: Retry-After, RateLimit-* headers and the documented body. */
export function refuse(res: Response, spent: Extract<Spent, { allowed: false }>): void {
  const { points, refusal } = spent;
  const retryAfter = Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
  const resetAt = new Date(Date.now() + refusal.msBeforeNext).toISOString();
  res.set('Retry-After', String(retryAfter));
  res.set('RateLimit-Limit', String(points));
  res.set('RateLimit-Remaining', '0');
  res.set('RateLimit-Reset', String(retryAfter));
  res.status(429).json({
    error: `Rate limit of ${points} requests per minute exceeded; retry after ${retryAfter} s`,
    code: 'RATE_LIMIT_EXCEEDED',
    details: { limit: points, remaining: refusal.remainingPoints, reset_at: resetAt, retry_after: retryAfter },
  } satisfies ErrorBody);
}

import type { Request, RequestHandler, Response } from 'express';
import type { Pool } from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { callerOf } from './auth';
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

type KeyOf = (req: Request) => string;

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

function rejection(res: Response, points: number, result: RateLimiterRes): void {
  const retryAfter = Math.max(1, Math.ceil(result.msBeforeNext / 1000));
  const resetAt = new Date(Date.now() + result.msBeforeNext).toISOString();
  res.set('Retry-After', String(retryAfter));
  res.set('RateLimit-Limit', String(points));
  res.set('RateLimit-Remaining', '0');
  res.set('RateLimit-Reset', String(retryAfter));
  res.status(429).json({
    error: `Rate limit of ${points} requests per minute exceeded; retry after ${retryAfter} s`,
    code: 'RATE_LIMIT_EXCEEDED',
    details: { limit: points, remaining: result.remainingPoints, reset_at: resetAt, retry_after: retryAfter },
  } satisfies ErrorBody);
}

/** A middleware that spends one point per request under `keyOf(req)`; 0 points disables it. */
function limitBy(pool: Pool, keyPrefix: string, points: number, keyOf: KeyOf, log: (message: string, err?: unknown) => void): RequestHandler {
  if (points <= 0) return (_req, _res, next) => next();
  const { limiter, ready } = createLimiter(pool, keyPrefix, points, log);
  return async (req, res, next) => {
    await ready;
    try {
      const result = await limiter.consume(keyOf(req));
      res.set('RateLimit-Limit', String(points));
      res.set('RateLimit-Remaining', String(result.remainingPoints));
      next();
    } catch (rejected) {
      if (rejected instanceof RateLimiterRes) {
        rejection(res, points, rejected);
        return;
      }
      throw rejected;
    }
  };
}

export function perIpRateLimit(pool: Pool, perMinute: number, log: (message: string, err?: unknown) => void): RequestHandler {
  return limitBy(pool, 'ip', perMinute, (req) => req.ip ?? 'unknown', log);
}

/** Runs after authentication: the budget belongs to the API key. */
export function perKeyRateLimit(pool: Pool, perMinute: number, log: (message: string, err?: unknown) => void): RequestHandler {
  return limitBy(pool, 'key', perMinute, (req) => callerOf(req).apiKeyId, log);
}

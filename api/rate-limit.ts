import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from './errors';

/*
 * Why rate-limiter-flexible: widely used and maintained, with exact
 * fixed-window counting and the remaining points and reset time a 429 needs.
 * Why in memory: an ingest API takes thousands of requests per second, and a
 * shared counter row per organization would cost a database round trip per
 * request and serialize every request of a busy tenant on one row lock.
 * Each process enforces its share of a limit instead (InstanceCount).
 */

/** Per second: ingest clients think in requests per second (Stripe allows 1,000 meter-event calls/s per account). */
const WINDOW_SECONDS = 1;

/** What spending one point said: allowed with what is left, or refused with when to retry. */
export type Spent = { allowed: true; points: number; remaining: number } | { allowed: false; points: number; refusal: RateLimiterRes };

export type BudgetScope = 'ip' | 'organization' | 'key';

/**
 * Per-second budgets by scope and id. `perSecond` is the limit across all
 * API processes; this process keeps ⌈perSecond ÷ live processes⌉ of it.
 */
export class LocalBudgets {
  private readonly limiters = new Map<string, RateLimiterMemory>();

  constructor(private readonly liveProcesses: () => number) {}

  /** Spends one point; null when `perSecond` is 0 (no limit). */
  async spend(scope: BudgetScope, id: string, perSecond: number): Promise<Spent | null> {
    if (perSecond <= 0) return null;
    const share = Math.max(1, Math.ceil(perSecond / this.liveProcesses()));
    const name = `${scope}:${share}`;
    let limiter = this.limiters.get(name);
    if (!limiter) {
      limiter = new RateLimiterMemory({ keyPrefix: name, points: share, duration: WINDOW_SECONDS });
      this.limiters.set(name, limiter);
    }
    try {
      const result = await limiter.consume(id);
      return { allowed: true, points: perSecond, remaining: Math.min(perSecond, result.remainingPoints) };
    } catch (rejected) {
      if (rejected instanceof RateLimiterRes) return { allowed: false, points: perSecond, refusal: rejected };
      throw rejected;
    }
  }
}

/** The 429 for a refused request: Retry-After, RateLimit-* headers and the documented body. */
export function rateLimitError(spent: Extract<Spent, { allowed: false }>, scope: BudgetScope): ApiError {
  const { points, refusal } = spent;
  const retryAfter = Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
  const resetAt = new Date(Date.now() + refusal.msBeforeNext).toISOString();
  const whose = { ip: 'this client address', organization: 'this organization', key: 'this API key' }[scope];
  return new ApiError(
    429,
    'RATE_LIMIT_EXCEEDED',
    `Rate limit of ${points} requests per second for ${whose} exceeded; retry after ${retryAfter} s`,
    { scope, limit: points, remaining: refusal.remainingPoints, reset_at: resetAt, retry_after: retryAfter },
    { 'Retry-After': String(retryAfter), 'RateLimit-Limit': String(points), 'RateLimit-Remaining': '0', 'RateLimit-Reset': String(retryAfter) },
  );
}

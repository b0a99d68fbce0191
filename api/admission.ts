import type { RequestHandler } from 'express';
import type { Pool } from 'pg';
import { createKeyAuthenticator } from './auth';
import { budget, refuse, type Spent } from './rate-limit';

export interface AdmissionOptions {
  rateLimitPerIpPerMinute: number;
  rateLimitPerKeyPerMinute: number;
  apiKeyCacheMs: number;
  log: (message: string, err?: unknown) => void;
}

const ALLOWED: Promise<Spent | null> = Promise.resolve(null);

/**
 * Who may call /api/v1, in one middleware: the per-IP budget, the API key,
 * then the per-key budget. The IP budget is spent before any key lookup, so
 * a flood of made-up keys is limited before it reaches api_keys. When the
 * key is already in the authenticator's cache (the hot path), the two budget
 * upserts go to PostgreSQL together instead of one after the other, which
 * saves a round trip per request; a request refused by its IP budget then
 * has spent a point of its key's budget too.
 */
export function admission(pool: Pool, options: AdmissionOptions): RequestHandler {
  const perIp = budget(pool, 'ip', options.rateLimitPerIpPerMinute, options.log);
  const perKey = budget(pool, 'key', options.rateLimitPerKeyPerMinute, options.log);
  const keys = createKeyAuthenticator(pool, { cacheMs: options.apiKeyCacheMs, log: options.log });

  return async (req, res, next) => {
    const ipSpent = perIp ? perIp(req.ip ?? 'unknown') : ALLOWED;
    const known = keys.cached(req);
    const keySpentEarly = known && perKey ? perKey(known.apiKeyId) : undefined;
    const ip = await ipSpent.catch(async (err: unknown) => {
      await keySpentEarly?.catch(() => undefined);
      throw err;
    });
    if (ip && !ip.allowed) {
      await keySpentEarly?.catch(() => undefined);
      refuse(res, ip);
      return;
    }
    const caller = await keys.authenticate(req);
    const key = await (keySpentEarly ?? (perKey ? perKey(caller.apiKeyId) : ALLOWED));
    if (key && !key.allowed) {
      refuse(res, key);
      return;
    }
    if (key) {
      res.set('RateLimit-Limit', String(key.points));
      res.set('RateLimit-Remaining', String(key.remaining));
    }
    req.caller = caller;
    next();
  };
}

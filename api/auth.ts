import type { RequestHandler } from 'express';
import type { Pool } from 'pg';
import { hashApiKey } from '../prisma/api-keys';
import { ApiError } from './errors';

export interface Caller {
  apiKeyId: string;
  organizationId: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    caller?: Caller;
  }
}

/** The authenticated caller; routes behind `authenticate` always have one. */
export function callerOf(req: { caller?: Caller }): Caller {
  if (!req.caller) throw new ApiError(401, 'UNAUTHORIZED', 'Missing API key');
  return req.caller;
}

interface CachedKey {
  caller: Caller | null;
  fetchedAt: number;
}

const LAST_USED_EVERY_MS = 60_000;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Bearer API key auth. Lookups are cached for `cacheMs` (a revoked key stops
 * working within that time) so the hot path rarely queries api_keys, and
 * last_used_at is written at most once a minute per key, off the request path.
 */
export function createAuthenticator(pool: Pool, options: { cacheMs: number; log: (message: string, err?: unknown) => void }): RequestHandler {
  const cache = new Map<string, CachedKey>();
  const lastUsedWritten = new Map<string, number>();

  async function lookup(hash: string): Promise<Caller | null> {
    const now = Date.now();
    const hit = cache.get(hash);
    if (hit && now - hit.fetchedAt < options.cacheMs) return hit.caller;
    const { rows } = await pool.query<{ id: string; organization_id: string }>(
      'SELECT id, organization_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
      [hash],
    );
    const row = rows[0];
    const caller = row ? { apiKeyId: row.id, organizationId: row.organization_id } : null;
    // Unknown keys are cached too, so a client hammering with a bad key costs one query per window.
    if (cache.size > 10_000) cache.clear();
    cache.set(hash, { caller, fetchedAt: now });
    return caller;
  }

  function touch(apiKeyId: string): void {
    const now = Date.now();
    if (now - (lastUsedWritten.get(apiKeyId) ?? 0) < LAST_USED_EVERY_MS) return;
    lastUsedWritten.set(apiKeyId, now);
    pool.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [apiKeyId]).catch((err: unknown) => {
      options.log('could not update api_keys.last_used_at', err);
    });
  }

  return async (req, _res, next) => {
    const header = req.get('authorization');
    if (!header) throw new ApiError(401, 'UNAUTHORIZED', 'Missing API key: send Authorization: Bearer <key>');
    const match = BEARER.exec(header);
    if (!match?.[1]) throw new ApiError(401, 'UNAUTHORIZED', 'Malformed Authorization header: expected Bearer <key>');
    const caller = await lookup(hashApiKey(match[1]));
    if (!caller) throw new ApiError(401, 'UNAUTHORIZED', 'Unknown or revoked API key');
    req.caller = caller;
    touch(caller.apiKeyId);
    next();
  };
}

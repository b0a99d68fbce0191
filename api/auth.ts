import type { Request } from 'express';
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

export interface KeyAuthenticator {
  /** The caller when the request's key is in the cache (known or known-bad); undefined when it needs a lookup or is malformed. */
  cached(req: Request): Caller | null | undefined;
  /** The caller for the request's Bearer key, or a 401 naming what is wrong. Marks the key used. */
  authenticate(req: Request): Promise<Caller>;
}

function bearerKey(req: Request): string {
  const header = req.get('authorization');
  if (!header) throw new ApiError(401, 'UNAUTHORIZED', 'Missing API key: send Authorization: Bearer <key>');
  const match = BEARER.exec(header);
  if (!match?.[1]) throw new ApiError(401, 'UNAUTHORIZED', 'Malformed Authorization header: expected Bearer <key>');
  return match[1];
}

/**
 * Bearer API key auth. Lookups are cached for `cacheMs` (a revoked key stops
 * working within that time) so the hot path rarely queries api_keys, and
 * last_used_at is written at most once a minute per key, off the request path.
 */
export function createKeyAuthenticator(pool: Pool, options: { cacheMs: number; log: (message: string, err?: unknown) => void }): KeyAuthenticator {
  const cache = new Map<string, CachedKey>();
  const lastUsedWritten = new Map<string, number>();

  function fromCache(hash: string): Caller | null | undefined {
    const hit = cache.get(hash);
    return hit && Date.now() - hit.fetchedAt < options.cacheMs ? hit.caller : undefined;
  }

  async function lookup(hash: string): Promise<Caller | null> {
    const hit = fromCache(hash);
    if (hit !== undefined) return hit;
    const now = Date.now();
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

  return {
    cached(req) {
      const header = req.get('authorization');
      const key = header ? BEARER.exec(header)?.[1] : undefined;
      return key ? fromCache(hashApiKey(key)) : undefined;
    },
    async authenticate(req) {
      const caller = await lookup(hashApiKey(bearerKey(req)));
      if (!caller) throw new ApiError(401, 'UNAUTHORIZED', 'Unknown or revoked API key');
      touch(caller.apiKeyId);
      return caller;
    },
  };
}

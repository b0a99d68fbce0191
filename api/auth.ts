import type { RequestHandler } from 'express';
import type { Pool } from 'pg';
import { hashApiKey } from '../prisma/api-keys';
import { ApiError } from './errors';
import { missingScope } from '../prisma/api-scopes';

export interface Caller {
  apiKeyId: string;
  organizationId: string;
  /** what the key may do (prisma/api-scopes.ts) */
  scopes: readonly string[];
  /** requests per second set by the operator: the organization's (null = deployment default) and the key's own (null = none); 0 = no limit */
  rateLimits: { organization: number | null; key: number | null };
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
  /**
   * The caller for a request's Authorization: Bearer header, or a 401 naming what is wrong.
   * Marks the key used. `beforeLookup` runs (and may throw, e.g. a 429) only
   * when this request is the one that queries api_keys: concurrent requests
   * with the same uncached key share one lookup.
   */
  authenticate(authorization: string | undefined, beforeLookup?: () => Promise<void>): Promise<Caller>;
}

function bearerKey(header: string | undefined): string {
  if (!header) throw new ApiError(401, 'UNAUTHORIZED', 'Missing API key: send Authorization: Bearer <key>');
  const match = BEARER.exec(header);
  if (!match?.[1]) throw new ApiError(401, 'UNAUTHORIZED', 'Malformed Authorization header: expected Bearer <key>');
  return match[1];
}

/**
 * Bearer API key auth. Lookups are cached for `cacheMs` (a revoked key stops
 * working, and a changed rate limit applies, within that time) so the hot
 * path rarely queries api_keys, and
 * last_used_at is written at most once a minute per key, off the request path.
 */
export function createKeyAuthenticator(pool: Pool, options: { cacheMs: number; log: (message: string, err?: unknown) => void }): KeyAuthenticator {
  const cache = new Map<string, CachedKey>();
  const inFlight = new Map<string, Promise<Caller | null>>();
  const lastUsedWritten = new Map<string, number>();

  function fromCache(hash: string): Caller | null | undefined {
    const hit = cache.get(hash);
    return hit && Date.now() - hit.fetchedAt < options.cacheMs ? hit.caller : undefined;
  }

  async function lookup(hash: string, beforeLookup?: () => Promise<void>): Promise<Caller | null> {
    const hit = fromCache(hash);
    if (hit !== undefined) return hit;
    const pending = inFlight.get(hash);
    if (pending) return pending;
    await beforeLookup?.();
    // Checked again: another request may have started the lookup while this one spent its budget.
    const started = inFlight.get(hash) ?? query(hash);
    inFlight.set(hash, started);
    try {
      return await started;
    } finally {
      inFlight.delete(hash);
    }
  }

  async function query(hash: string): Promise<Caller | null> {
    const now = Date.now();
    const { rows } = await pool.query<{ id: string; organization_id: string; scopes: string[]; key_limit: number | null; organization_limit: number | null }>(
      `SELECT k.id, k.organization_id, k.scopes, k.rate_limit_per_second AS key_limit, o.rate_limit_per_second AS organization_limit
         FROM api_keys k JOIN organizations o ON o.id = k.organization_id
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
      [hash],
    );
    const row = rows[0];
    const caller = row
      ? { apiKeyId: row.id, organizationId: row.organization_id, scopes: row.scopes, rateLimits: { organization: row.organization_limit, key: row.key_limit } }
      : null;
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
    async authenticate(authorization, beforeLookup) {
      const caller = await lookup(hashApiKey(bearerKey(authorization)), beforeLookup);
      if (!caller) throw new ApiError(401, 'UNAUTHORIZED', 'Unknown or revoked API key');
      touch(caller.apiKeyId);
      return caller;
    },
  };
}

/** 403 unless the caller's key has a scope the request's route accepts (prisma/api-scopes.ts). */
export function assertScope(caller: Caller, method: string, path: string): void {
  const missing = missingScope(caller.scopes, method, path);
  if (missing === null) return;
  throw new ApiError(
    403,
    'INSUFFICIENT_SCOPE',
    `This API key lacks the "${missing}" scope, which ${method.toUpperCase()} /api/v1${path} needs (it has: ${caller.scopes.join(', ') || 'none'}). ` +
      `An admin can create a key with it (npm run admin -- create-api-key --scopes ${missing}) or widen this one (set-api-key-scopes).`,
    { required_scope: missing },
  );
}

/** The Express form of assertScope, behind authentication (paths relative to /api/v1). */
export const requireScope: RequestHandler = (req, _res, next) => {
  assertScope(callerOf(req), req.method, req.path);
  next();
};

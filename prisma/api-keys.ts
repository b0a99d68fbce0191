import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient } from './generated/client';
import { API_SCOPES, DEFAULT_SCOPES, type ApiScope } from './api-scopes';
import { writeAudit, type AuditActor } from './audit';

const KEY_PREFIX = 'lf_';

/** Scopes as stored: each once, in API_SCOPES order, however they were asked for. */
const canonical = (scopes: readonly ApiScope[]): ApiScope[] => API_SCOPES.filter((s) => scopes.includes(s));

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Creates an API key with its scopes (prisma/api-scopes.ts; `ingest` only unless
 * named). The plaintext is returned once and never stored: the database keeps
 * its SHA-256 (keys are 256 random bits, so a fast hash is enough; there is
 * nothing to brute-force).
 */
export async function createApiKey(
  prisma: PrismaClient,
  organizationId: string,
  name: string,
  actor: AuditActor = { type: 'system', id: 'admin' },
  asked: readonly ApiScope[] = DEFAULT_SCOPES,
): Promise<{ id: string; key: string; prefix: string; scopes: ApiScope[] }> {
  const scopes = canonical(asked);
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const prefix = key.slice(0, 10);
  const row = await prisma.$transaction(async (tx) => {
    const created = await tx.apiKey.create({ data: { organizationId, name, prefix, keyHash: hashApiKey(key), scopes: [...scopes] } });
    await writeAudit(tx, {
      organizationId,
      actor,
      action: 'api_key.created',
      entityType: 'api_key',
      entityId: created.id,
      after: { name, prefix, scopes: [...scopes] },
    });
    return created;
  });
  return { id: row.id, key, prefix, scopes: [...scopes] };
}

/** Replaces a key's scopes (it takes effect within the API's key cache time). false when no such active key. */
export async function setApiKeyScopes(prisma: PrismaClient, organizationId: string, id: string, asked: readonly ApiScope[], actor: AuditActor): Promise<boolean> {
  const scopes = canonical(asked);
  return prisma.$transaction(async (tx) => {
    const key = await tx.apiKey.findFirst({ where: { id, organizationId, revokedAt: null } });
    if (!key) return false;
    await tx.apiKey.update({ where: { id }, data: { scopes: [...scopes] } });
    await writeAudit(tx, { organizationId, actor, action: 'api_key.scopes_set', entityType: 'api_key', entityId: id, before: { scopes: key.scopes }, after: { scopes: [...scopes] } });
    return true;
  });
}

export async function revokeApiKey(prisma: PrismaClient, organizationId: string, id: string, actor: AuditActor): Promise<boolean> {
  return prisma.$transaction(async (tx) => {
    const { count } = await tx.apiKey.updateMany({ where: { id, organizationId, revokedAt: null }, data: { revokedAt: new Date() } });
    if (count === 0) return false;
    await writeAudit(tx, { organizationId, actor, action: 'api_key.revoked', entityType: 'api_key', entityId: id });
    return true;
  });
}

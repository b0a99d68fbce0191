import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient } from './generated/client';
import { writeAudit, type AuditActor } from './audit';

const KEY_PREFIX = 'lf_';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Creates an API key. The plaintext is returned once and never stored: the
 * database keeps its SHA-256 (keys are 256 random bits, so a fast hash is
 * enough; there is nothing to brute-force).
 */
export async function createApiKey(
  prisma: PrismaClient,
  organizationId: string,
  name: string,
  actor: AuditActor = { type: 'system', id: 'admin' },
): Promise<{ id: string; key: string; prefix: string }> {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const prefix = key.slice(0, 10);
  const row = await prisma.$transaction(async (tx) => {
    const created = await tx.apiKey.create({ data: { organizationId, name, prefix, keyHash: hashApiKey(key) } });
    await writeAudit(tx, {
      organizationId,
      actor,
      action: 'api_key.created',
      entityType: 'api_key',
      entityId: created.id,
      after: { name, prefix },
    });
    return created;
  });
  return { id: row.id, key, prefix };
}

export async function revokeApiKey(prisma: PrismaClient, organizationId: string, id: string, actor: AuditActor): Promise<boolean> {
  return prisma.$transaction(async (tx) => {
    const { count } = await tx.apiKey.updateMany({ where: { id, organizationId, revokedAt: null }, data: { revokedAt: new Date() } });
    if (count === 0) return false;
    await writeAudit(tx, { organizationId, actor, action: 'api_key.revoked', entityType: 'api_key', entityId: id });
    return true;
  });
}

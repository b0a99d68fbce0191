import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createPgPool, createPrismaClient, type PrismaClient } from '../../prisma/client';
import { API_SCOPES } from '../../prisma/api-scopes';
import { createApiKey } from '../../prisma/api-keys';

let shared: PrismaClient | undefined;
let sharedPool: Pool | undefined;

/** One Prisma client per test file, connected to the harness database. */
export function testPrisma(): PrismaClient {
  shared ??= createPrismaClient(process.env.DATABASE_URL, { max: 5 });
  return shared;
}

/** One plain pg pool per test file (activities' `pool`), connected to the harness database. */
export function testPool(): Pool {
  sharedPool ??= createPgPool(process.env.DATABASE_URL, { max: 5 });
  return sharedPool;
}

/** Closes the file's Prisma client and pg pool. */
export async function closeTestPrisma(): Promise<void> {
  const [prisma, pool] = [shared, sharedPool];
  shared = undefined;
  sharedPool = undefined;
  await Promise.all([prisma?.$disconnect(), pool?.end()]);
}

/** A fresh organization with one API key (every scope: tests of scopes make their own keys), so tests never see each other's data. */
export async function createTestOrganization(prefix = 'test'): Promise<{ organizationId: string; apiKey: string; apiKeyId: string; name: string }> {
  const prisma = testPrisma();
  const name = `${prefix}-${randomUUID()}`;
  const org = await prisma.organization.create({ data: { name } });
  const key = await createApiKey(prisma, org.id, 'test key', { type: 'system', id: 'test' }, API_SCOPES);
  return { organizationId: org.id, apiKey: key.key, apiKeyId: key.id, name };
}

/** A task queue of its own per test file keeps workers of different files apart. */
export function uniqueTaskQueue(name: string): string {
  return `test-${name}-${randomUUID().slice(0, 8)}`;
}

/**
 * An enabled webhook endpoint taking every event type (on a name nothing
 * resolves to: without a dispatcher nothing is sent), so the organization's
 * changes emit their events: an event no endpoint takes is not stored.
 */
export async function subscribeToWebhooks(organizationId: string): Promise<void> {
  await testPrisma().webhookEndpoint.create({ data: { organizationId, url: 'https://hooks.invalid/ledgerflow', secretEnc: 'not-used' } });
}

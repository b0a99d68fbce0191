import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from './generated/client';
import { connectionFields } from './connection';

export { PrismaClient, Prisma } from './generated/client';
export type * from './generated/models';

export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set (npm start and the test harness set it; see README)');
  return url;
}

/** Prisma through the pg driver adapter: no native query engine. */
export function createPrismaClient(url = databaseUrl(), options: { max?: number } = {}): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ ...connectionFields(url), max: options.max ?? 10 }) });
}

/**
 * A plain pg pool for the statements Prisma cannot express or spends too much
 * CPU on (the ingest group commit, the period close: prisma/raw-db.ts).
 *
 * Waiting for a connection is bounded (`connectionWaitMs`, 30 s by default):
 * a caller that cannot get one in that long fails and is retried, rather than
 * queueing for ever behind a stuck pool. An idle connection the server drops
 * (PostgreSQL restarting) is discarded by the pool and logged, not thrown at
 * the process as an unhandled 'error' event.
 */
export function createPgPool(url = databaseUrl(), options: { max?: number; connectionWaitMs?: number; log?: (message: string) => void } = {}): Pool {
  const pool = new Pool({ ...connectionFields(url), max: options.max ?? 10, connectionTimeoutMillis: options.connectionWaitMs ?? 30_000 });
  const log = options.log ?? ((message: string) => console.warn(message));
  pool.on('error', (err) => log(`PostgreSQL dropped an idle pooled connection (the pool replaces it): ${err.message}`));
  return pool;
}

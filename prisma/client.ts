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
 * A plain pg pool for the few set-based statements Prisma cannot express
 * (INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING RETURNING).
 */
export function createPgPool(url = databaseUrl(), options: { max?: number } = {}): Pool {
  return new Pool({ ...connectionFields(url), max: options.max ?? 10 });
}

import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { PrismaClient } from '../prisma/client';

/** What the API talks to; tests pass their own real clients. */
export interface ApiDeps {
  prisma: PrismaClient;
  pgPool: Pool;
  temporal: Client;
  taskQueue: string;
}

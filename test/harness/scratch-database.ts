import { randomBytes } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { applyMigrations } from '../../prisma/migrate';

export interface ScratchDatabase {
  /** connects as the database's own role */
  url: string;
  /** that role's password, random per database */
  password: string;
  drop(): Promise<void>;
}

async function asAdmin<T>(run: (c: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * A migrated database of its own in the harness PostgreSQL, owned by a role
 * of its own with a random password: for tests that run the API and worker
 * as processes (their batcher and sweeper then see no other test's rows),
 * and that need to know every credential the processes were given.
 */
export async function createScratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(18).toString('hex');
  await asAdmin(async (c) => {
    await c.query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
    await c.query(`CREATE DATABASE ${name} OWNER ${name}`);
  });
  const url = new URL(process.env.DATABASE_URL!);
  url.username = name;
  url.password = password;
  url.pathname = `/${name}`;
  applyMigrations(url.toString());
  return {
    url: url.toString(),
    password,
    drop: () =>
      asAdmin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.query(`DROP ROLE IF EXISTS ${name}`);
      }),
  };
}

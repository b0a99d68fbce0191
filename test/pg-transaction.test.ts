import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { createPgPool } from '../prisma/client';
import { inTransaction } from '../prisma/pg';

/**
 * prisma/pg.ts against the harness's PostgreSQL: a transaction whose connection
 * the server ends fails that transaction only (no unhandled 'error' event takes
 * the process down, the pool goes on), and waiting for a connection is bounded.
 */
const pools: Pool[] = [];
const pool = (options: { max?: number; connectionWaitMs?: number } = {}) => {
  const made = createPgPool(process.env.DATABASE_URL, options);
  pools.push(made);
  return made;
};
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

describe('inTransaction', () => {
  it('ends a transaction that sits idle past its timeout with an error, and the pool serves the next one', async () => {
    const p = pool({ max: 1 });
    const idle = inTransaction(
      p,
      async (client) => {
        await client.query('SELECT 1');
        // PostgreSQL ends the session (FATAL, sent outside any query) while the transaction waits here.
        await sleep(1_000);
        return client.query('SELECT 1');
      },
      { timeoutMs: 200 },
    );
    await expect(idle).rejects.toThrow(/terminat|connection/i);
    const next = await inTransaction(p, async (client) => (await client.query<{ n: number }>('SELECT 2 AS n')).rows[0]!.n);
    expect(next).toBe(2);
  });

  it('survives the server terminating its connection mid-transaction', async () => {
    const p = pool({ max: 2 });
    const doomed = inTransaction(p, async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await p.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await sleep(200);
      return client.query('SELECT 1');
    });
    await expect(doomed).rejects.toThrow(/terminat|connection/i);
    expect(await inTransaction(p, async (client) => (await client.query('SELECT 1 AS one')).rowCount)).toBe(1);
  });

  it('stops a statement that runs past the timeout and rolls the transaction back', async () => {
    const p = pool({ max: 1 });
    const slow = inTransaction(p, (client) => client.query('SELECT pg_sleep(2)'), { timeoutMs: 200 });
    await expect(slow).rejects.toThrow(/statement timeout/);
  });

  it('bounds the wait for a connection: a caller behind a held pool fails instead of queueing for ever', async () => {
    const p = pool({ max: 1, connectionWaitMs: 300 });
    let release!: () => void;
    const held = inTransaction(p, () => new Promise<void>((resolve) => (release = resolve)));
    await sleep(50);
    const started = Date.now();
    await expect(inTransaction(p, (client) => client.query('SELECT 1'))).rejects.toThrow(/timeout exceeded when trying to connect/);
    expect(Date.now() - started).toBeLessThan(5_000);
    release();
    await held;
  });
});

import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';

/** A pool or a client inside a transaction: whatever runs a query. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string | { name?: string; text: string; values?: unknown[] }, values?: unknown[]): Promise<QueryResult<R>>;
}

/**
 * Runs `work` in one transaction on a connection of its own: COMMIT if it
 * resolves, ROLLBACK if it throws. A connection that cannot even roll back
 * is discarded rather than returned to the pool.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (err) {
    const broken = await client.query('ROLLBACK').then(
      () => undefined,
      (rollbackErr: unknown) => rollbackErr as Error,
    );
    client.release(broken);
    throw err;
  }
}

import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';

/** A pool or a client inside a transaction: whatever runs a query. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string | { name?: string; text: string; values?: unknown[] }, values?: unknown[]): Promise<QueryResult<R>>;
}

export interface TransactionOptions {
  /** REPEATABLE READ: every statement sees the snapshot of the first (the period close's usage claims rely on it) */
  repeatableRead?: boolean;
  /**
   * How long one statement, or a pause between two, may take before PostgreSQL ends the transaction
   * (statement_timeout and idle_in_transaction_session_timeout; transaction_timeout needs PostgreSQL 17, and
   * docker-compose runs 16): a stuck transaction cannot hold its locks for ever.
   */
  timeoutMs?: number;
}

/**
 * Runs `work` in one transaction on a connection of its own: COMMIT if it
 * resolves, ROLLBACK if it throws. A connection that cannot even roll back
 * is discarded rather than returned to the pool.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const client = await pool.connect();
  try {
    const ms = options.timeoutMs === undefined ? null : Math.trunc(options.timeoutMs);
    const timeout = ms === null ? '' : `; SET LOCAL statement_timeout = ${ms}; SET LOCAL idle_in_transaction_session_timeout = ${ms}`;
    await client.query(`BEGIN${options.repeatableRead ? ' ISOLATION LEVEL REPEATABLE READ' : ''}${timeout}`);
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

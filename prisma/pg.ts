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
   * docker-compose runs 16): a stuck transaction cannot hold its locks for ever. The whole transaction is
   * bounded by the caller's statement count times this; an activity's start-to-close timeout gives up on an
   * attempt sooner, and its retry waits at most this long on locks the abandoned attempt still holds.
   */
  timeoutMs?: number;
}

/**
 * Runs `work` in one transaction on a connection of its own: COMMIT if it
 * resolves, ROLLBACK if it throws. A connection that cannot even roll back
 * is discarded rather than returned to the pool.
 *
 * While the connection is checked out, an error the server sends outside a
 * query (the idle-in-transaction timeout's FATAL, PostgreSQL shutting down) is
 * kept and ends the transaction instead of reaching the process as an
 * unhandled 'error' event: pg-pool listens for those only on idle clients.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const client = await pool.connect();
  let lost: Error | null = null;
  const onError = (err: Error) => {
    lost = err;
  };
  client.on('error', onError);
  try {
    return await transact(client, work, options, () => lost);
  } finally {
    client.removeListener('error', onError);
  }
}

async function transact<T>(client: PoolClient, work: (client: PoolClient) => Promise<T>, options: TransactionOptions, lost: () => Error | null): Promise<T> {
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
    client.release(broken ?? lost() ?? undefined);
    throw err;
  }
}

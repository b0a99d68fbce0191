import { createHash } from 'node:crypto';
import { Prisma } from './generated/client';
import type { Queryable } from './pg';

/**
 * What a reading or claiming function needs from the database: raw SQL as
 * Prisma.sql fragments. A Prisma client (or transaction client) is one; so
 * is a plain pg connection wrapped by `pgRawDb`, which the period close uses
 * so that its statements skip Prisma's query compiler (the close runs ~10,000
 * times at a period end, and the compiler was most of the worker's CPU per
 * draft, BENCHMARKS.md). Functions taking a RawDb must return the same values
 * through both: numbers and counts cast to text or int in SQL, timestamps as
 * timestamptz (no `date` columns, which the two drivers read differently).
 */
export interface RawDb {
  $queryRaw<T = unknown>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): PromiseLike<T>;
  $executeRaw(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): PromiseLike<number>;
}

const toSql = (query: TemplateStringsArray | Prisma.Sql, values: unknown[]): Prisma.Sql =>
  query instanceof Prisma.Sql ? query : Prisma.sql(query, ...(values as Prisma.Sql[]));

/** The most statement texts one process names (prepares); any text after that runs unnamed, so a connection holds a bounded set. */
export const MAX_PREPARED_TEXTS = 256;
const preparedNames = new Map<string, string>();
const plannedPerCall = new WeakSet<Prisma.Sql>();

/**
 * Marks a statement whose best plan depends on its values — a scan of one customer's events, ten rows for one and a
 * million for the next — so pgRawDb runs it unnamed: PostgreSQL then plans it for each call's values and never settles
 * on a generic plan costed for the customers that came first. (Such texts also vary with their list of ranges, so
 * they would use up MAX_PREPARED_TEXTS.) A Prisma client runs it as it runs any other.
 */
export function planPerCall(sql: Prisma.Sql): Prisma.Sql {
  plannedPerCall.add(sql);
  return sql;
}

/**
 * The statement as pg runs it: named after its text, so each connection
 * parses and plans it once and then only binds and executes it. Planning was
 * as costly as executing for the period close's statements (pg_stat_statements
 * with track_planning: 2.6 ms of planning per draft, 1.1 ms of it the close's
 * one read of its inputs; BENCHMARKS.md). PostgreSQL plans the first five
 * executions for their values and then keeps a generic plan only when it is
 * not dearer, and re-plans by itself after a schema change. A statement whose
 * plan should follow its values is marked with planPerCall and runs unnamed.
 * Past MAX_PREPARED_TEXTS a new text runs unnamed too.
 */
function statement(sql: Prisma.Sql): { name?: string; text: string; values: unknown[] } {
  if (plannedPerCall.has(sql)) return { text: sql.text, values: sql.values };
  let name = preparedNames.get(sql.text);
  if (name === undefined && preparedNames.size < MAX_PREPARED_TEXTS) {
    name = `raw_${createHash('sha1').update(sql.text).digest('hex')}`;
    preparedNames.set(sql.text, name);
  }
  return name === undefined ? { text: sql.text, values: sql.values } : { name, text: sql.text, values: sql.values };
}

/** Raw SQL through a pg pool or a connection inside a transaction, as prepared statements (`statement`). */
export function pgRawDb(db: Queryable): RawDb {
  return {
    async $queryRaw<T>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): Promise<T> {
      return (await db.query(statement(toSql(query, values)))).rows as T;
    },
    async $executeRaw(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): Promise<number> {
      return (await db.query(statement(toSql(query, values)))).rowCount ?? 0;
    },
  };
}

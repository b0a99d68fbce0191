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

/** Raw SQL through a pg pool or a connection inside a transaction. */
export function pgRawDb(db: Queryable): RawDb {
  return {
    async $queryRaw<T>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): Promise<T> {
      const sql = toSql(query, values);
      return (await db.query(sql.text, sql.values)).rows as T;
    },
    async $executeRaw(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): Promise<number> {
      const sql = toSql(query, values);
      return (await db.query(sql.text, sql.values)).rowCount ?? 0;
    },
  };
}

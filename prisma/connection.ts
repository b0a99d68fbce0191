/**
 * Turns DATABASE_URL into the discrete connection fields the pg driver adapter
 * wants. Prisma's migration engine ignores the database name of a connection
 * string when it derives a shadow database, so we always pass fields.
 */
export interface PgConnectionFields {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export function connectionFields(databaseUrl: string): PgConnectionFields {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error('DATABASE_URL is not a valid URL (expected postgresql://user:password@host:port/database)');
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
    throw new Error(`DATABASE_URL must start with postgresql:// (got ${url.protocol}//)`);
  }
  return {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username || 'postgres'),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, '') || 'postgres'),
  };
}

/**
 * PostgreSQL's SQLSTATE for an error however it reached us: node-postgres
 * (`code`), Prisma's driver adapter (`cause.originalCode`), or a Prisma
 * known-request error wrapping the adapter's (`meta.driverAdapterError`).
 */
export function sqlState(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as { code?: unknown; originalCode?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown } };
    if (typeof e.originalCode === 'string' && /^[0-9A-Z]{5}$/.test(e.originalCode)) return e.originalCode;
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && !/^P\d{4}$/.test(e.code)) return e.code;
    current = e.meta?.driverAdapterError ?? e.cause;
  }
  return undefined;
}

/**
 * SQLSTATE class 22, "data exception": a value PostgreSQL cannot take (a NUL
 * character in text, an unpaired surrogate in JSON, a number out of range).
 * Retrying the same statement fails the same way.
 */
export function isDataException(err: unknown): boolean {
  return sqlState(err)?.startsWith('22') ?? false;
}

import type { AppLoadContext } from 'react-router';
import type { Prisma } from '../../../prisma/client';
import type { AuditFilter, AuditRow } from '../audit-filter';

export const AUDIT_PAGE_SIZE = 50;
/** The CSV export's cap; a larger export is cut there and says so in a response header. */
export const AUDIT_EXPORT_LIMIT = 50_000;

function where(organizationId: string, f: AuditFilter): Prisma.AuditLogWhereInput {
  const and: Prisma.AuditLogWhereInput[] = [{ organizationId }];
  if (f.entityType) and.push({ entityType: f.entityType });
  if (f.entityId) and.push({ entityId: f.entityId });
  if (f.from) and.push({ createdAt: { gte: f.from } });
  if (f.to) and.push({ createdAt: { lt: f.to } });
  if (f.before !== null) and.push({ id: { lt: f.before } });
  if (f.actor) {
    // "user: a@b" as shown on the page, or either half of it.
    const [type, id] = f.actor.includes(':') ? f.actor.split(':', 2).map((s) => s.trim()) : [null, f.actor];
    if (type) and.push({ actorType: { equals: type, mode: 'insensitive' } });
    if (id) and.push({ actorId: { contains: id, mode: 'insensitive' } });
  }
  return { AND: and };
}

const json = (value: Prisma.JsonValue | null): string => (value === null ? '' : JSON.stringify(value));

function toRow(a: { id: bigint; createdAt: Date; actorType: string; actorId: string; action: string; entityType: string; entityId: string; runId: string | null; before: Prisma.JsonValue | null; after: Prisma.JsonValue | null }): AuditRow {
  return {
    id: a.id.toString(),
    at: a.createdAt.toISOString(),
    actor: `${a.actorType}: ${a.actorId}`,
    action: a.action,
    entityType: a.entityType,
    entityId: a.entityId,
    runId: a.runId,
    before: json(a.before),
    after: json(a.after),
  };
}

/** One page of the organization's audit history, newest first, and the cursor of the next page. */
export async function readAuditPage(context: AppLoadContext, organizationId: string, filter: AuditFilter): Promise<{ rows: AuditRow[]; nextBefore: string | null }> {
  const found = await context.prisma.auditLog.findMany({ where: where(organizationId, filter), orderBy: { id: 'desc' }, take: AUDIT_PAGE_SIZE + 1 });
  const rows = found.slice(0, AUDIT_PAGE_SIZE).map(toRow);
  return { rows, nextBefore: found.length > AUDIT_PAGE_SIZE ? rows[rows.length - 1]!.id : null };
}

/** Every row the filter matches (up to the export cap), newest first, read in pages. */
export async function readAuditExport(context: AppLoadContext, organizationId: string, filter: AuditFilter): Promise<{ rows: AuditRow[]; truncated: boolean }> {
  const rows: AuditRow[] = [];
  let before = filter.before;
  for (;;) {
    const page = await context.prisma.auditLog.findMany({ where: where(organizationId, { ...filter, before }), orderBy: { id: 'desc' }, take: 5_000 });
    for (const a of page) rows.push(toRow(a));
    if (rows.length >= AUDIT_EXPORT_LIMIT) return { rows: rows.slice(0, AUDIT_EXPORT_LIMIT), truncated: true };
    if (page.length < 5_000) return { rows, truncated: false };
    before = page[page.length - 1]!.id;
  }
}

/**
 * The audit history's filter, read from a query string (the page's GET form
 * and the CSV export share it), and the CSV encoding of its rows. Pure: the
 * server module turns a filter into a query.
 */
import { toCsv } from './csv';
export interface AuditFilter {
  entityType: string | null;
  entityId: string | null;
  /** matched against "type: id" of the actor, case-insensitively, e.g. an email or "workflow" */
  actor: string | null;
  /** inclusive lower bound */
  from: Date | null;
  /** exclusive upper bound; a bare date means the end of that day (UTC) */
  to: Date | null;
  /** keyset pagination: only rows with a smaller id */
  before: bigint | null;
}

export interface FilterProblem {
  field: 'from' | 'to' | 'before';
  message: string;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/** A date (YYYY-MM-DD, UTC) or an ISO 8601 date-time; null when empty, undefined when unreadable. */
function parseTime(raw: string, endOfDay: boolean): Date | null | undefined {
  if (raw === '') return null;
  if (DATE_ONLY.test(raw)) {
    const start = Date.parse(`${raw}T00:00:00Z`);
    // Date.parse rolls 2026-02-30 over into March: only a date that reads back the same is one.
    if (Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== raw) return undefined;
    return new Date(endOfDay ? start + DAY_MS : start);
  }
  if (!/^\d{4}-\d{2}-\d{2}T/.test(raw)) return undefined;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : new Date(at);
}

const text = (params: URLSearchParams, name: string): string | null => {
  const value = params.get(name)?.trim() ?? '';
  return value === '' ? null : value.slice(0, 200);
};

export function parseAuditFilter(params: URLSearchParams): { filter: AuditFilter; problems: FilterProblem[] } {
  const problems: FilterProblem[] = [];
  const time = (field: 'from' | 'to'): Date | null => {
    const raw = params.get(field)?.trim() ?? '';
    const parsed = parseTime(raw, field === 'to');
    if (parsed === undefined) {
      problems.push({ field, message: `${field === 'from' ? 'From' : 'To'}: "${raw}" is not a date (YYYY-MM-DD) or an ISO 8601 date-time` });
      return null;
    }
    return parsed;
  };
  const from = time('from');
  const to = time('to');
  if (from && to && from >= to) problems.push({ field: 'to', message: 'To must be after From' });
  const rawBefore = params.get('before')?.trim() ?? '';
  let before: bigint | null = null;
  if (rawBefore !== '') {
    if (/^\d{1,19}$/.test(rawBefore)) before = BigInt(rawBefore);
    else problems.push({ field: 'before', message: `before: "${rawBefore}" is not a row number` });
  }
  return {
    filter: { entityType: text(params, 'entity_type'), entityId: text(params, 'entity_id'), actor: text(params, 'actor'), from, to, before },
    problems,
  };
}

/** The filter as a query string (without `before`), for the CSV link and the next-page link. */
export function auditQuery(params: URLSearchParams, extra: Record<string, string> = {}): string {
  const kept = new URLSearchParams();
  for (const name of ['entity_type', 'entity_id', 'actor', 'from', 'to']) {
    const value = params.get(name)?.trim();
    if (value) kept.set(name, value);
  }
  for (const [name, value] of Object.entries(extra)) kept.set(name, value);
  const query = kept.toString();
  return query ? `?${query}` : '';
}

export interface AuditRow {
  id: string;
  at: string;
  actor: string;
  action: string;
  entityType: string;
  entityId: string;
  runId: string | null;
  before: string;
  after: string;
}

export const AUDIT_CSV_COLUMNS = ['id', 'at', 'actor', 'action', 'entity_type', 'entity_id', 'run_id', 'before', 'after'] as const;

export function auditCsv(rows: readonly AuditRow[]): string {
  return toCsv(
    AUDIT_CSV_COLUMNS,
    rows.map((r) => [r.id, r.at, r.actor, r.action, r.entityType, r.entityId, r.runId ?? '', r.before, r.after]),
  );
}

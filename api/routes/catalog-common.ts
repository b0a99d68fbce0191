import type { AuditActor } from '../../prisma/audit';
import type { Caller } from '../auth';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const apiKeyActor = (caller: Caller): AuditActor => ({ type: 'api_key', id: caller.apiKeyId });

/** One page of a list sorted on a unique key: ask for one more row than the page to know whether more follow. */
export function page<T>(rows: T[], limit: number): { data: T[]; has_more: boolean } {
  return { data: rows.slice(0, limit), has_more: rows.length > limit };
}

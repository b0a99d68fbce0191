import { Prisma } from './generated/client';
import type { Queryable } from './pg';

/** Who did it: an API key, a person, or a workflow run. */
export type AuditActor =
  | { type: 'api_key'; id: string }
  | { type: 'user'; id: string }
  | { type: 'workflow'; id: string; runId: string }
  | { type: 'system'; id: string };

/**
 * Who decided, as the text a finance decision carries through its workflow
 * and onto the invoice (approved_by, rejected_by, voided_by, a credit note's
 * requested_by): `api_key:<id>` for an API key, the signed-in user's email for
 * a person in the web app. It comes from the caller's credentials, never from
 * a request body.
 */
export type DeciderRef = string;

const API_KEY_PREFIX = 'api_key:';

export const apiKeyDecider = (apiKeyId: string): DeciderRef => `${API_KEY_PREFIX}${apiKeyId}`;

/** The audit actor a decider names (runs recorded before keys were named this way carry a person's name: a user). */
export function deciderActor(ref: DeciderRef): AuditActor {
  return ref.startsWith(API_KEY_PREFIX) ? { type: 'api_key', id: ref.slice(API_KEY_PREFIX.length) } : { type: 'user', id: ref };
}

export interface AuditEntry {
  organizationId: string;
  actor: AuditActor;
  action: string;
  entityType: string;
  entityId: string;
  before?: Prisma.InputJsonValue | null;
  after?: Prisma.InputJsonValue | null;
}

type AuditWriter = { auditLog: { create(args: { data: Prisma.AuditLogUncheckedCreateInput }): Promise<unknown> } };

/** Writes one audit row. Call it with the transaction client of the change it records. */
export async function writeAudit(tx: AuditWriter, entry: AuditEntry): Promise<void> {
  await tx.auditLog.create({ data: auditRow(entry) });
}

export function auditRow(entry: AuditEntry): Prisma.AuditLogUncheckedCreateInput {
  return {
    organizationId: entry.organizationId,
    actorType: entry.actor.type,
    actorId: entry.actor.id,
    runId: entry.actor.type === 'workflow' ? entry.actor.runId : null,
    action: entry.action,
    entityType: entry.entityType,
    entityId: entry.entityId,
    before: entry.before ?? undefined,
    after: entry.after ?? undefined,
  };
}

/**
 * Audit rows as one multi-row INSERT: a statement of its own (insertAuditRows),
 * or a data-modifying WITH of a larger write (the period close's draft).
 */
export function auditRowsSql(entries: readonly AuditEntry[]): Prisma.Sql {
  const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
  return Prisma.sql`INSERT INTO audit_logs (organization_id, actor_type, actor_id, run_id, action, entity_type, entity_id, before, after)
    SELECT * FROM unnest(${entries.map((e) => e.organizationId)}::uuid[], ${entries.map((e) => e.actor.type)}::text[], ${entries.map((e) => e.actor.id)}::text[],
                         ${entries.map((e) => (e.actor.type === 'workflow' ? e.actor.runId : null))}::text[], ${entries.map((e) => e.action)}::text[],
                         ${entries.map((e) => e.entityType)}::text[], ${entries.map((e) => e.entityId)}::text[],
                         ${entries.map((e) => json(e.before))}::jsonb[], ${entries.map((e) => json(e.after))}::jsonb[])`;
}

/**
 * Writes audit rows through plain pg (the ingest path's transactions): one
 * multi-row INSERT, inside the caller's transaction.
 */
export async function insertAuditRows(db: Queryable, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const sql = auditRowsSql(entries);
  await db.query({ name: 'audit-insert-rows', text: sql.text, values: sql.values });
}

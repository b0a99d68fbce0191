import type { Prisma } from './generated/client';

/** Who did it: an API key, a person, or a workflow run. */
export type AuditActor =
  | { type: 'api_key'; id: string }
  | { type: 'user'; id: string }
  | { type: 'workflow'; id: string; runId: string }
  | { type: 'system'; id: string };

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

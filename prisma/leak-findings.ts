import { canTransition, type FindingStatus } from '../billing/leaks';
import { writeAudit, type AuditActor } from './audit';
import type { PrismaClient } from './client';

export class FindingNotFound extends Error {}
export class FindingStateConflict extends Error {}

/**
 * Dismisses a leak finding with the reason, audited with its actor (the API
 * key or the web user). Only an open or actioned finding can be dismissed;
 * the row is re-read inside the transaction, so two dismissals at once
 * audit once and the other is told the finding is already dismissed.
 */
export async function dismissFinding(prisma: PrismaClient, input: { organizationId: string; findingId: string; reason: string; actor: AuditActor }) {
  const { organizationId, findingId, reason, actor } = input;
  return prisma.$transaction(async (tx) => {
    const [before] = await tx.$queryRaw<{ status: string }[]>`
      SELECT status FROM leak_findings WHERE id = ${findingId}::uuid AND organization_id = ${organizationId}::uuid FOR UPDATE`;
    if (!before) throw new FindingNotFound(`No finding ${findingId} in your organization`);
    if (!canTransition(before.status as FindingStatus, 'dismissed')) {
      throw new FindingStateConflict(`Finding ${findingId} is ${before.status}; only an open or actioned finding can be dismissed`);
    }
    const after = await tx.leakFinding.update({ where: { id: findingId }, data: { status: 'dismissed' }, include: { actions: { orderBy: { createdAt: 'asc' } } } });
    await writeAudit(tx, {
      organizationId,
      actor,
      action: 'leak.dismissed',
      entityType: 'leak_finding',
      entityId: findingId,
      before: { status: before.status },
      after: { status: 'dismissed', reason },
    });
    return after;
  });
}

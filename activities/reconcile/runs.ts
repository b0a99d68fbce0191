import { writeAudit } from '../../prisma/audit';
import type { ReconcileInput, ReconcileResult } from '../../temporal/reconciliations';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor } from '../workflow-actor';

/**
 * The run row of this reconciliation workflow: one per workflow id, so a
 * retry finds the same row, and a later run of a finished reconciliation
 * (started again after a billing run) reopens it.
 */
export function startReconciliation({ prisma }: ActivityDeps) {
  return async function startReconciliation(input: ReconcileInput): Promise<{ runId: string }> {
    const actor = workflowActor();
    return prisma.$transaction(async (tx) => {
      const existing = await tx.reconciliationRun.findUnique({ where: { workflowId: actor.id }, select: { id: true, status: true } });
      if (existing?.status === 'completed') {
        await tx.reconciliationRun.update({ where: { id: existing.id }, data: { status: 'running', startedAt: new Date(), completedAt: null } });
        await writeAudit(tx, { organizationId: input.organizationId, actor, action: 'reconciliation.restarted', entityType: 'reconciliation_run', entityId: existing.id, before: { status: 'completed' }, after: { status: 'running' } });
      }
      if (existing) return { runId: existing.id };
      const run = await tx.reconciliationRun.create({
        data: { organizationId: input.organizationId, periodStart: new Date(input.periodStart), periodEnd: new Date(input.periodEnd), workflowId: actor.id },
      });
      await writeAudit(tx, { organizationId: input.organizationId, actor, action: 'reconciliation.started', entityType: 'reconciliation_run', entityId: run.id, after: { periodStart: input.periodStart, periodEnd: input.periodEnd } });
      return { runId: run.id };
    }, TX_OPTIONS);
  };
}

/** Marks the run completed with how many findings this run detected and how many recovery actions are done for the run's findings. */
export function finishReconciliation({ prisma }: ActivityDeps) {
  return async function finishReconciliation(input: { organizationId: string; runId: string; detected: number; actioned: number }): Promise<ReconcileResult> {
    const actor = workflowActor();
    const findings = input.detected;
    return prisma.$transaction(async (tx) => {
      const actions = await tx.recoveryAction.count({ where: { status: 'done', finding: { organizationId: input.organizationId, runId: input.runId } } });
      const before = await tx.reconciliationRun.findFirstOrThrow({ where: { id: input.runId, organizationId: input.organizationId } });
      await tx.reconciliationRun.update({ where: { id: input.runId }, data: { status: 'completed', findingsCount: findings, actionsCount: actions, completedAt: before.completedAt ?? new Date() } });
      if (before.status !== 'completed') {
        await writeAudit(tx, { organizationId: input.organizationId, actor, action: 'reconciliation.completed', entityType: 'reconciliation_run', entityId: input.runId, before: { status: before.status }, after: { status: 'completed', findings, actions } });
      }
      return { runId: input.runId, findings, actioned: input.actioned };
    }, TX_OPTIONS);
  };
}

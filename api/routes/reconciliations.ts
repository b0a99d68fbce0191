import { Router } from 'express';
import { formatMoney } from '../../billing/currency';
import { dec } from '../../billing/decimal';
import { writeAudit } from '../../prisma/audit';
import { dismissFinding, FindingNotFound, FindingStateConflict } from '../../prisma/leak-findings';
import type { LeakFindingModel, Prisma, RecoveryActionModel } from '../../prisma/client';
import { startReconcileWorkflow } from '../../temporal/reconciliations';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import {
  DismissFindingSchema,
  FindingParamsSchema,
  ReconciliationListQuerySchema,
  ReportedUsageRequestSchema,
  StartReconciliationSchema,
} from '../schemas/reconciliations';
import { parseOrThrow } from '../validation';
import { apiKeyActor } from './catalog-common';

function findingJson(f: LeakFindingModel & { actions: RecoveryActionModel[] }) {
  return {
    id: f.id,
    kind: f.kind,
    subject: f.subject,
    customer_id: f.customerId,
    customer_external_id: f.customerExternalId,
    period_start: f.periodStart.toISOString(),
    period_end: f.periodEnd.toISOString(),
    expected_amount: formatMoney(dec(f.expectedAmount), f.currency),
    billed_amount: formatMoney(dec(f.billedAmount), f.currency),
    leak_amount: formatMoney(dec(f.leakAmount), f.currency),
    currency: f.currency,
    confidence: dec(f.confidence).toFixed(3),
    reasons: f.reasons,
    status: f.status,
    actions: f.actions.map((a) => ({ kind: a.kind, status: a.status, summary: a.responseSummary, completed_at: a.completedAt?.toISOString() ?? null })),
  };
}

const findingInclude = { actions: { orderBy: { createdAt: 'asc' } } } as const satisfies Prisma.LeakFindingInclude;

/** Reconciliations (leak detection), their findings, and the usage organizations report from elsewhere. */
export function reconciliationsRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/reconciliations', async (req, res) => {
    const { organizationId } = callerOf(req);
    const body = parseOrThrow(StartReconciliationSchema, req.body, 'request');
    const started = await startReconcileWorkflow(
      deps.temporal,
      { organizationId, periodStart: body.period_start.toISOString(), periodEnd: body.period_end.toISOString() },
      { taskQueue: deps.taskQueue },
    );
    res.status(202).json({ workflow_id: started.workflowId, run_id: started.runId, already_started: started.alreadyStarted });
  });

  router.get('/reconciliations', async (req, res) => {
    const { organizationId } = callerOf(req);
    const query = parseOrThrow(ReconciliationListQuerySchema, req.query, 'query');
    const runs = await deps.prisma.reconciliationRun.findMany({
      where: { organizationId },
      orderBy: [{ startedAt: 'desc' }, { id: 'asc' }],
      take: query.limit,
      include: { findings: { include: findingInclude, orderBy: [{ kind: 'asc' }, { customerExternalId: 'asc' }, { subject: 'asc' }] } },
    });
    res.json({
      data: runs.map((r) => ({
        id: r.id,
        workflow_id: r.workflowId,
        period_start: r.periodStart.toISOString(),
        period_end: r.periodEnd.toISOString(),
        status: r.status,
        findings_count: r.findingsCount,
        actions_count: r.actionsCount,
        started_at: r.startedAt.toISOString(),
        completed_at: r.completedAt?.toISOString() ?? null,
        findings: r.findings.map(findingJson),
      })),
    });
  });

  router.post('/reconciliations/findings/:id/dismiss', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(FindingParamsSchema, req.params, 'path');
    const { reason } = parseOrThrow(DismissFindingSchema, req.body, 'request');
    const finding = await dismissFinding(deps.prisma, { organizationId: caller.organizationId, findingId: id, reason, actor: apiKeyActor(caller) }).catch((err: unknown) => {
      if (err instanceof FindingNotFound) throw new ApiError(404, 'NOT_FOUND', err.message);
      if (err instanceof FindingStateConflict) throw new ApiError(409, 'INVALID_STATE', err.message);
      throw err;
    });
    res.json(findingJson(finding));
  });

  router.post('/reported-usage', async (req, res) => {
    const caller = callerOf(req);
    const { usage } = parseOrThrow(ReportedUsageRequestSchema, req.body, 'request');
    const keys = [...new Set(usage.map((u) => u.meter))];
    const known = new Set((await deps.prisma.meter.findMany({ where: { organizationId: caller.organizationId, key: { in: keys } }, select: { key: true } })).map((m) => m.key));
    const unknown = usage.findIndex((u) => !known.has(u.meter));
    if (unknown >= 0) {
      const field = `usage.${unknown}.meter`;
      throw new ApiError(400, 'VALIDATION_ERROR', `Invalid request: ${field}: no meter with key ${usage[unknown]!.meter}`, {
        field,
        issues: [{ code: 'UNKNOWN_METER', field, message: `${field}: no meter with key ${usage[unknown]!.meter}` }],
      });
    }
    await deps.prisma.$transaction(async (tx) => {
      for (const u of usage) {
        const key = { organizationId: caller.organizationId, customerExternalId: u.customer_external_id, meterKey: u.meter, periodStart: u.period_start, source: u.source };
        await tx.reportedUsage.upsert({
          where: { organizationId_customerExternalId_meterKey_periodStart_source: key },
          create: { ...key, quantity: u.quantity },
          update: { quantity: u.quantity },
        });
      }
      await writeAudit(tx, {
        organizationId: caller.organizationId,
        actor: apiKeyActor(caller),
        action: 'reported_usage.recorded',
        entityType: 'organization',
        entityId: caller.organizationId,
        after: { rows: usage.map((u) => ({ customer_external_id: u.customer_external_id, meter: u.meter, period_start: u.period_start.toISOString(), quantity: u.quantity, source: u.source })) },
      });
    });
    res.json({ stored: usage.length });
  });

  return router;
}

import { formatMoney } from '../../billing/currency';
import { dec } from '../../billing/decimal';
import { writeAudit } from '../../prisma/audit';
import { dismissFinding, FindingNotFound, FindingStateConflict } from '../../prisma/leak-findings';
import type { LeakFindingModel, Prisma, RecoveryActionModel } from '../../prisma/client';
import { startReconcileWorkflow } from '../../temporal/reconciliations';
import { ApiError } from '../errors';
import { route, type RouteTable } from '../route-table';
import {
  DismissFindingSchema,
  FindingParamsSchema,
  FindingSchema,
  ReconciliationListQuerySchema,
  ReconciliationListSchema,
  ReconciliationStartedSchema,
  ReportedUsageRequestSchema,
  ReportedUsageResponseSchema,
  StartReconciliationSchema,
} from '../schemas/reconciliations';
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
export const reconciliationRoutes: RouteTable = {
  mount: '',
  routes: [
    route({
      method: 'post',
      path: '/reconciliations',
      summary: 'Reconcile a period: find revenue leaks and act on them',
      description:
        "Starts the workflow reconcile:<organizationId>:<period_start date>. It finds unbilled usage, missed overage, under-reported usage, renewal drift and stale rating for the invoices whose period starts in the range, then for each open finding drafts a Stripe invoice for what a customer owes, alerts by Slack and email, and posts a CRM task to the organization's webhook. A repeat for the same period start is a no-op.",
      body: StartReconciliationSchema,
      ok: { status: 202, description: 'Started, or already started', schema: ReconciliationStartedSchema },
      handle: async (deps, { caller, body }) => {
        const started = await startReconcileWorkflow(
          deps.temporal,
          { organizationId: caller.organizationId, periodStart: body.period_start.toISOString(), periodEnd: body.period_end.toISOString() },
          { taskQueue: deps.taskQueue },
        );
        return { workflow_id: started.workflowId, run_id: started.runId, already_started: started.alreadyStarted };
      },
    }),
    route({
      method: 'get',
      path: '/reconciliations',
      summary: 'Reconciliation runs with their findings',
      query: ReconciliationListQuerySchema,
      ok: { description: 'Newest first', schema: ReconciliationListSchema },
      handle: async (deps, { caller, query }) => {
        const runs = await deps.prisma.reconciliationRun.findMany({
          where: { organizationId: caller.organizationId },
          orderBy: [{ startedAt: 'desc' }, { id: 'asc' }],
          take: query.limit,
          include: { findings: { include: findingInclude, orderBy: [{ kind: 'asc' }, { customerExternalId: 'asc' }, { subject: 'asc' }] } },
        });
        return {
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
        };
      },
    }),
    route({
      method: 'post',
      path: '/reconciliations/findings/{id}/dismiss',
      summary: 'Dismiss a finding that is not a leak',
      description: 'open or actioned → dismissed, recorded in the audit log with the API key and the reason.',
      params: FindingParamsSchema,
      body: DismissFindingSchema,
      ok: { description: 'The finding, dismissed', schema: FindingSchema },
      errors: { '404': 'No such finding in your organization', '409': 'The finding is recovered or already dismissed' },
      handle: async (deps, { caller, params, body }) => {
        const finding = await dismissFinding(deps.prisma, { organizationId: caller.organizationId, findingId: params.id, reason: body.reason, actor: apiKeyActor(caller) }).catch((err: unknown) => {
          if (err instanceof FindingNotFound) throw new ApiError(404, 'NOT_FOUND', err.message);
          if (err instanceof FindingStateConflict) throw new ApiError(409, 'INVALID_STATE', err.message);
          throw err;
        });
        return findingJson(finding);
      },
    }),
    route({
      method: 'post',
      path: '/reported-usage',
      summary: 'Report usage measured elsewhere, to compare with what Ledgerflow metered',
      description: 'A reconciliation reports under-reported usage where a reported quantity is below the metered one for the same customer, meter and period.',
      body: ReportedUsageRequestSchema,
      ok: { description: 'Stored', schema: ReportedUsageResponseSchema },
      handle: async (deps, { caller, body: { usage } }) => {
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
        return { stored: usage.length };
      },
    }),
  ],
};

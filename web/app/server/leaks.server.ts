import type { AppLoadContext } from 'react-router';
import { dec } from '../../../billing/decimal';
import type { ConfidenceReason } from '../../../billing/leaks';
import { StartReconciliationSchema } from '../../../services/schemas/reconciliations';
import { dismissFinding, FindingNotFound, FindingStateConflict } from '../../../prisma/leak-findings';
import { startReconcileWorkflow } from '../../../temporal/reconciliations';
import { temporalUiLink } from './runs.server';
import { FINDING_KINDS, FINDING_STATUSES } from '../leak-options';
import type { SignedInUser } from './auth.server';
import { money } from './money.server';


const day = (d: Date): string => d.toISOString().slice(0, 10);
const pick = <T extends string>(value: string | null, allowed: readonly T[]): T | null => (value && (allowed as readonly string[]).includes(value) ? (value as T) : null);

/** The organization's leak findings (newest period first), the actions taken on each, what was recovered, and the latest reconciliations. */
export async function listFindings(context: AppLoadContext, organizationId: string, params: URLSearchParams) {
  const status = pick(params.get('status'), FINDING_STATUSES);
  const kind = pick(params.get('kind'), FINDING_KINDS);
  const [findings, recovered, runs] = await Promise.all([
    context.prisma.leakFinding.findMany({
      where: { organizationId, ...(status ? { status } : {}), ...(kind ? { kind } : {}) },
      include: { actions: { orderBy: { createdAt: 'asc' } } },
      orderBy: [{ periodStart: 'desc' }, { createdAt: 'desc' }],
      take: 100,
    }),
    context.prisma.leakFinding.groupBy({ by: ['currency'], where: { organizationId, status: 'recovered' }, _sum: { leakAmount: true } }),
    context.prisma.reconciliationRun.findMany({ where: { organizationId }, orderBy: [{ startedAt: 'desc' }, { id: 'asc' }], take: 10 }),
  ]);
  return {
    status,
    kind,
    runs: runs.map((r) => ({
      id: r.id,
      period: `${day(r.periodStart)} – ${day(r.periodEnd)}`,
      status: r.status,
      findings: r.findingsCount,
      actions: r.actionsCount,
      started: r.startedAt.toISOString().slice(0, 16).replace('T', ' '),
      completed: r.completedAt ? r.completedAt.toISOString().slice(0, 16).replace('T', ' ') : null,
      temporalUrl: temporalUiLink(context, r.workflowId),
    })),
    recovered: recovered.map((r) => money(dec(r._sum.leakAmount?.toString() ?? '0'), r.currency)),
    findings: findings.map((f) => ({
      id: f.id,
      kind: f.kind.replace(/_/g, ' '),
      subject: f.subject,
      customer: f.customerExternalId,
      customerId: f.customerId,
      period: `${day(f.periodStart)} – ${day(f.periodEnd)}`,
      expected: money(f.expectedAmount, f.currency),
      billed: money(f.billedAmount, f.currency),
      leak: money(f.leakAmount, f.currency),
      confidence: `${dec(f.confidence.toString()).times(100).toFixed(1)} %`,
      reasons: (f.reasons as unknown as ConfidenceReason[]).map((r) => `${r.detail} (×${r.factor})`),
      status: f.status,
      actions: f.actions.map((a) => ({
        id: a.id,
        // stripe_draft is the recovery invoice (it goes through approval before Stripe; the kind kept its first name).
        label: `${a.kind === 'stripe_draft' ? 'recovery invoice' : a.kind.replace(/_/g, ' ')}: ${a.status}`,
        invoiceId: recoveryInvoiceOf(a.responseSummary),
      })),
    })),
  };
}

/** The recovery invoice a recovery action drafted (its summary names it). */
function recoveryInvoiceOf(summary: unknown): string | null {
  const id = typeof summary === 'object' && summary !== null ? (summary as { invoiceId?: unknown }).invoiceId : undefined;
  return typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id) ? id : null;
}

export type DismissOutcome = { ok: boolean; message: string };

/** Finance's dismissal from the leaks page: the same rule and audit entry as the API's. */
export async function dismissFromWeb(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<DismissOutcome> {
  const findingId = String(form.get('finding') ?? '');
  const reason = String(form.get('reason') ?? '').trim();
  if (!reason) return { ok: false, message: 'Reason: say why the finding is dismissed.' };
  if (reason.length > 500) return { ok: false, message: 'Reason: at most 500 characters.' };
  if (!/^[0-9a-f-]{36}$/i.test(findingId)) return { ok: false, message: 'That finding does not exist.' };
  try {
    await dismissFinding(context.prisma, { organizationId: user.organizationId, findingId, reason, actor: { type: 'user', id: user.email } });
    return { ok: true, message: 'Dismissed. The reason is in the audit history.' };
  } catch (err) {
    if (err instanceof FindingNotFound || err instanceof FindingStateConflict) return { ok: false, message: err.message };
    throw err;
  }
}

export type ReconcileOutcome = { ok: boolean; message: string; workflowId?: string; temporalUrl?: string };

/** The calendar month before `now` (UTC), as the form's default: "2026-10". */
export function lastFullMonth(now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 7);
}

/**
 * Ops start the reconciliation of one UTC calendar month, as
 * POST /api/v1/reconciliations does: same period rules (the API's schema),
 * same workflow id. A month being reconciled is left alone; one reconciled
 * before runs again (findings are upserts and actions keyed, so a re-run
 * only adds what is new), as the end of a billing run does.
 */
export async function startReconciliationFromWeb(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<ReconcileOutcome> {
  const month = /^(\d{4})-(\d{2})$/.exec(String(form.get('month') ?? '').trim());
  const monthIndex = month ? Number(month[2]) - 1 : -1;
  if (!month || monthIndex < 0 || monthIndex > 11) return { ok: false, message: 'Month: pick a month like 2026-10.' };
  const start = new Date(Date.UTC(Number(month[1]), monthIndex, 1));
  const end = new Date(Date.UTC(Number(month[1]), monthIndex + 1, 1));
  if (start.getTime() > Date.now()) return { ok: false, message: 'Month: that month has not started yet.' };
  const parsed = StartReconciliationSchema.safeParse({ period_start: start.toISOString(), period_end: end.toISOString() });
  if (!parsed.success) return { ok: false, message: `Month: ${parsed.error.issues[0]?.message ?? 'not a period that can be reconciled'}.` };
  const started = await startReconcileWorkflow(
    context.temporal,
    { organizationId: user.organizationId, periodStart: parsed.data.period_start.toISOString(), periodEnd: parsed.data.period_end.toISOString() },
    { rerunFinished: true },
  );
  const label = month[0];
  return {
    ok: true,
    message: started.alreadyStarted ? `${label} is being reconciled right now (${started.workflowId}); its findings appear below.` : `Reconciling ${label}: ${started.workflowId}. Findings appear below as it runs.`,
    workflowId: started.workflowId,
    temporalUrl: temporalUiLink(context, started.workflowId),
  };
}

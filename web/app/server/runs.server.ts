import type { WorkflowExecutionInfo } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { AppLoadContext } from 'react-router';
import { BILLING_RUN_WORKFLOW_TYPE, billingRunStateQuery } from '../../../temporal/billing-messages';
import { writeAudit } from '../../../prisma/audit';
import { BillingRunNotRetryableError, retryFailedBillingRun, RETRYABLE_RUN_STATUSES } from '../../../temporal/billing-runs';
import { OrganizationId, SubscriptionId } from '../../../temporal/search-attribute-keys';
import type { SignedInUser } from './auth.server';
import { money } from './money.server';

/** Deep link to one workflow in the Temporal Web UI. */
export function temporalUiLink(context: AppLoadContext, workflowId: string): string {
  return `${context.temporalUiUrl}/namespaces/${encodeURIComponent(context.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The status filter: our names → Temporal's ExecutionStatus values (visibility) and status names (describe). */
export const RUN_STATUS_FILTERS = {
  running: { label: 'Running', visibility: 'Running', name: 'RUNNING' },
  failed: { label: 'Failed', visibility: 'Failed', name: 'FAILED' },
  terminated: { label: 'Terminated', visibility: 'Terminated', name: 'TERMINATED' },
  timed_out: { label: 'Timed out', visibility: 'TimedOut', name: 'TIMED_OUT' },
  completed: { label: 'Completed', visibility: 'Completed', name: 'COMPLETED' },
} as const;
export type RunStatusFilter = keyof typeof RUN_STATUS_FILTERS;

export function parseRunStatusFilter(value: string | null): RunStatusFilter | null {
  return value && value in RUN_STATUS_FILTERS ? (value as RunStatusFilter) : null;
}

const LIMIT = 50;
/** A running workflow answers its state query in milliseconds; one whose worker is down would hang the page. */
const QUERY_TIMEOUT_MS = 2000;

export interface BillingRunRow {
  workflowId: string;
  invoiceId: string | null;
  customer: string;
  period: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, … */
  temporalStatus: string;
  /** where the run is: the workflow's own state while it runs, else the invoice's status */
  phase: string;
  /** why a failed, terminated or timed-out run ended */
  failure: string | null;
  /** failed or timed out: a retry may start it again (terminated runs were stopped on purpose) */
  retryable: boolean;
  total: string | null;
  temporalUrl: string;
  startedAt: string;
}

const day = (d: Date): string => d.toISOString().slice(0, 10);

type Execution = Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'startTime' | 'typedSearchAttributes'> & { status: string };

/**
 * The organization's billing runs, newest first. Two sources, merged by
 * workflow id: Temporal visibility (runs tagged with the organization, so
 * runs still drafting or failed before their draft show too) and the
 * invoices table (each invoice names its run, which covers runs started
 * without search attributes). Running runs report their phase through the
 * `state` query; ended ones that did not complete say why.
 */
export async function listBillingRuns(context: AppLoadContext, organizationId: string, filter: RunStatusFilter | null = null): Promise<{ runs: BillingRunRow[]; visibilityError: string | null }> {
  const { executions, error } = await listFromVisibility(context, organizationId, filter);
  const visibleIds = [...executions.keys()];
  const include = { customer: { select: { externalId: true, name: true } } } as const;
  const [ofVisible, recent] = await Promise.all([
    context.prisma.invoice.findMany({ where: { organizationId, workflowId: { in: visibleIds } }, include, orderBy: { revision: 'asc' } }),
    context.prisma.invoice.findMany({ where: { organizationId }, include, orderBy: [{ periodStart: 'desc' }, { revision: 'asc' }, { id: 'asc' }], take: LIMIT }),
  ]);
  // A re-drafted period has several revisions under one run: the latest (last here) is the one it bills.
  const invoices = [...ofVisible, ...recent];
  const byWorkflow = new Map(invoices.map((i) => [i.workflowId, i]));
  // Runs known only from an invoice: Temporal describes them.
  await Promise.all(
    [...byWorkflow.values()]
      .filter((i) => !executions.has(i.workflowId))
      .map(async (i) => {
        const execution = await describe(context, i.workflowId);
        if (execution && (!filter || execution.status === RUN_STATUS_FILTERS[filter].name)) executions.set(i.workflowId, execution);
      }),
  );
  const ordered = [...executions.values()].sort((a, b) => b.startTime.getTime() - a.startTime.getTime()).slice(0, LIMIT);
  const subscriptions = await context.prisma.subscription.findMany({
    where: { organizationId, id: { in: ordered.map((e) => e.typedSearchAttributes.get(SubscriptionId)).filter((id): id is string => !!id) } },
    include: { customer: { select: { externalId: true, name: true } } },
  });
  const subscriptionById = new Map(subscriptions.map((s) => [s.id, s]));

  const runs = await Promise.all(
    ordered.map(async (e): Promise<BillingRunRow> => {
      const invoice = byWorkflow.get(e.workflowId);
      const subscription = subscriptionById.get(e.typedSearchAttributes.get(SubscriptionId) ?? '');
      const customer = invoice?.customer ?? subscription?.customer;
      return {
        workflowId: e.workflowId,
        invoiceId: invoice?.id ?? null,
        customer: customer ? (customer.name ?? customer.externalId) : '—',
        period: invoice ? `${day(invoice.periodStart)} – ${day(invoice.periodEnd)}` : periodFromId(e.workflowId),
        temporalStatus: e.status,
        phase: e.status === 'RUNNING' ? await runningPhase(context, e, invoice?.status) : (invoice?.status ?? 'no invoice'),
        failure: ['FAILED', 'TERMINATED', 'TIMED_OUT'].includes(e.status) ? await failureReason(context, e) : null,
        retryable: RETRYABLE_RUN_STATUSES.has(e.status),
        total: invoice ? money(invoice.total, invoice.currency) : null,
        temporalUrl: temporalUiLink(context, e.workflowId),
        startedAt: e.startTime.toISOString(),
      };
    }),
  );
  return { runs, visibilityError: error };
}

async function listFromVisibility(context: AppLoadContext, organizationId: string, filter: RunStatusFilter | null): Promise<{ executions: Map<string, Execution>; error: string | null }> {
  const executions = new Map<string, Execution>();
  const query = [
    `${OrganizationId.name} = "${organizationId}"`,
    `WorkflowType = "${BILLING_RUN_WORKFLOW_TYPE}"`,
    ...(filter ? [`ExecutionStatus = "${RUN_STATUS_FILTERS[filter].visibility}"`] : []),
  ].join(' AND ');
  try {
    for await (const info of context.temporal.workflow.list({ query, pageSize: LIMIT })) {
      // A reset leaves older runs of the same id: the newest (listed first) is the one that counts.
      if (!executions.has(info.workflowId)) executions.set(info.workflowId, { ...info, status: info.status.name });
      if (executions.size >= LIMIT) break;
    }
    return { executions, error: null };
  } catch (err) {
    return { executions, error: `Temporal visibility did not answer (${(err as Error).message}); showing runs that drafted an invoice.` };
  }
}

async function describe(context: AppLoadContext, workflowId: string): Promise<Execution | null> {
  try {
    const d = await context.temporal.workflow.getHandle(workflowId).describe();
    return { workflowId, runId: d.runId, startTime: d.startTime, typedSearchAttributes: d.typedSearchAttributes, status: d.status.name };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/** "billing-run:<subscription>:<periodStart>" → the period's first day, for runs without an invoice yet. */
function periodFromId(workflowId: string): string {
  const start = workflowId.split(':').slice(2).join(':');
  const date = new Date(start);
  return Number.isNaN(date.getTime()) ? '—' : `from ${day(date)}`;
}

async function runningPhase(context: AppLoadContext, e: Execution, invoiceStatus: string | undefined): Promise<string> {
  try {
    const state = await context.temporal.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => context.temporal.workflow.getHandle(e.workflowId, e.runId).query(billingRunStateQuery));
    return state.status.replace(/_/g, ' ');
  } catch {
    // No worker answered in time (deploying, overloaded): say so rather than fail the page.
    return invoiceStatus ? `${invoiceStatus} (last known: the run did not answer)` : 'unknown: the run did not answer';
  }
}

const EventType = temporal.api.enums.v1.EventType;

/** The messages down a failure's cause chain: "Activity task failed: Stripe refused …". */
function failureText(failure: temporal.api.failure.v1.IFailure | null | undefined): string {
  const parts: string[] = [];
  for (let f = failure; f && parts.length < 5; f = f.cause) if (f.message) parts.push(f.message);
  return parts.join(': ') || 'failed (no message)';
}

/** Why the run ended, from its close event (the one history event fetched). */
async function failureReason(context: AppLoadContext, e: Execution): Promise<string> {
  try {
    const response = await context.temporal.workflowService.getWorkflowExecutionHistory({
      namespace: context.temporalNamespace,
      execution: { workflowId: e.workflowId, runId: e.runId },
      historyEventFilterType: temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
    });
    const event = response.history?.events?.[0];
    switch (event?.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        return failureText(event.workflowExecutionFailedEventAttributes?.failure);
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: {
        const a = event.workflowExecutionTerminatedEventAttributes;
        return `Terminated${a?.identity ? ` by ${a.identity}` : ''}: ${a?.reason || 'no reason given'}`;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        return 'Timed out: the run exceeded its execution timeout.';
      default:
        return 'No close event found.';
    }
  } catch (err) {
    return `The reason could not be read (${(err as Error).message}).`;
  }
}

export type RetryOutcome = { ok: boolean; message: string; workflowId?: string; temporalUrl?: string };

/** Whether the run belongs to the organization: its id names the subscription (or the leak finding) it bills. */
async function ownsRun(context: AppLoadContext, organizationId: string, workflowId: string): Promise<boolean> {
  const [kind, id] = workflowId.split(':');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id)) return false;
  if (kind === 'billing-run') return (await context.prisma.subscription.count({ where: { id, organizationId } })) > 0;
  if (kind === 'recovery-run') return (await context.prisma.leakFinding.count({ where: { id, organizationId } })) > 0;
  return false;
}

/**
 * Retries a failed billing run from the runs page, once its cause is fixed
 * (a plan's price corrected, a currency set): the run starts over from its
 * first step and resumes where its invoice stands, so nothing is billed twice.
 * The audit log names who retried it, and the run it replaced.
 */
export async function retryRunFromWeb(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<RetryOutcome> {
  const workflowId = String(form.get('workflow') ?? '');
  if (!(await ownsRun(context, user.organizationId, workflowId))) return { ok: false, message: `No billing run ${workflowId || '(none given)'} in this organization.` };
  try {
    const { failedRunId, runId } = await retryFailedBillingRun(context.temporal, workflowId, `retried by ${user.email} from the billing runs page`);
    await writeAudit(context.prisma, {
      organizationId: user.organizationId,
      actor: { type: 'user', id: user.email },
      action: 'billing_run.retried',
      entityType: 'billing_run',
      entityId: workflowId,
      before: { runId: failedRunId },
      after: { runId },
    });
    return { ok: true, message: `Retrying ${workflowId}: it starts over from its first step; its status appears below.`, workflowId, temporalUrl: temporalUiLink(context, workflowId) };
  } catch (err) {
    if (err instanceof BillingRunNotRetryableError || err instanceof WorkflowNotFoundError) return { ok: false, message: err.message };
    throw err;
  }
}

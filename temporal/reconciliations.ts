import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { StartedWorkflow } from './ingest';
import { TASK_QUEUE } from './names';

// Pure names and types first: workflow code imports them.
export const RECONCILE_WORKFLOW_TYPE = 'reconcile';

export interface ReconcileInput {
  organizationId: string;
  /** ISO instants; invoices whose period starts in [periodStart, periodEnd) are reconciled */
  periodStart: string;
  periodEnd: string;
}

export interface ReconcileResult {
  runId: string;
  findings: number;
  actioned: number;
}

/** `reconcile:<orgId>:<periodStart>` — the date names it, so a repeated start for the period is a no-op. */
export const reconcileWorkflowId = (organizationId: string, periodStart: Date | string): string =>
  `reconcile:${organizationId}:${(typeof periodStart === 'string' ? new Date(periodStart) : periodStart).toISOString().slice(0, 10)}`;

/**
 * Starts the period's reconciliation unless one with its id is running. A
 * finished one is run again only with `rerunFinished` (the end of each
 * billing run: another subscription's invoice for the period may have closed
 * since); findings are upserts and actions keyed, so a re-run only adds
 * what is new. The API's repeat of a finished one is a no-op.
 */
export async function startReconcileWorkflow(client: Client, input: ReconcileInput, options: { taskQueue?: string; rerunFinished?: boolean } = {}): Promise<StartedWorkflow> {
  const workflowId = reconcileWorkflowId(input.organizationId, input.periodStart);
  try {
    const handle = await client.workflow.start(RECONCILE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: options.taskQueue ?? TASK_QUEUE,
      args: [input],
      workflowIdReusePolicy: options.rerunFinished ? WorkflowIdReusePolicy.ALLOW_DUPLICATE : WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
    return { workflowId, runId: handle.firstExecutionRunId, alreadyStarted: false };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, runId: null, alreadyStarted: true };
    throw err;
  }
}

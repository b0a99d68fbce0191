import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { formatDay } from '../billing/calendar';
import { BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from './billing-messages';
import type { StartedWorkflow } from './ingest';
import { TASK_QUEUE } from './names';
import { BillingPeriod, OrganizationId, SubscriptionId } from './search-attribute-keys';
import { billingRunWorkflowId, recoveryRunWorkflowId, reissueRunWorkflowId } from './workflow-ids';

/**
 * Starts `billing-run:<subscriptionId>:<periodStart>` (or, for a recovery
 * invoice, `recovery-run:<findingId>`, and for a re-issue
 * `billing-run:<subscriptionId>:<periodStart>:reissue:<invoiceId>`). The id is deterministic and a run
 * that ended keeps it (REJECT_DUPLICATE), so a repeated start (a retried
 * activity, a reset subscription run or reconciliation) is a no-op rather
 * than a second run of the period; a failed run is retried by a reset
 * (retryFailedBillingRun), which continues the same workflow.
 */
export async function startBillingRunWorkflow(
  client: Client,
  input: BillingRunInput,
  options: { taskQueue?: string; searchAttributes?: boolean } = {},
): Promise<StartedWorkflow> {
  const workflowId = input.recovery
    ? recoveryRunWorkflowId(input.recovery.findingId)
    : input.reissue
      ? reissueRunWorkflowId(input.subscriptionId, input.periodStart, input.reissue.of)
      : billingRunWorkflowId(input.subscriptionId, input.periodStart);
  try {
    const handle = await client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: options.taskQueue ?? TASK_QUEUE,
      args: [input],
      // A re-issue that failed (Stripe refused the void) may be asked for again once its cause is fixed.
      workflowIdReusePolicy: input.reissue ? WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY : WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes:
        options.searchAttributes === false
          ? []
          : [
              { key: OrganizationId, value: input.organizationId },
              { key: SubscriptionId, value: input.subscriptionId },
              { key: BillingPeriod, value: `${formatDay(new Date(input.periodStart))}/${formatDay(new Date(input.periodEnd))}` },
            ],
    });
    return { workflowId, runId: handle.firstExecutionRunId, alreadyStarted: false };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, runId: null, alreadyStarted: true };
    throw err;
  }
}

/** Ended runs a retry may start again: a step failed for good, or the run ran out of time. Terminated runs were stopped on purpose. */
export const RETRYABLE_RUN_STATUSES: ReadonlySet<string> = new Set(['FAILED', 'TIMED_OUT']);

export class BillingRunNotRetryableError extends Error {}

/**
 * Retries a billing run that failed (a step failed for good, its cause since
 * fixed): the run is reset to its first workflow task, as "Reset" in the
 * Temporal UI does, and starts over as a new run of the same workflow id.
 * Every step converges when repeated and the run resumes from where the
 * invoice stands in the database, so nothing done before is done twice
 * (test/billing-run-failures.test.ts). Returns the new run's id.
 */
export async function retryFailedBillingRun(client: Client, workflowId: string, reason: string): Promise<{ failedRunId: string; runId: string }> {
  const handle = client.workflow.getHandle(workflowId);
  const described = await handle.describe();
  if (!RETRYABLE_RUN_STATUSES.has(described.status.name)) {
    throw new BillingRunNotRetryableError(`billing run ${workflowId} is ${described.status.name.toLowerCase().replace(/_/g, ' ')}; only a failed or timed-out run is retried`);
  }
  const history = await client.workflow.getHandle(workflowId, described.runId).fetchHistory();
  const firstTask = history.events?.find((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  if (!firstTask?.eventId) throw new BillingRunNotRetryableError(`billing run ${workflowId} never completed a workflow task; start it again instead`);
  const response = await client.workflowService.resetWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId, runId: described.runId },
    reason,
    workflowTaskFinishEventId: Long.fromValue(firstTask.eventId),
    requestId: randomUUID(),
  });
  return { failedRunId: described.runId, runId: response.runId ?? '' };
}

import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { formatDay } from '../billing/calendar';
import { BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from './billing-messages';
import type { StartedWorkflow } from './ingest';
import { TASK_QUEUE } from './names';
import { BillingPeriod, OrganizationId, SubscriptionId } from './search-attribute-keys';
import { billingRunWorkflowId, recoveryRunWorkflowId } from './workflow-ids';

/**
 * Starts `billing-run:<subscriptionId>:<periodStart>` (or, for a recovery
 * invoice, `recovery-run:<findingId>`). The id is deterministic, so a
 * repeated start (a retried activity, a reset subscription run or
 * reconciliation) is a no-op rather than a second run.
 */
export async function startBillingRunWorkflow(
  client: Client,
  input: BillingRunInput,
  options: { taskQueue?: string; searchAttributes?: boolean } = {},
): Promise<StartedWorkflow> {
  const workflowId = input.recovery ? recoveryRunWorkflowId(input.recovery.findingId) : billingRunWorkflowId(input.subscriptionId, input.periodStart);
  try {
    const handle = await client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: options.taskQueue ?? TASK_QUEUE,
      args: [input],
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

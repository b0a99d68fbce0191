import { ApplicationFailure } from '@temporalio/activity';
import type { BillingRunInput } from '../../temporal/billing-messages';
import { startBillingRunWorkflow } from '../../temporal/billing-runs';
import type { StartedWorkflow } from '../../temporal/ingest';
import type { ActivityDeps } from '../deps';

/**
 * Starts a period's billing run from the subscription workflow. An activity
 * rather than a child workflow: the run outlives the period's subscription
 * run (approval and collection take days while the subscription continues as
 * new), so there is no parent to tie it to; and Temporal's time-skipping test
 * server stops skipping time once a parent that continues as new has started
 * children (temporalio/sdk-java#1540, sdk-typescript#1101), which would leave
 * the month-long tests unable to run. The deterministic id keeps it exactly-once.
 */
export function startBillingRun({ temporal, taskQueue, searchAttributes }: ActivityDeps) {
  return async function startBillingRun(input: BillingRunInput): Promise<StartedWorkflow> {
    if (!temporal) throw ApplicationFailure.nonRetryable('startBillingRun needs a Temporal client in the activity dependencies', 'NotConfigured');
    return startBillingRunWorkflow(temporal, input, { taskQueue, ...(searchAttributes === false ? { searchAttributes } : {}) });
  };
}

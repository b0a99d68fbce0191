import { ApplicationFailure } from '@temporalio/activity';
import type { StartedWorkflow } from '../../temporal/ingest';
import { startReconcileWorkflow, type ReconcileInput } from '../../temporal/reconciliations';
import type { ActivityDeps } from '../deps';

/**
 * Starts (or re-runs, when finished) the period's reconciliation from the end
 * of a billing run. An activity, not a child workflow, for the reason
 * startBillingRun gives: the reconciliation belongs to the organization's
 * period, not to one subscription's run. A reconciliation already running is
 * left alone.
 */
export function requestReconciliation({ temporal, taskQueue }: ActivityDeps) {
  return async function requestReconciliation(input: ReconcileInput): Promise<StartedWorkflow> {
    if (!temporal) throw ApplicationFailure.nonRetryable('requestReconciliation needs a Temporal client in the activity dependencies', 'NotConfigured');
    return startReconcileWorkflow(temporal, input, { taskQueue, rerunFinished: true });
  };
}

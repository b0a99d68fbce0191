import { patched, proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { EvaluateMarginAlertsResult, LedgerflowActivities } from '../activities';
import { marginEvaluationsTaskQueue } from '../temporal/workflow-ids';
import { now } from './clock';

const EVALUATION: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
};

/** Evaluates on the margin task queue; runs started before it evaluate on the worker's own, where a burst of them held its activity slots. */
export const MARGIN_QUEUE_PATCH = 'margin-evaluations-own-queue';

/** From an evaluation's scheduling on the margin queue to its end, every attempt included. */
export const MARGIN_EVALUATION_DEADLINE = '1 hour';

const notify = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 4 },
});

export interface MarginWatchInput {
  organizationId: string;
  /** evaluate as of this instant (ISO) instead of the workflow's clock; for replays of a past hour */
  asOf?: string;
}

/**
 * One look at an organization's margins, started by its Temporal Schedule
 * margin-watch:<orgId>: raise, worsen and resolve margin alerts (one
 * transaction, audited), then deliver what that put in the outbox. A channel
 * that is down leaves the messages in the outbox for the next run; the
 * alerts themselves are already recorded. The evaluation runs on the margin
 * task queue (temporal/workflow-ids.ts), a few at a time per worker process.
 */
export async function marginWatch(input: MarginWatchInput): Promise<EvaluateMarginAlertsResult> {
  const asOf = input.asOf ?? new Date(now()).toISOString();
  const db = proxyActivities<LedgerflowActivities>(
    patched(MARGIN_QUEUE_PATCH)
      ? // Waiting for a turn included: a queue no worker polls (a rollback to code before it) ends the watch instead of holding it, and with it the schedule's next ones, for ever.
        { ...EVALUATION, taskQueue: marginEvaluationsTaskQueue(workflowInfo().taskQueue), scheduleToCloseTimeout: MARGIN_EVALUATION_DEADLINE }
      : EVALUATION,
  );
  const result = await db.evaluateMarginAlerts({ organizationId: input.organizationId, asOf });
  try {
    await notify.deliverNotifications({ organizationId: input.organizationId });
  } catch {
    // Delivery failures never fail the watch: the next run delivers what is left.
  }
  return result;
}

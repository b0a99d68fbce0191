import { proxyActivities } from '@temporalio/workflow';
import type { EvaluateMarginAlertsResult, LedgerflowActivities } from '../activities';
import { now } from './clock';

const db = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

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
 * alerts themselves are already recorded.
 */
export async function marginWatch(input: MarginWatchInput): Promise<EvaluateMarginAlertsResult> {
  const asOf = input.asOf ?? new Date(now()).toISOString();
  const result = await db.evaluateMarginAlerts({ organizationId: input.organizationId, asOf });
  try {
    await notify.deliverNotifications({ organizationId: input.organizationId });
  } catch {
    // Delivery failures never fail the watch: the next run delivers what is left.
  }
  return result;
}

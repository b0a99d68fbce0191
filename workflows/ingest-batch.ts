import { ActivityFailure, log, proxyActivities } from '@temporalio/workflow';
import type { LedgerflowActivities } from '../activities';
import type { IngestBatchInput } from '../temporal/ingest';

/**
 * Database activities: every one is idempotent, so retrying is always safe,
 * and a batch must not be dropped because PostgreSQL was briefly away —
 * hence no attempt limit. Backoff from 1 s to 1 min keeps a long outage from
 * hammering the database; ops see the pending attempts in the Temporal UI.
 * Two minutes per attempt covers a 1,000-event batch with room to spare.
 */
const db = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * Delivery goes to an outside channel. A few spaced attempts ride out a
 * flaky channel; after that the notification stays in the outbox (undelivered)
 * and the next batch of the organization tries again, rather than holding this
 * batch back from `processed`.
 */
const notify = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 4 },
});

export interface IngestBatchResult {
  customersCreated: number;
  eventsRated: number;
  eventsIncomplete: number;
  notificationsCreated: number;
}

/** `ingest:<batchId>`: link customers → rate events → check quotas (→ deliver alerts) → mark processed. */
export async function ingestBatch(input: IngestBatchInput): Promise<IngestBatchResult> {
  const linked = await db.linkCustomers(input);
  const rated = await db.rateEvents(input);
  const quotas = await db.checkQuotas(input);
  if (quotas.notificationsPending > 0) {
    try {
      await notify.deliverNotifications({ organizationId: input.organizationId });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      log.warn('notification delivery failed; they stay queued for the next batch', { error: err.message });
    }
  }
  await db.markBatchProcessed(input);
  return {
    customersCreated: linked.customersCreated,
    eventsRated: rated.eventsRated,
    eventsIncomplete: rated.eventsIncomplete,
    notificationsCreated: quotas.notificationsCreated,
  };
}

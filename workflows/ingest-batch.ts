import { ActivityFailure, log, patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { LedgerflowActivities } from '../activities';
import type { IngestBatchInput } from '../temporal/ingest';

/**
 * Database activities: every one is idempotent, so retrying is always safe,
 * and a batch must not be dropped because PostgreSQL was briefly away —
 * hence no attempt limit. Backoff from 1 s to 1 min keeps a long outage from
 * hammering the database; ops see the pending attempts in the Temporal UI.
 * Two minutes per attempt covers a 1,000-event batch with room to spare.
 */
const DB_RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' } as const;
const db = proxyActivities<LedgerflowActivities>({ startToCloseTimeout: '2 minutes', retry: DB_RETRY });

/**
 * The same activities as local activities: they run in the worker that runs
 * the workflow, recorded as markers, without a round trip through the Temporal
 * server per step. For short database steps that is most of a batch's cost
 * (the server persisted ~11 transitions per batch, now ~3). Retries keep the
 * same policy; past a minute of backoff the SDK waits on a durable timer.
 */
const localDb = proxyLocalActivities<LedgerflowActivities>({ startToCloseTimeout: '2 minutes', retry: DB_RETRY });

/** Runs before 2026-11-22 used remote activities; their histories keep replaying. */
export const LOCAL_INGEST_ACTIVITIES_PATCH = 'ingest-local-activities';

/**
 * Since 2026-12-02 a batch is one local activity and one transaction
 * (processBatch); runs started before schedule the four steps one by one.
 */
export const ONE_TRANSACTION_PATCH = 'ingest-one-transaction';

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

/**
 * `ingest:<batchId>`, one per processing batch (up to 1,000 events of one
 * organization, formed by the worker's batcher): link customers → rate events
 * → count quotas → mark processed, in one transaction (→ deliver alerts).
 */
export async function ingestBatch(input: IngestBatchInput): Promise<IngestBatchResult> {
  if (patched(ONE_TRANSACTION_PATCH)) {
    const processed = await localDb.processBatch(input);
    if (processed.notificationsPending > 0) await deliverAlerts(input.organizationId);
    return {
      customersCreated: processed.customersCreated,
      eventsRated: processed.eventsRated,
      eventsIncomplete: processed.eventsIncomplete,
      notificationsCreated: processed.notificationsCreated,
    };
  }
  const steps = patched(LOCAL_INGEST_ACTIVITIES_PATCH) ? localDb : db;
  const linked = await steps.linkCustomers(input);
  const rated = await steps.rateEvents(input);
  const quotas = await steps.checkQuotas(input);
  if (quotas.notificationsPending > 0) await deliverAlerts(input.organizationId);
  await steps.markBatchProcessed(input);
  return {
    customersCreated: linked.customersCreated,
    eventsRated: rated.eventsRated,
    eventsIncomplete: rated.eventsIncomplete,
    notificationsCreated: quotas.notificationsCreated,
  };
}

/** Best effort: a channel that keeps failing leaves the notifications queued for the organization's next batch. */
async function deliverAlerts(organizationId: string): Promise<void> {
  try {
    await notify.deliverNotifications({ organizationId });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    log.warn('notification delivery failed; they stay queued for the next batch', { error: err.message });
  }
}

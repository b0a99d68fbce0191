import type { ActivityDeps } from './deps';
import { checkQuotas } from './check-quotas';
import { deliverNotifications } from './deliver-notifications';
import { linkCustomers } from './link-customers';
import { markBatchProcessed } from './mark-batch-processed';
import { rateEvents } from './rate-events';
import { findOrphanBatches, startOrphanBatch } from './sweeper';

export type { ActivityDeps } from './deps';
export type { Notifier, OutgoingNotification } from './notifier';
export { createLogNotifier } from './notifier';
export type { LinkCustomersResult } from './link-customers';
export type { RateEventsResult } from './rate-events';
export type { CheckQuotasResult } from './check-quotas';
export type { DeliverNotificationsInput } from './deliver-notifications';
export type { FindOrphanBatchesInput, StartOrphanBatchResult } from './sweeper';

/** Every activity the worker registers, bound to its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    linkCustomers: linkCustomers(deps),
    rateEvents: rateEvents(deps),
    checkQuotas: checkQuotas(deps),
    deliverNotifications: deliverNotifications(deps),
    markBatchProcessed: markBatchProcessed(deps),
    findOrphanBatches: findOrphanBatches(deps),
    startOrphanBatch: startOrphanBatch(deps),
  };
}

export type LedgerflowActivities = ReturnType<typeof createActivities>;

// Pure (no process or I/O): workflow code imports these too.
/** One long-lived workflow per subscription; it continues as new each period. */
export const subscriptionWorkflowId = (subscriptionId: string): string => `subscription:${subscriptionId}`;

/** A period's billing run; periods start at UTC midnight, so the date names it. */
export const billingRunWorkflowId = (subscriptionId: string, periodStart: Date | string): string =>
  `billing-run:${subscriptionId}:${(typeof periodStart === 'string' ? new Date(periodStart) : periodStart).toISOString().slice(0, 10)}`;

/** A re-issue of a period's invoice after its billing run ended: one per invoice re-issued, so asking twice starts one run. */
export const reissueRunWorkflowId = (subscriptionId: string, periodStart: Date | string, invoiceId: string): string => `${billingRunWorkflowId(subscriptionId, periodStart)}:reissue:${invoiceId}`;

/** The billing run of a recovery invoice: one per revenue-leak finding. */
export const recoveryRunWorkflowId = (findingId: string): string => `recovery-run:${findingId}`;

/** One round of attempts of an outbound webhook delivery; a redelivery is the next round. */
export const webhookDeliveryWorkflowId = (deliveryId: string, round: number): string => `webhook-delivery:${deliveryId}:${round}`;

const MARGIN_QUEUE_SUFFIX = '-margins';

/**
 * The task queue the margin watch's evaluations run on, beside the worker's own: each worker process polls it for
 * at most MARGIN_EVALUATIONS_AT_ONCE at a time (worker/create-worker.ts), so the evaluations a burst of watches
 * starts wait in Temporal, holding no worker slot, instead of inside the worker or for its database pool.
 */
export const marginEvaluationsTaskQueue = (taskQueue: string): string => `${taskQueue}${MARGIN_QUEUE_SUFFIX}`;
export const isMarginEvaluationsTaskQueue = (name: string): boolean => name.endsWith(MARGIN_QUEUE_SUFFIX);

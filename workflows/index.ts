// Workflow code only: deterministic orchestration. Activities are referenced
// by type; the worker registers their implementations.
export { ingestBatch, type IngestBatchResult } from './ingest-batch';
export { sweepOrphanBatches, type SweepOrphanBatchesResult } from './sweep-orphan-batches';
export { subscriptionLifecycle } from './subscription';
export { billingRun } from './billing-run';
export { reconcile } from './reconcile';
export { marginWatch, type MarginWatchInput } from './margin-watch';
export { creditNote } from './credit-note';
export { linkStripeCustomer } from './link-stripe-customer';
export { createPaymentSetup } from './payment-setup';
export { webhookDelivery, type WebhookDeliveryInput, type WebhookDeliveryResult } from './webhook-delivery';
export { creditGrantExpiry } from './credit-expiry';
export { creditReservationExpiry } from './credit-reservation';
export { creditTopUp } from './credit-top-up';

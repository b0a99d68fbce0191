import type { ActivityDeps } from './deps';
import { deliverNotifications } from './deliver-notifications';
import { checkQuotas, linkCustomers, markBatchProcessed, processBatch, rateEvents } from './ingest-batch';
import { ensureMarginWatches, findOrphanBatches, startOrphanBatch, startOrphanSubscriptions, startOrphanTopUps, startOverdueHoldTimers } from './sweeper';
import { closePeriod } from './billing/close-period';
import { adjustInvoice, queueNotification, readInvoiceState, recordDecision, settleZeroInvoice, writeOffInvoice } from './billing/decisions';
import { snapshotUsage } from './billing/snapshots';
import { startBillingRun } from './billing/start-billing-run';
import { applyCancel, applyPlanChange, endSubscription, loadSubscription } from './billing/subscription-changes';
import { grantPeriodCredits } from './period-credits';
import { collectPayment } from './stripe/collect-payment';
import { failCreditNote, issueCreditNoteInStripe, recordCreditNote } from './stripe/credit-notes';
import { finalizeInvoiceInStripe } from './stripe/finalize-invoice';
import { linkStripeCustomer } from './stripe/link-customer';
import { createPaymentSetupSession } from './stripe/payment-setup';
import { markInvoicePaid } from './stripe/mark-paid';
import { markInvoiceUncollectible } from './stripe/mark-uncollectible';
import { voidInvoiceInStripe } from './stripe/void-invoice';
import { reconcileActivities } from './reconcile';
import { evaluateMarginAlerts } from './margins/evaluate-alerts';
import { failingFastOnBadData } from './domain-failures';
import { attemptWebhookDelivery } from './webhooks/deliver';
import { expireCreditGrant, expireCreditReservation } from './credits';
import { chargeTopUp, closeFailedTopUpInvoice, failCreditTopUp, grantPaidTopUp } from './credit-top-ups';

export type { ActivityDeps } from './deps';
export type { Notifier, OutgoingNotification } from './notifier';
export { createLogNotifier } from './notifier';
export type { CheckQuotasResult, ProcessBatchResult, RateEventsResult } from './ingest-batch';
export type { DeliverNotificationsInput } from './deliver-notifications';
export type { FindOrphanBatchesInput, StartOrphanBatchResult } from './sweeper';
export type { ClosedPeriod } from './billing/close-period';
export type { InvoiceSnapshot } from './billing/decisions';
export type { SubscriptionSchedule, ChangeOutcome } from './billing/subscription-changes';
export type { CollectPaymentResult } from './stripe/collect-payment';
export type { CreditNoteView } from './stripe/credit-notes';
export type { EvaluateMarginAlertsInput, EvaluateMarginAlertsResult } from './margins/evaluate-alerts';
export type { WebhookAttemptInput, WebhookAttemptOutcome } from './webhooks/deliver';

/**
 * Every activity the worker registers, bound to its dependencies; bad data
 * fails them for good rather than being retried (activities/domain-failures.ts).
 */
export function createActivities(deps: ActivityDeps) {
  return failingFastOnBadData({
    processBatch: processBatch(deps),
    linkCustomers: linkCustomers(deps),
    rateEvents: rateEvents(deps),
    checkQuotas: checkQuotas(deps),
    deliverNotifications: deliverNotifications(deps),
    markBatchProcessed: markBatchProcessed(deps),
    findOrphanBatches: findOrphanBatches(deps),
    startOrphanBatch: startOrphanBatch(deps),
    startOrphanSubscriptions: startOrphanSubscriptions(deps),
    ensureMarginWatches: ensureMarginWatches(deps),
    startOrphanTopUps: startOrphanTopUps(deps),
    startOverdueHoldTimers: startOverdueHoldTimers(deps),
    // subscriptions and billing runs
    loadSubscription: loadSubscription(deps),
    grantPeriodCredits: grantPeriodCredits(deps),
    applyPlanChange: applyPlanChange(deps),
    applyCancel: applyCancel(deps),
    endSubscription: endSubscription(deps),
    snapshotUsage: snapshotUsage(deps),
    startBillingRun: startBillingRun(deps),
    closePeriod: closePeriod(deps),
    expireCreditGrant: expireCreditGrant(deps),
    expireCreditReservation: expireCreditReservation(deps),
    chargeTopUp: chargeTopUp(deps),
    closeFailedTopUpInvoice: closeFailedTopUpInvoice(deps),
    grantPaidTopUp: grantPaidTopUp(deps),
    failCreditTopUp: failCreditTopUp(deps),
    readInvoiceState: readInvoiceState(deps),
    recordDecision: recordDecision(deps),
    writeOffInvoice: writeOffInvoice(deps),
    adjustInvoice: adjustInvoice(deps),
    settleZeroInvoice: settleZeroInvoice(deps),
    queueNotification: queueNotification(deps),
    // Stripe
    finalizeInvoiceInStripe: finalizeInvoiceInStripe(deps),
    linkStripeCustomer: linkStripeCustomer(deps),
    createPaymentSetupSession: createPaymentSetupSession(deps),
    collectPayment: collectPayment(deps),
    markInvoicePaid: markInvoicePaid(deps),
    markInvoiceUncollectible: markInvoiceUncollectible(deps),
    voidInvoiceInStripe: voidInvoiceInStripe(deps),
    // credit notes (workflows/credit-note.ts)
    recordCreditNote: recordCreditNote(deps),
    issueCreditNoteInStripe: issueCreditNoteInStripe(deps),
    failCreditNote: failCreditNote(deps),
    // leak detection and recovery (workflows/reconcile.ts)
    ...reconcileActivities(deps),
    // margin alerts (workflows/margin-watch.ts)
    evaluateMarginAlerts: evaluateMarginAlerts(deps),
    // outbound webhooks (workflows/webhook-delivery.ts)
    attemptWebhookDelivery: attemptWebhookDelivery(deps),
  });
}

export type LedgerflowActivities = ReturnType<typeof createActivities>;

import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import { writeAudit } from '../../prisma/audit';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor, workflowClock } from '../workflow-actor';
import { asActivityError, requireStripe } from './errors';
import { findInvoice, recordInvoicePaid } from './invoice-records';
import { stripeInvoiceStatus } from './stripe-invoice-status';

export interface CollectPaymentInput {
  organizationId: string;
  invoiceId: string;
  /** 1 for the first try; the workflow's retry schedule counts up */
  attempt: number;
}

export type CollectPaymentResult = { outcome: 'paid' } | { outcome: 'declined'; declineCode: string; message: string };

/**
 * Charges a finalized invoice through Stripe. A declined card is a business
 * outcome, returned for the workflow's retry schedule (days apart); only
 * faults (network, 5xx, rate limits) are thrown for Temporal to retry. The
 * idempotency key holds the attempt number: a retried activity repeats the
 * same charge request, the next scheduled attempt makes a new one.
 */
export function collectPayment(deps: ActivityDeps) {
  return async function collectPayment({ organizationId, invoiceId, attempt }: CollectPaymentInput): Promise<CollectPaymentResult> {
    const stripe = await requireStripe(deps, organizationId);
    const { prisma } = deps;
    const actor = workflowActor();
    const invoice = await findInvoice(prisma, organizationId, invoiceId);
    if (invoice.status === 'paid') return { outcome: 'paid' };
    if (invoice.status !== 'finalized' || !invoice.stripeInvoiceId) {
      throw ApplicationFailure.nonRetryable(`invoice ${invoiceId} is ${invoice.status}; only a finalized invoice is collected`, 'InvoiceNotFinalized');
    }
    if (invoice.collectionMethod === 'send_invoice') {
      // Sent to pay by its due date (no card on file, or the organization's setting): never charged.
      throw ApplicationFailure.nonRetryable(`invoice ${invoiceId} was sent to the customer to pay by its due date; it is not charged`, 'InvoiceSentNotCharged');
    }
    const stripeInvoiceId = invoice.stripeInvoiceId;

    let paid: boolean;
    try {
      const result = await stripe.invoices.pay(stripeInvoiceId, {}, { idempotencyKey: `ledgerflow-pay-${invoiceId}-${attempt}` });
      paid = result.status === 'paid';
    } catch (err) {
      if (err instanceof Stripe.errors.StripeCardError) {
        return recordDecline(err.decline_code ?? err.code ?? 'card_declined', err.message);
      }
      // Stripe refuses to pay an invoice that is paid already (e.g. out of band, or our earlier attempt's response was lost).
      if (err instanceof Stripe.errors.StripeInvalidRequestError && (await stripeInvoiceStatus(stripe, stripeInvoiceId)) === 'paid') {
        paid = true;
      } else {
        throw asActivityError(err);
      }
    }
    if (!paid) {
      // Accepted but not settled (e.g. a payment that needs the customer's action): the schedule tries again.
      return recordDecline('payment_incomplete', 'Stripe accepted the payment request but the invoice is not paid yet');
    }
    await recordInvoicePaid(prisma, { organizationId, invoiceId, actor, from: ['finalized'], paymentAttempts: attempt, source: 'collection' });
    return { outcome: 'paid' };

    async function recordDecline(declineCode: string, message: string): Promise<CollectPaymentResult> {
      await prisma.$transaction(async (tx) => {
        // Once per attempt: a replayed attempt (same idempotency key, same decline) records nothing new.
        const { count } = await tx.invoice.updateMany({
          where: { id: invoiceId, organizationId, status: 'finalized', paymentAttempts: { lt: attempt } },
          data: { paymentAttempts: attempt },
        });
        if (count === 0) return;
        await writeAudit(tx, {
          organizationId,
          actor,
          action: 'invoice.payment_failed',
          entityType: 'invoice',
          entityId: invoiceId,
          before: { paymentAttempts: invoice.paymentAttempts },
          // on the workflow's clock: the retry schedule counts from the first decline
          after: { paymentAttempts: attempt, declineCode, message, stripeInvoiceId, declinedAt: workflowClock().toISOString() },
        });
      }, TX_OPTIONS);
      return { outcome: 'declined', declineCode, message };
    }
  };
}

import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import { writeAudit } from '../../prisma/audit';
import { emitInvoiceEvent } from '../../prisma/webhook-events';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor } from '../workflow-actor';
import { asActivityError, requireStripe } from './errors';
import { findInvoice, recordInvoicePaid } from './invoice-records';
import { stripeInvoiceStatus } from './stripe-invoice-status';

export interface MarkInvoiceUncollectibleInput {
  organizationId: string;
  invoiceId: string;
}

/**
 * Writes the invoice off after the last failed collection, in Stripe and
 * here. If the customer paid in the meantime (Stripe refuses to write off a
 * paid invoice), the payment is recorded instead and `status` says 'paid'.
 * Idempotent.
 */
export function markInvoiceUncollectible(deps: ActivityDeps) {
  return async function markInvoiceUncollectible({ organizationId, invoiceId }: MarkInvoiceUncollectibleInput): Promise<{ status: 'uncollectible' | 'paid' }> {
    const stripe = await requireStripe(deps, organizationId);
    const { prisma } = deps;
    const actor = workflowActor();
    const invoice = await findInvoice(prisma, organizationId, invoiceId);
    if (invoice.status === 'uncollectible' || invoice.status === 'paid') return { status: invoice.status };
    if (invoice.status !== 'finalized' || !invoice.stripeInvoiceId) {
      throw ApplicationFailure.nonRetryable(`invoice ${invoiceId} is ${invoice.status}; only a finalized invoice is written off`, 'InvoiceNotFinalized');
    }
    const stripeInvoiceId = invoice.stripeInvoiceId;

    try {
      await stripe.invoices.markUncollectible(stripeInvoiceId, {}, { idempotencyKey: `ledgerflow-uncollectible-${invoiceId}` });
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw asActivityError(err);
      const inStripe = await stripeInvoiceStatus(stripe, stripeInvoiceId);
      if (inStripe === 'paid') {
        await recordInvoicePaid(prisma, { organizationId, invoiceId, actor, from: ['finalized'], source: 'stripe' });
        return { status: 'paid' };
      }
      if (inStripe !== 'uncollectible') throw asActivityError(err);
    }

    return prisma.$transaction(async (tx) => {
      const uncollectibleAt = new Date();
      const { count } = await tx.invoice.updateMany({
        where: { id: invoiceId, organizationId, status: 'finalized' },
        data: { status: 'uncollectible', uncollectibleAt },
      });
      // A webhook may have recorded a payment meanwhile: report what the invoice is now.
      if (count === 0) {
        const now = await tx.invoice.findFirstOrThrow({ where: { id: invoiceId, organizationId }, select: { status: true } });
        return { status: now.status === 'paid' ? 'paid' : 'uncollectible' };
      }
      await emitInvoiceEvent(tx, organizationId, invoiceId, 'invoice.uncollectible');
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'invoice.uncollectible',
        entityType: 'invoice',
        entityId: invoiceId,
        before: { status: 'finalized', paymentAttempts: invoice.paymentAttempts },
        after: { status: 'uncollectible', uncollectibleAt: uncollectibleAt.toISOString(), stripeInvoiceId },
      });
      return { status: 'uncollectible' };
    }, TX_OPTIONS);
  };
}

import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import { formatMoney } from '../../billing/currency';
import { dec } from '../../billing/decimal';
import { deciderActor, writeAudit } from '../../prisma/audit';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor } from '../workflow-actor';
import { asActivityError, requireStripe } from './errors';
import { findInvoice } from './invoice-records';
import { stripeInvoiceStatus } from './stripe-invoice-status';

export interface VoidInvoiceInput {
  organizationId: string;
  invoiceId: string;
  /** who voids it, and why (kept on the invoice and in the audit row) */
  by: string;
  reason: string;
}

/**
 * Voids a finalized, unpaid invoice (open, or uncollectible after its retry
 * schedule) in Stripe (idempotency key from our id) and here. An invoice Stripe already voided is voided here too; one Stripe
 * says is paid fails for good (a paid invoice is credited with a credit
 * note). Idempotent.
 */
export function voidInvoiceInStripe(deps: ActivityDeps) {
  return async function voidInvoiceInStripe(input: VoidInvoiceInput): Promise<{ status: 'void' }> {
    const { prisma } = deps;
    const invoice = await findInvoice(prisma, input.organizationId, input.invoiceId);
    if (invoice.status === 'void') return { status: 'void' };
    const before = invoice.status;
    if ((before !== 'finalized' && before !== 'uncollectible') || !invoice.stripeInvoiceId) {
      throw ApplicationFailure.nonRetryable(`invoice ${input.invoiceId} is ${before}; only a finalized invoice not yet paid (open or uncollectible) can be voided`, 'InvalidState');
    }
    // Credit notes on it were meant to settle it in part: a void would undo them out of sight. Credit the rest instead.
    const notes = await prisma.creditNote.count({ where: { invoiceId: invoice.id, status: { in: ['pending', 'issued'] } } });
    if (notes > 0) throw ApplicationFailure.nonRetryable(`invoice ${input.invoiceId} has credit notes; it is not voided (credit what is left with a credit note instead)`, 'InvoiceCredited');
    const stripe = await requireStripe(deps, input.organizationId);
    try {
      await stripe.invoices.voidInvoice(invoice.stripeInvoiceId, {}, { idempotencyKey: `ledgerflow-void-${input.invoiceId}` });
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw asActivityError(err);
      const inStripe = await stripeInvoiceStatus(stripe, invoice.stripeInvoiceId);
      if (inStripe === 'paid') throw ApplicationFailure.nonRetryable(`invoice ${input.invoiceId} is paid in Stripe; credit it with a credit note instead`, 'InvoicePaid');
      if (inStripe !== 'void') throw asActivityError(err);
    }
    return prisma.$transaction(async (tx) => {
      const voidedAt = new Date();
      const { count } = await tx.invoice.updateMany({
        where: { id: invoice.id, organizationId: input.organizationId, status: before },
        data: { status: 'void', voidedAt, voidedBy: input.by, voidReason: input.reason },
      });
      if (count === 0) {
        const now = await tx.invoice.findFirstOrThrow({ where: { id: invoice.id }, select: { status: true } });
        if (now.status === 'void') return { status: 'void' as const };
        throw ApplicationFailure.nonRetryable(`invoice ${input.invoiceId} became ${now.status} while it was voided in Stripe`, 'InvalidState');
      }
      const run = workflowActor();
      await writeAudit(tx, {
        organizationId: input.organizationId,
        actor: deciderActor(input.by),
        action: 'invoice.voided',
        entityType: 'invoice',
        entityId: invoice.id,
        before: { status: before, total: formatMoney(dec(invoice.total), invoice.currency), paymentAttempts: invoice.paymentAttempts },
        after: { status: 'void', by: input.by, reason: input.reason, stripeInvoiceId: invoice.stripeInvoiceId, workflowId: run.id, runId: run.type === 'workflow' ? run.runId : null },
      });
      return { status: 'void' as const };
    }, TX_OPTIONS);
  };
}

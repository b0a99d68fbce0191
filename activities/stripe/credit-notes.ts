import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import { CREDITABLE_STATUSES, creditNoteAmount, CreditNoteRefused } from '../../billing/credit-notes';
import { formatMoney, toStripeAmount } from '../../billing/currency';
import { dec, toPlainString } from '../../billing/decimal';
import { deciderActor, writeAudit } from '../../prisma/audit';
import { assignCreditNoteNumber } from '../../prisma/invoice-numbers';
import type { CreditNoteRequest } from '../../temporal/credit-note-messages';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor } from '../workflow-actor';
import { asActivityError, requireStripe } from './errors';

export interface CreditNoteView {
  creditNoteId: string;
  invoiceId: string;
  status: 'pending' | 'issued' | 'failed';
  number: string | null;
  /** decimal string at the currency's minor unit */
  amount: string;
  currency: string;
  failure: string | null;
}

const view = (n: { id: string; invoiceId: string; status: CreditNoteView['status']; number: string | null; amount: { toString(): string }; currency: string; failure: string | null }): CreditNoteView => ({
  creditNoteId: n.id,
  invoiceId: n.invoiceId,
  status: n.status,
  number: n.number,
  amount: formatMoney(dec(n.amount), n.currency),
  currency: n.currency,
  failure: n.failure,
});

/**
 * Writes the note as pending, after checking it against the invoice under a
 * row lock on it (concurrent notes take turns, so together they never credit
 * more than the total). A repeat of the same request returns the note
 * already written. Refusals (an invoice not finalized, an amount too large)
 * fail the workflow for good with the reason.
 */
export function recordCreditNote({ prisma }: ActivityDeps) {
  return async function recordCreditNote(input: CreditNoteRequest): Promise<CreditNoteView> {
    return prisma.$transaction(async (tx) => {
      const done = await tx.creditNote.findUnique({ where: { organizationId_requestKey: { organizationId: input.organizationId, requestKey: input.requestKey } } });
      if (done) return view(done);
      const [invoice] = await tx.$queryRaw<{ id: string; status: string; total: string; currency: string; stripe_invoice_id: string | null; number: string | null }[]>`
        SELECT id, status::text, total::text, currency, stripe_invoice_id, number FROM invoices
        WHERE id = ${input.invoiceId}::uuid AND organization_id = ${input.organizationId}::uuid FOR UPDATE`;
      if (!invoice) throw ApplicationFailure.nonRetryable(`invoice ${input.invoiceId} not found`, 'NotFound');
      if (!(CREDITABLE_STATUSES as readonly string[]).includes(invoice.status) || !invoice.stripe_invoice_id) {
        throw new CreditNoteRefused('invoice', `invoice ${invoice.number ?? invoice.id} is ${invoice.status}; a credit note needs an invoice finalized in Stripe (${CREDITABLE_STATUSES.join(', ')})`);
      }
      const credited = await tx.creditNote.aggregate({ where: { invoiceId: invoice.id, status: { in: ['pending', 'issued'] } }, _sum: { amount: true } });
      const amount = creditNoteAmount({
        invoiceTotal: dec(invoice.total),
        alreadyCredited: dec(credited._sum.amount ?? 0),
        requested: input.amount === null ? null : dec(input.amount),
        currency: invoice.currency,
      });
      const note = await tx.creditNote.create({
        data: {
          id: input.creditNoteId,
          organizationId: input.organizationId,
          invoiceId: invoice.id,
          requestKey: input.requestKey,
          amount: toPlainString(amount),
          currency: invoice.currency,
          reason: input.reason,
          refund: input.refund,
          requestedBy: input.requestedBy,
        },
      });
      await writeAudit(tx, {
        organizationId: input.organizationId,
        actor: deciderActor(input.requestedBy),
        action: 'credit_note.requested',
        entityType: 'invoice',
        entityId: invoice.id,
        after: { creditNoteId: note.id, amount: formatMoney(amount, invoice.currency), reason: input.reason, refund: input.refund, full: input.amount === null, workflowId: workflowActor().id },
      });
      return view(note);
    }, TX_OPTIONS);
  };
}

/**
 * Issues a pending note in Stripe (idempotency key from its id), then numbers
 * it and marks it issued. A paid invoice's note refunds the charge or credits
 * the customer's Stripe balance, as the request said. Stripe refusing the
 * note marks it failed with Stripe's reason (it credits nothing); network
 * faults are retried.
 */
export function issueCreditNoteInStripe(deps: ActivityDeps) {
  return async function issueCreditNoteInStripe(input: { organizationId: string; creditNoteId: string }): Promise<CreditNoteView> {
    const { prisma } = deps;
    const note = await prisma.creditNote.findFirst({ where: { id: input.creditNoteId, organizationId: input.organizationId }, include: { invoice: true } });
    if (!note) throw ApplicationFailure.nonRetryable(`credit note ${input.creditNoteId} not found`, 'NotFound');
    if (note.status !== 'pending') return view(note);
    const stripe = await requireStripe(deps, input.organizationId);
    const minor = toStripeAmount(dec(note.amount), note.currency);
    const paid = note.invoice.status === 'paid';
    let created: Stripe.CreditNote;
    try {
      created = await stripe.creditNotes.create(
        {
          invoice: note.invoice.stripeInvoiceId!,
          amount: minor,
          memo: note.reason,
          metadata: { ledgerflow_credit_note_id: note.id, ledgerflow_invoice_id: note.invoiceId },
          ...(paid ? (note.refund ? { refund_amount: minor } : { credit_amount: minor }) : {}),
        },
        { idempotencyKey: `ledgerflow-credit-note-${note.id}` },
      );
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw asActivityError(err);
      return view(await markFailed(prisma, { organizationId: input.organizationId, creditNoteId: note.id, reason: `Stripe refused the credit note: ${err.message}`, code: err.code ?? null }));
    }
    return prisma.$transaction(async (tx) => {
      // Only the attempt that moves the note from pending numbers it: an overlapping retry finds it issued.
      const { count } = await tx.creditNote.updateMany({ where: { id: note.id, status: 'pending' }, data: { status: 'issued', stripeCreditNoteId: created.id, issuedAt: new Date() } });
      if (count === 0) return view(await tx.creditNote.findUniqueOrThrow({ where: { id: note.id } }));
      const number = await assignCreditNoteNumber(tx, input.organizationId);
      const issued = await tx.creditNote.update({ where: { id: note.id }, data: { number } });
      await writeAudit(tx, {
        organizationId: input.organizationId,
        actor: workflowActor(),
        action: 'credit_note.issued',
        entityType: 'invoice',
        entityId: note.invoiceId,
        after: { creditNoteId: note.id, number, amount: formatMoney(dec(note.amount), note.currency), stripeCreditNoteId: created.id, settledBy: paid ? (note.refund ? 'refund' : 'customer_balance') : 'amount_due' },
      });
      return view(issued);
    }, TX_OPTIONS);
  };
}

/** Marks a pending note failed with the reason, audited; a note already issued or failed stays as it is. Returns the note. */
async function markFailed(prisma: ActivityDeps['prisma'], input: { organizationId: string; creditNoteId: string; reason: string; code?: string | null }) {
  return prisma.$transaction(async (tx) => {
    const { count } = await tx.creditNote.updateMany({ where: { id: input.creditNoteId, organizationId: input.organizationId, status: 'pending' }, data: { status: 'failed', failure: input.reason } });
    const note = await tx.creditNote.findUniqueOrThrow({ where: { id: input.creditNoteId } });
    if (count === 0) return note;
    await writeAudit(tx, {
      organizationId: input.organizationId,
      actor: workflowActor(),
      action: 'credit_note.failed',
      entityType: 'invoice',
      entityId: note.invoiceId,
      after: { creditNoteId: note.id, reason: input.reason, ...(input.code !== undefined ? { code: input.code } : {}) },
    });
    return note;
  }, TX_OPTIONS);
}

/**
 * A note whose workflow failed for good (a Stripe key or permission
 * refused, say) after it was recorded: marked failed with the reason, so it
 * no longer counts against what is left to credit. A note already issued or
 * failed stays as it is.
 */
export function failCreditNote({ prisma }: ActivityDeps) {
  return async function failCreditNote(input: { organizationId: string; creditNoteId: string; reason: string }): Promise<void> {
    await markFailed(prisma, input);
  };
}

import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { CREDITABLE_STATUSES, creditNoteAmount, CreditNoteRefused } from '../billing/credit-notes';
import { dec } from '../billing/decimal';
import type { CreditNoteModel, PrismaClient } from '../prisma/client';
import { CREDIT_NOTE_WORKFLOW_TYPE, creditNoteWorkflowId, type CreditNoteRequest } from './credit-note-messages';

/** How long a request waits for its note to be issued in Stripe before answering that it is pending. */
const ISSUE_WAIT_MS = 20_000;

/** The note's id from the organization and the request key: a repeated request names the same note. */
export function creditNoteId(organizationId: string, requestKey: string): string {
  const h = createHash('sha256').update(`${organizationId}\n${requestKey}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export type CreditNoteOutcome =
  /** issued in Stripe (or failed there: see the note's failure) */
  | { kind: 'done'; note: CreditNoteModel }
  /** this request key's note from an earlier request */
  | { kind: 'existing'; note: CreditNoteModel }
  /** recorded or being recorded, not yet issued; follow the workflow */
  | { kind: 'pending'; creditNoteId: string; workflowId: string }
  /** the note's workflow refused it (a concurrent note took what was left, the invoice changed) */
  | { kind: 'refused'; message: string; workflowId: string };

/** Thrown before anything starts: the request cannot be a credit note on this invoice. */
export class CreditNoteNotPossible extends Error {
  constructor(
    readonly code: 'INVALID_STATE' | 'REQUEST_KEY_REUSED' | 'INVALID_AMOUNT',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Finance's request for a credit note, from the API or the web app: checked
 * against the invoice first (a clear refusal, nothing started), then the
 * note's workflow (`credit-note:<org>:<request key>`) writes it under a lock
 * on the invoice and issues it in Stripe. Waits a while for the outcome.
 */
export async function requestCreditNote(
  deps: { prisma: PrismaClient; temporal: Client; taskQueue: string },
  invoice: { id: string; organizationId: string; status: string; total: { toString(): string }; currency: string; stripeInvoiceId: string | null; number: string | null },
  request: Omit<CreditNoteRequest, 'organizationId' | 'invoiceId' | 'creditNoteId'>,
): Promise<CreditNoteOutcome> {
  const { prisma, temporal } = deps;
  const existing = await prisma.creditNote.findUnique({ where: { organizationId_requestKey: { organizationId: invoice.organizationId, requestKey: request.requestKey } } });
  if (existing) {
    if (existing.invoiceId !== invoice.id) throw new CreditNoteNotPossible('REQUEST_KEY_REUSED', `request key ${request.requestKey} was used for a credit note on invoice ${existing.invoiceId}`);
    const same = existing.reason === request.reason && existing.refund === request.refund && (request.amount === null || dec(existing.amount).eq(dec(request.amount)));
    if (!same) throw new CreditNoteNotPossible('REQUEST_KEY_REUSED', `request key ${request.requestKey} was used for a credit note with another amount, reason or refund`);
    return { kind: 'existing', note: existing };
  }
  if (!(CREDITABLE_STATUSES as readonly string[]).includes(invoice.status) || !invoice.stripeInvoiceId) {
    throw new CreditNoteNotPossible('INVALID_STATE', `invoice ${invoice.number ?? invoice.id} is ${invoice.status}; a credit note needs an invoice finalized in Stripe (${CREDITABLE_STATUSES.join(', ')})`);
  }
  const credited = await prisma.creditNote.aggregate({ where: { invoiceId: invoice.id, status: { in: ['pending', 'issued'] } }, _sum: { amount: true } });
  try {
    creditNoteAmount({ invoiceTotal: dec(invoice.total), alreadyCredited: dec(credited._sum.amount ?? 0), requested: request.amount === null ? null : dec(request.amount), currency: invoice.currency });
  } catch (err) {
    if (err instanceof CreditNoteRefused) throw new CreditNoteNotPossible(err.field === 'amount' ? 'INVALID_AMOUNT' : 'INVALID_STATE', err.message);
    throw err;
  }

  const noteId = creditNoteId(invoice.organizationId, request.requestKey);
  const workflowId = creditNoteWorkflowId(invoice.organizationId, request.requestKey);
  const args: CreditNoteRequest = { ...request, organizationId: invoice.organizationId, invoiceId: invoice.id, creditNoteId: noteId };
  let handle;
  try {
    handle = await temporal.workflow.start(CREDIT_NOTE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [args],
      // The same request while it runs joins it; after it ended, it is not started again.
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    handle = temporal.workflow.getHandle(workflowId);
  }
  try {
    await temporal.withDeadline(Date.now() + ISSUE_WAIT_MS, () => handle.result());
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      // Recorded, then failed for good (a Stripe key or permission refused): the note is marked failed and says why.
      const failed = await prisma.creditNote.findUnique({ where: { id: noteId } });
      if (failed && failed.status === 'failed') return { kind: 'done', note: failed };
      const cause = err.cause?.cause instanceof Error ? err.cause.cause : err.cause;
      return { kind: 'refused', message: cause?.message ?? err.message, workflowId };
    }
    // Still issuing (Stripe slow, or retried): the note is recorded, or will be.
  }
  const note = await prisma.creditNote.findUnique({ where: { id: noteId } });
  return note && note.status !== 'pending' ? { kind: 'done', note } : { kind: 'pending', creditNoteId: noteId, workflowId };
}

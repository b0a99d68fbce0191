import { Router } from 'express';
import { formatMoney } from '../../billing/currency';
import { dec } from '../../billing/decimal';
import type { CreditNoteModel, PrismaClient } from '../../prisma/client';
import { apiKeyDecider } from '../../prisma/audit';
import { creditNoteWorkflowId } from '../../temporal/credit-note-messages';
import { CreditNoteNotPossible, requestCreditNote } from '../../temporal/credit-notes';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { CreditNoteRequestSchema, InvoiceParamsSchema } from '../schemas/invoices';
import { parseOrThrow, type FieldProblem } from '../validation';
import { findInvoice } from './invoices-read';

export function creditNoteJson(n: CreditNoteModel) {
  return {
    id: n.id,
    invoice_id: n.invoiceId,
    status: n.status,
    number: n.number,
    amount: formatMoney(dec(n.amount), n.currency),
    currency: n.currency,
    reason: n.reason,
    refund: n.refund,
    failure: n.failure,
    stripe_credit_note_id: n.stripeCreditNoteId,
    requested_by: n.requestedBy,
    created_at: n.createdAt.toISOString(),
    issued_at: n.issuedAt?.toISOString() ?? null,
    workflow_id: creditNoteWorkflowId(n.organizationId, n.requestKey),
  };
}

export async function readCreditNotes(prisma: PrismaClient, organizationId: string, invoiceId: string): Promise<CreditNoteModel[]> {
  return prisma.creditNote.findMany({ where: { organizationId, invoiceId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

/**
 * POST /invoices/:id/credit-notes: checks the request against the invoice
 * (for a clear 4xx), then starts the note's workflow
 * (`credit-note:<org>:<request key>`), which writes it under a lock on the
 * invoice and issues it in Stripe; answers with the note once issued (201),
 * or pending (202) when Stripe takes longer. The same request key again
 * answers with the same note (200).
 */
export function creditNotesRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/:id/credit-notes', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(InvoiceParamsSchema, req.params, 'path');
    const invoice = await findInvoice(deps.prisma, caller.organizationId, id);
    res.json({ data: (await readCreditNotes(deps.prisma, caller.organizationId, invoice.id)).map(creditNoteJson) });
  });

  router.post('/:id/credit-notes', async (req, res) => {
    const caller = callerOf(req);
    const { id } = parseOrThrow(InvoiceParamsSchema, req.params, 'path');
    const body = parseOrThrow(CreditNoteRequestSchema, req.body, 'request');
    const invoice = await findInvoice(deps.prisma, caller.organizationId, id);
    let outcome;
    try {
      outcome = await requestCreditNote(deps, invoice, {
        requestKey: body.request_key,
        amount: body.amount ?? null,
        reason: body.reason,
        refund: body.refund ?? false,
        requestedBy: apiKeyDecider(caller.apiKeyId),
      });
    } catch (err) {
      if (!(err instanceof CreditNoteNotPossible)) throw err;
      if (err.code !== 'INVALID_AMOUNT') throw new ApiError(409, err.code, err.message);
      const problem: FieldProblem = { code: 'INVALID_VALUE', field: 'amount', message: `amount: ${err.message}` };
      throw new ApiError(400, 'VALIDATION_ERROR', `Invalid request: ${problem.message}`, { field: 'amount', issues: [problem] });
    }
    switch (outcome.kind) {
      case 'existing':
        res.status(200).json(creditNoteJson(outcome.note));
        return;
      case 'done':
        res.status(201).json(creditNoteJson(outcome.note));
        return;
      case 'pending':
        res.status(202).json({ id: outcome.creditNoteId, invoice_id: invoice.id, status: 'pending', workflow_id: outcome.workflowId });
        return;
      case 'refused':
        throw new ApiError(409, 'CREDIT_NOTE_REFUSED', outcome.message, { workflow_id: outcome.workflowId });
    }
  });

  return router;
}

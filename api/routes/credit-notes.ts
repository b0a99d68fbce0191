import { formatMoney } from '../../billing/currency';
import { dec } from '../../billing/decimal';
import type { CreditNoteModel, PrismaClient } from '../../prisma/client';
import { apiKeyDecider } from '../../prisma/audit';
import { creditNoteWorkflowId } from '../../temporal/credit-note-messages';
import { CreditNoteNotPossible, requestCreditNote } from '../../temporal/credit-notes';
import { ApiError } from '../errors';
import { answer, route, type RouteTable } from '../route-table';
import { CreditNoteAcceptedSchema, CreditNoteListSchema, CreditNoteRequestSchema, CreditNoteSchema, InvoiceParamsSchema } from '../schemas/invoices';
import type { FieldProblem } from '../validation';
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
const noInvoice = { '404': 'No such invoice in your organization' };

export const creditNoteRoutes: RouteTable = {
  mount: '/invoices',
  routes: [
    route({
      method: 'get',
      path: '/{id}/credit-notes',
      summary: 'An invoice\'s credit notes',
      params: InvoiceParamsSchema,
      ok: { description: 'Oldest first', schema: CreditNoteListSchema },
      errors: noInvoice,
      handle: async (deps, { caller, params }) => {
        const invoice = await findInvoice(deps.prisma, caller.organizationId, params.id);
        return { data: (await readCreditNotes(deps.prisma, caller.organizationId, invoice.id)).map(creditNoteJson) };
      },
    }),
    route({
      method: 'post',
      path: '/{id}/credit-notes',
      summary: 'Credit a finalized invoice, in full or in part, with a reason',
      description:
        'Starts the credit note\'s workflow (`credit-note:<organization>:<request_key>`), which writes the note under a lock on the invoice (notes together never credit more than its total) and issues it in Stripe with an idempotency key from its id: on an open invoice it lowers the amount due; on a paid one it credits the customer\'s Stripe balance, or refunds the charge with `refund: true`. Issued, it is numbered `<invoice prefix>-CN-000001`, … and shows in the invoice\'s `credit_notes`, `credited` and audit history. The same `request_key` again answers with the same note.',
      params: InvoiceParamsSchema,
      body: CreditNoteRequestSchema,
      ok: { status: 201, description: 'Issued (or failed: Stripe refused it, see failure)', schema: CreditNoteSchema },
      alsoOk: {
        '200': { description: 'This request_key\'s note, from an earlier request', schema: CreditNoteSchema },
        '202': { description: 'Recorded or being recorded; still being issued in Stripe', schema: CreditNoteAcceptedSchema },
      },
      errors: {
        ...noInvoice,
        '409': 'INVALID_STATE: the invoice is not finalized in Stripe; CREDIT_NOTE_REFUSED: refused by the note\'s workflow (a concurrent note took what was left); REQUEST_KEY_REUSED: the key named a note on another invoice',
      },
      handle: async (deps, { caller, params, body }) => {
        const invoice = await findInvoice(deps.prisma, caller.organizationId, params.id);
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
            return answer(200, creditNoteJson(outcome.note));
          case 'done':
            return creditNoteJson(outcome.note);
          case 'pending':
            return answer(202, { id: outcome.creditNoteId, invoice_id: invoice.id, status: 'pending', workflow_id: outcome.workflowId });
          case 'refused':
            throw new ApiError(409, 'CREDIT_NOTE_REFUSED', outcome.message, { workflow_id: outcome.workflowId });
        }
      },
    }),
  ],
};

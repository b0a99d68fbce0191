import type { AppLoadContext } from 'react-router';
import { dec } from '../../../billing/decimal';
import { CreditNoteNotPossible, requestCreditNote } from '../../../temporal/credit-notes';
import { TASK_QUEUE } from '../../../temporal/names';
import type { SignedInUser } from './auth.server';
import { finerThanCurrency, formText } from './forms.server';
import { findInvoice } from './invoices.server';
import { money } from './money.server';
import { temporalUiLink } from './runs.server';

/** `invalid`: the form itself was wrong (answered 400); otherwise a refusal is the invoice's state (409). */
export type CreditNoteOutcome = { ok: boolean; message: string; invalid?: boolean; workflowId?: string; temporalUrl?: string };

/** The request key of an invoice's next credit note from the web app: `web-<invoice id>-<notes so far + 1>`. */
export const creditNoteKeyFor = (invoiceId: string, notesSoFar: number): string => `web-${invoiceId}-${notesSoFar + 1}`;


/**
 * Finance credits a finalized invoice from its page, as
 * POST /api/v1/invoices/:id/credit-notes does: the same checks, the same
 * workflow (`credit-note:<org>:<request key>`). The form carries the request
 * key of the invoice's next note, so a form sent twice is one note.
 * The signed-in person is the one who asked for it (the audit row names them).
 */
export async function issueCreditNoteFromWeb(context: AppLoadContext, user: SignedInUser, invoiceId: string | undefined, form: FormData): Promise<CreditNoteOutcome> {
  const invoice = await findInvoice(context, user.organizationId, invoiceId);
  const requestKey = formText(form, 'request_key');
  const reason = formText(form, 'reason');
  const amount = formText(form, 'amount');
  if (!requestKey.startsWith(`web-${invoice.id}-`)) return { ok: false, invalid: true, message: 'The form is out of date: reload the page and try again.' };
  if (!reason) return { ok: false, invalid: true, message: 'A credit note needs a reason.' };
  if (amount !== '') {
    if (!/^\d+(\.\d+)?$/.test(amount) || dec(amount).isZero()) return { ok: false, invalid: true, message: `Amount must be a positive decimal number like 12.50, or empty for everything not yet credited; got "${amount}".` };
    const tooFine = finerThanCurrency(amount, invoice.currency);
    if (tooFine) return { ok: false, invalid: true, message: tooFine };
  }
  let outcome;
  try {
    outcome = await requestCreditNote({ prisma: context.prisma, temporal: context.temporal, taskQueue: TASK_QUEUE }, invoice, {
      requestKey,
      amount: amount === '' ? null : amount,
      reason,
      refund: form.get('refund') === 'on',
      requestedBy: user.email,
    });
  } catch (err) {
    if (err instanceof CreditNoteNotPossible) {
      if (err.code === 'REQUEST_KEY_REUSED') return { ok: false, message: 'Another credit note was recorded on this invoice meanwhile: reload the page to see it, then try again.' };
      return { ok: false, invalid: err.code === 'INVALID_AMOUNT', message: err.message };
    }
    throw err;
  }
  switch (outcome.kind) {
    case 'done':
    case 'existing': {
      const note = outcome.note;
      if (note.status === 'failed') return { ok: false, message: `The credit note failed in Stripe: ${note.failure}` };
      return { ok: true, message: `Credit note ${note.number ?? note.id} issued for ${money(note.amount, note.currency)}.` };
    }
    case 'pending':
      return { ok: true, message: 'The credit note is recorded and waits for Stripe; it appears below once issued.', workflowId: outcome.workflowId, temporalUrl: temporalUiLink(context, outcome.workflowId) };
    case 'refused':
      return { ok: false, message: outcome.message, workflowId: outcome.workflowId, temporalUrl: temporalUiLink(context, outcome.workflowId) };
  }
}

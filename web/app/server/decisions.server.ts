import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { AppLoadContext } from 'react-router';
import { adjustUpdate, approveUpdate, redraftUpdate, rejectUpdate, voidUpdate, writeOffUpdate, type DecisionResult } from '../../../temporal/billing-messages';
import { TASK_QUEUE } from '../../../temporal/names';
import { ReissueNotPossible, requestReissue } from '../../../temporal/reissue';
import type { SignedInUser } from './auth.server';
import { finerThanCurrency, formText } from './forms.server';
import { findInvoice } from './invoices.server';

/** Longer than a workflow start: the update records the decision in the database before it answers. */
const DECISION_TIMEOUT_MS = 30_000;

/** `invoiceId`: the invoice the run bills after the decision (a re-draft's new revision). */
export type DecisionOutcome = { ok: true; message: string; invoiceId: string } | { ok: false; message: string };


/**
 * Turns a decision form into the billing run's Update, sent to the run in
 * invoices.workflow_id. The person is the approver, so the audit row the
 * workflow writes names them. The workflow's validator has the last word;
 * its refusal comes back as the message to show.
 */
export async function decideInvoice(context: AppLoadContext, user: SignedInUser, invoiceId: string | undefined, form: FormData): Promise<DecisionOutcome> {
  const invoice = await findInvoice(context, user.organizationId, invoiceId);
  const intent = formText(form, 'intent');
  const approver = user.email;
  let send: () => Promise<DecisionResult>;
  const handle = context.temporal.workflow.getHandle(invoice.workflowId);
  if (intent === 'approve') {
    const note = formText(form, 'note');
    send = () => handle.executeUpdate(approveUpdate, { args: [{ approver, ...(note ? { note } : {}) }] });
  } else if (intent === 'reject') {
    const reason = formText(form, 'reason');
    if (!reason) return { ok: false, message: 'A rejection needs a reason.' };
    send = () => handle.executeUpdate(rejectUpdate, { args: [{ approver, reason }] });
  } else if (intent === 'adjust') {
    const reason = formText(form, 'reason');
    const description = formText(form, 'description');
    const amount = formText(form, 'amount');
    if (!reason || !description) return { ok: false, message: 'An adjustment needs a reason and a line description.' };
    if (!/^-?\d+(\.\d+)?$/.test(amount)) return { ok: false, message: `Amount must be a decimal number like -7.00, got "${amount}".` };
    const tooFine = finerThanCurrency(amount, invoice.currency);
    if (tooFine) return { ok: false, message: tooFine };
    send = () => handle.executeUpdate(adjustUpdate, { args: [{ approver, reason, lines: [{ description, amount }] }] });
  } else if (intent === 'void') {
    const reason = formText(form, 'reason');
    if (!reason) return { ok: false, message: 'A void needs a reason.' };
    send = () => handle.executeUpdate(voidUpdate, { args: [{ approver, reason }] });
  } else if (intent === 'redraft' || intent === 'write_off') {
    const reason = formText(form, 'reason');
    if (!reason) return { ok: false, message: intent === 'redraft' ? 'A re-draft needs a reason.' : 'A write-off needs a reason.' };
    send = () => (intent === 'redraft' ? handle.executeUpdate(redraftUpdate, { args: [{ approver, reason }] }) : handle.executeUpdate(writeOffUpdate, { args: [{ approver, reason }] }));
  } else {
    return { ok: false, message: `Unknown decision "${intent}".` };
  }
  try {
    const result = await context.temporal.withDeadline(Date.now() + DECISION_TIMEOUT_MS, send);
    return { ok: true, message: `Done: the billing run is now ${result.status.replace(/_/g, ' ')} (total ${result.total}).`, invoiceId: result.invoiceId };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return { ok: false, message: err.cause?.message ?? err.message };
    if (err instanceof WorkflowNotFoundError) {
      if (intent === 'redraft') return reissue(context, user, invoice.id, formText(form, 'reason'));
      return { ok: false, message: `The billing run ${invoice.workflowId} is not running (invoice is ${invoice.status}); it takes no more decisions.` };
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      return { ok: false, message: `The billing run did not answer within ${DECISION_TIMEOUT_MS / 1000} s; the decision may still be applied, so reload before retrying.` };
    }
    throw err;
  }
}

/** A re-draft after the period's billing run ended: a re-issue run drafts the corrected revision (temporal/reissue.ts). */
async function reissue(context: AppLoadContext, user: SignedInUser, invoiceId: string, reason: string): Promise<DecisionOutcome> {
  let outcome;
  try {
    outcome = await requestReissue({ prisma: context.prisma, temporal: context.temporal, taskQueue: TASK_QUEUE }, user.organizationId, invoiceId, { by: user.email, reason });
  } catch (err) {
    if (err instanceof ReissueNotPossible) return { ok: false, message: err.message };
    throw err;
  }
  if (outcome.kind === 'refused') return { ok: false, message: `The re-issue failed: ${outcome.message}` };
  if (outcome.kind === 'pending') return { ok: true, message: `The corrected invoice is being drafted by ${outcome.workflowId}; it appears among the revisions once drafted.`, invoiceId };
  const next = outcome.runStatus === 'awaiting_approval' ? 'waits for approval' : `is ${outcome.runStatus.replace(/_/g, ' ')} already`;
  return { ok: true, message: `Re-issued: the corrected invoice is drafted and ${next} (total ${outcome.invoice.total.toString()}).`, invoiceId: outcome.invoice.id };
}

import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { WorkflowNotFoundError } from '@temporalio/common';
import { Router, type Response } from 'express';
import type { z } from 'zod';
import { formatMoney, minorUnits } from '../../billing/currency';
import { dec } from '../../billing/decimal';
import { adjustUpdate, approveUpdate, redraftUpdate, rejectUpdate, voidUpdate, writeOffUpdate, type DecisionResult } from '../../temporal/billing-messages';
import { apiKeyDecider, type DeciderRef } from '../../prisma/audit';
import { ReissueNotPossible, requestReissue } from '../../temporal/reissue';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { AdjustRequestSchema, ApproveRequestSchema, InvoiceParamsSchema, RedraftRequestSchema, RejectRequestSchema, VoidRequestSchema, WriteOffRequestSchema } from '../schemas/invoices';
import { parseOrThrow, type FieldProblem } from '../validation';
import { findInvoice, type InvoiceRow } from './invoices-read';

/**
 * How long a decision waits for the billing run to answer. Longer than a
 * workflow start: the update handler records the decision in the database
 * before it returns.
 */
const DECISION_TIMEOUT_MS = 30_000;

type Decision = (client: Client, workflowId: string) => Promise<DecisionResult>;

/**
 * Sends one finance decision as a workflow Update and maps its outcomes: the
 * workflow's validator refusing it (already approved, adjusted after
 * approval…) is a 409 with the workflow's own words; a billing run that is
 * not running (finished, or never started) is a 409 too.
 */
async function decide(deps: ApiDeps, invoice: { id: string; workflowId: string; status: string }, send: Decision): Promise<DecisionResult> {
  try {
    return await deps.temporal.withDeadline(Date.now() + DECISION_TIMEOUT_MS, () => send(deps.temporal, invoice.workflowId));
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new ApiError(409, 'INVALID_STATE', err.cause?.message ?? err.message, { workflow_id: invoice.workflowId });
    }
    if (err instanceof WorkflowNotFoundError) {
      throw new ApiError(
        409,
        'WORKFLOW_NOT_RUNNING',
        `The billing run ${invoice.workflowId} of invoice ${invoice.id} is not running (invoice status: ${invoice.status}); it takes no more decisions${AFTER_RUN_HINT[invoice.status] ?? ''}`,
        { workflow_id: invoice.workflowId },
      );
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new ApiError(
        503,
        'WORKFLOW_TIMEOUT',
        `The billing run ${invoice.workflowId} did not answer within ${DECISION_TIMEOUT_MS / 1000} s (is a billing worker running?); the decision may still be applied, so read the invoice before retrying`,
        { workflow_id: invoice.workflowId },
      );
    }
    throw err;
  }
}

/** What finance can still do once an invoice's run has ended. */
const AFTER_RUN_HINT: Record<string, string> = {
  uncollectible: `. To void it and bill a corrected invoice, re-draft it: POST /api/v1/invoices/:id/redraft (a re-issue)`,
  paid: `. A paid invoice is credited with a credit note (POST /api/v1/invoices/:id/credit-notes); once credited in full, POST /api/v1/invoices/:id/redraft re-issues the period`,
};

/** An adjustment finer than the currency's minor unit would be rounded silently; refuse it instead, naming the line. */
function checkMinorUnits(lines: { amount: string }[], currency: string): void {
  const places = minorUnits(currency);
  const index = lines.findIndex((l) => dec(l.amount).decimalPlaces() > places);
  if (index < 0) return;
  const field = `lines.${index}.amount`;
  const problem: FieldProblem = { code: 'INVALID_VALUE', field, message: `${field}: ${currency} amounts have at most ${places} decimal place${places === 1 ? '' : 's'}` };
  throw new ApiError(400, 'VALIDATION_ERROR', `Invalid request: ${problem.message}`, { field, issues: [problem] });
}

/**
 * An invoice does not go below zero: credit for the customer belongs in a
 * credit note. Checked here against the stored total for a clear 400; the
 * billing run's validator checks again against its own, which is the one
 * that counts when two decisions race.
 */
function checkNotNegative(total: { toString(): string }, lines: { amount: string }[], currency: string): void {
  const after = lines.reduce((sum, l) => sum.plus(dec(l.amount)), dec(total.toString()));
  if (!after.isNegative()) return;
  const problem: FieldProblem = {
    code: 'INVALID_VALUE',
    field: 'lines',
    message: `lines: the adjustment would bring the total to ${formatMoney(after, currency)} ${currency.toUpperCase()}; an invoice does not go below zero (credit belongs in a credit note)`,
  };
  throw new ApiError(400, 'VALIDATION_ERROR', `Invalid request: ${problem.message}`, { field: 'lines', issues: [problem] });
}

const resultJson = (r: DecisionResult, currency: string) => ({ invoice_id: r.invoiceId, status: r.status, total: formatMoney(dec(r.total), currency) });

export function invoiceDecisionsRouter(deps: ApiDeps): Router {
  const router = Router();

  /**
   * POST /:id/<path>: the body checked by `schema` (and `check`, against the stored invoice), then sent as `update`.
   * `notRunning`, when given, answers instead of the 409 for an invoice whose billing run has ended.
   */
  function decision<T>(
    path: string,
    schema: z.ZodType<T>,
    update: UpdateDefinition<DecisionResult, [T & { approver: DeciderRef }]>,
    options: { check?: (body: T, invoice: InvoiceRow) => void; notRunning?: (request: T & { approver: DeciderRef }, invoice: InvoiceRow, res: Response) => Promise<void> } = {},
  ): void {
    router.post(`/:id/${path}`, async (req, res) => {
      const caller = callerOf(req);
      const { id } = parseOrThrow(InvoiceParamsSchema, req.params, 'path');
      const body = parseOrThrow(schema, req.body, 'request');
      const invoice = await findInvoice(deps.prisma, caller.organizationId, id);
      options.check?.(body, invoice);
      // The decision names the calling key; a request body cannot say who decided.
      const request = { ...body, approver: apiKeyDecider(caller.apiKeyId) };
      let result;
      try {
        result = await decide(deps, invoice, (client, workflowId) => client.workflow.getHandle(workflowId).executeUpdate(update, { args: [request] }));
      } catch (err) {
        if (!(options.notRunning && err instanceof ApiError && err.code === 'WORKFLOW_NOT_RUNNING')) throw err;
        await options.notRunning(request, invoice, res);
        return;
      }
      res.json(resultJson(result, invoice.currency));
    });
  }

  /** A re-draft once the period's billing run has ended is a re-issue (temporal/reissue.ts): a new run drafts the corrected revision. */
  async function reissue(request: { approver: DeciderRef; reason: string }, invoice: InvoiceRow, res: Response): Promise<void> {
    let outcome;
    try {
      outcome = await requestReissue(deps, invoice.organizationId, invoice.id, { by: request.approver, reason: request.reason });
    } catch (err) {
      if (err instanceof ReissueNotPossible) throw new ApiError(409, 'INVALID_STATE', err.message, { workflow_id: invoice.workflowId });
      throw err;
    }
    if (outcome.kind === 'refused') throw new ApiError(409, 'INVALID_STATE', outcome.message, { workflow_id: outcome.workflowId });
    if (outcome.kind === 'pending') {
      res.status(202).json({ invoice_id: null, status: 'drafting', workflow_id: outcome.workflowId });
      return;
    }
    res.json({ ...resultJson({ invoiceId: outcome.invoice.id, status: outcome.runStatus, total: outcome.invoice.total.toString() }, invoice.currency), workflow_id: outcome.workflowId });
  }

  decision('approve', ApproveRequestSchema, approveUpdate);
  decision('adjust', AdjustRequestSchema, adjustUpdate, {
    check: (body, invoice) => {
      checkMinorUnits(body.lines, invoice.currency);
      checkNotNegative(invoice.total, body.lines, invoice.currency);
    },
  });
  decision('reject', RejectRequestSchema, rejectUpdate);
  decision('redraft', RedraftRequestSchema, redraftUpdate, { notRunning: reissue });
  decision('write-off', WriteOffRequestSchema, writeOffUpdate);
  decision('void', VoidRequestSchema, voidUpdate);
  return router;
}

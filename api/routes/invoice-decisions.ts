import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { z } from 'zod';
import { formatMoney, minorUnits } from '../../billing/currency';
import { dec } from '../../billing/decimal';
import { adjustUpdate, approveUpdate, redraftUpdate, rejectUpdate, voidUpdate, writeOffUpdate, type DecisionResult } from '../../temporal/billing-messages';
import { apiKeyDecider, type DeciderRef } from '../../prisma/audit';
import { ReissueNotPossible, requestReissue } from '../../temporal/reissue';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { answer, route, type RouteTable } from '../route-table';
import {
  AdjustRequestSchema,
  ApproveRequestSchema,
  DecisionResultSchema,
  InvoiceParamsSchema,
  RedraftRequestSchema,
  ReissuePendingSchema,
  RejectRequestSchema,
  VoidRequestSchema,
  WriteOffRequestSchema,
} from '../schemas/invoices';
import type { FieldProblem } from '../validation';
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

type Notice = { description: string; schema: z.ZodType };

/**
 * POST /invoices/{id}/<path>: the body checked by `schema` (and `check`, against the stored invoice), then sent as `update`.
 * `notRunning`, when given, answers instead of the 409 for an invoice whose billing run has ended.
 */
function decision<T>(spec: {
  path: string;
  summary: string;
  description: string;
  schema: z.ZodType<T>;
  update: UpdateDefinition<DecisionResult, [T & { approver: DeciderRef }]>;
  ok: string;
  alsoOk?: Record<string, Notice>;
  refused: string;
  unanswered?: string;
  check?: (body: T, invoice: InvoiceRow) => void;
  notRunning?: (deps: ApiDeps, request: T & { approver: DeciderRef }, invoice: InvoiceRow) => Promise<unknown>;
}) {
  return route({
    method: 'post',
    path: `/{id}/${spec.path}`,
    summary: spec.summary,
    description: spec.description,
    params: InvoiceParamsSchema,
    body: spec.schema,
    ok: { description: spec.ok, schema: DecisionResultSchema },
    ...(spec.alsoOk ? { alsoOk: spec.alsoOk } : {}),
    errors: {
      '404': 'No such invoice in your organization',
      '409': spec.refused,
      '503': spec.unanswered ?? 'The billing run did not answer in time; the decision may still apply',
    },
    handle: async (deps, { caller, params, body }) => {
      const invoice = await findInvoice(deps.prisma, caller.organizationId, params.id);
      spec.check?.(body, invoice);
      // The decision names the calling key; a request body cannot say who decided.
      const request = { ...body, approver: apiKeyDecider(caller.apiKeyId) };
      try {
        const result = await decide(deps, invoice, (client, workflowId) => client.workflow.getHandle(workflowId).executeUpdate(spec.update, { args: [request] }));
        return resultJson(result, invoice.currency);
      } catch (err) {
        if (!(spec.notRunning && err instanceof ApiError && err.code === 'WORKFLOW_NOT_RUNNING')) throw err;
        return spec.notRunning(deps, request, invoice);
      }
    },
  });
}

/** A re-draft once the period's billing run has ended is a re-issue (temporal/reissue.ts): a new run drafts the corrected revision. */
async function reissue(deps: ApiDeps, request: { approver: DeciderRef; reason: string }, invoice: InvoiceRow): Promise<unknown> {
  let outcome;
  try {
    outcome = await requestReissue(deps, invoice.organizationId, invoice.id, { by: request.approver, reason: request.reason });
  } catch (err) {
    if (err instanceof ReissueNotPossible) throw new ApiError(409, 'INVALID_STATE', err.message, { workflow_id: invoice.workflowId });
    throw err;
  }
  if (outcome.kind === 'refused') throw new ApiError(409, 'INVALID_STATE', outcome.message, { workflow_id: outcome.workflowId });
  if (outcome.kind === 'pending') return answer(202, { invoice_id: null, status: 'drafting', workflow_id: outcome.workflowId });
  return { ...resultJson({ invoiceId: outcome.invoice.id, status: outcome.runStatus, total: outcome.invoice.total.toString() }, invoice.currency), workflow_id: outcome.workflowId };
}

const sentAs = (update: string) => `Sent as the \`${update}\` Update to the invoice's billing run, which validates it against its state and answers with the result.`;
const APPLIED = 'Applied by the billing run';

/** Finance's decisions on an invoice, each a workflow Update to its billing run. */
export const invoiceDecisionRoutes: RouteTable = {
  mount: '/invoices',
  routes: [
    decision({
      path: 'approve',
      summary: 'Approve a draft invoice',
      description: sentAs('approve'),
      schema: ApproveRequestSchema,
      update: approveUpdate,
      ok: APPLIED,
      refused: 'INVALID_STATE: the billing run refused it (e.g. already approved, or rejected); WORKFLOW_NOT_RUNNING: the run has ended',
    }),
    decision({
      path: 'adjust',
      summary: 'Add adjustment lines to a draft invoice',
      description: sentAs('adjust'),
      schema: AdjustRequestSchema,
      update: adjustUpdate,
      ok: APPLIED,
      refused: 'INVALID_STATE: the billing run refused it (e.g. cannot adjust an approved invoice); WORKFLOW_NOT_RUNNING: the run has ended',
      check: (body, invoice) => {
        checkMinorUnits(body.lines, invoice.currency);
        checkNotNegative(invoice.total, body.lines, invoice.currency);
      },
    }),
    decision({
      path: 'reject',
      summary: 'Reject a draft invoice',
      description: sentAs('reject'),
      schema: RejectRequestSchema,
      update: rejectUpdate,
      ok: APPLIED,
      refused: 'INVALID_STATE: the billing run refused it (e.g. already approved); WORKFLOW_NOT_RUNNING: the run has ended',
    }),
    decision({
      path: 'redraft',
      summary: 'Draft a period again, as its next revision (a corrected invoice, or a re-issue)',
      description:
        'While the period\'s billing run waits for it (a rejected draft, or an invoice voided while collected): sent as the `redraft` Update, which closes the period again from its usage as it now stands (late events included) into a new draft revision and waits for approval. Once that run has ended, a re-issue: allowed for a rejected or void invoice, one credited in full (every credit note issued), or an open or uncollectible one with no credit note, which is voided in Stripe first (idempotency key from our id). A re-issue run `billing-run:<subscription>:<period start>:reissue:<invoice id>` drafts the new revision and takes it through approval, Stripe and collection; asking twice starts one run. Either way the replaced revision stays, with its lines and audit trail, and bills nothing from then on; its events move to the new one.',
      schema: RedraftRequestSchema,
      update: redraftUpdate,
      ok: 'The new revision is drafted; invoice_id names it (and workflow_id the re-issue run, after the billing run ended)',
      alsoOk: { '202': { description: 'A re-issue: the re-issue run is still drafting (a slow void in Stripe); follow workflow_id', schema: ReissuePendingSchema } },
      refused:
        'INVALID_STATE: this invoice is not re-drafted now (awaiting approval, paid and not credited in full, replaced already…), with the reason; or the re-draft failed (a price that cannot be computed, Stripe refusing the void)',
      notRunning: reissue,
    }),
    decision({
      path: 'write-off',
      summary: 'Write a rejected (or void) invoice\'s period off',
      description:
        'Sent as the `writeOff` Update to the rejected invoice\'s billing run: the period is billed at nothing, on purpose, and the run ends. The invoice keeps its lines and its events (so no later close bills them as late usage) and never counts as billed; events of the period that arrive later are billed as late usage on their own.',
      schema: WriteOffRequestSchema,
      update: writeOffUpdate,
      ok: 'Written off',
      refused: 'INVALID_STATE: only a rejected draft or a void invoice can be written off; WORKFLOW_NOT_RUNNING: the run has ended',
    }),
    decision({
      path: 'void',
      summary: 'Void a finalized invoice still being collected',
      description:
        'Sent as the `void` Update to the invoice\'s billing run while it collects (payment attempts or the retry schedule): it waits for an attempt under way, voids the invoice in Stripe (idempotency key from our id) and here, stops collecting, and waits for the period to be re-drafted (POST …/redraft: a corrected invoice, approved, finalized and collected anew) or written off. A void invoice bills nothing. A paid invoice is credited with a credit note instead.',
      schema: VoidRequestSchema,
      update: voidUpdate,
      ok: 'Voided; the run waits for a re-draft or a write-off',
      refused: 'INVALID_STATE: only an invoice being collected can be voided (a paid one takes a credit note); WORKFLOW_NOT_RUNNING: the run has ended',
      unanswered: 'The billing run did not answer in time; the void may still apply',
    }),
  ],
};

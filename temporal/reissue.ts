import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { InvoiceStatus } from '../billing/invoice-status';
import { planReissue } from '../billing/reissue';
import type { PrismaClient } from '../prisma/client';
import { readReissueCandidate } from '../prisma/reissue-candidates';
import { billingRunStateQuery, type BillingRunStatus } from './billing-messages';
import { startBillingRunWorkflow } from './billing-runs';

/** How long a request waits for the corrected draft before answering that it is being drafted. */
const DRAFT_WAIT_MS = 30_000;
const POLL_MS = 250;

export type ReissueOutcome =
  /** the corrected revision is drafted and its run has taken it up (runStatus: awaiting approval, or approved by rule) */
  | { kind: 'drafted'; invoice: { id: string; status: InvoiceStatus; total: { toString(): string } }; runStatus: BillingRunStatus; workflowId: string }
  /** the re-issue run is still drafting (a void in Stripe, a slow close); follow the workflow */
  | { kind: 'pending'; workflowId: string }
  /** the re-issue run failed (Stripe refused the void: the invoice was paid meanwhile) */
  | { kind: 'refused'; message: string; workflowId: string };

/** Thrown before anything starts: this invoice is not re-issued (billing/reissue.ts says why). */
export class ReissueNotPossible extends Error {}

/**
 * Finance's re-draft of a period whose billing run has ended (a re-issue):
 * the invoice is checked first (billing/reissue.ts: rejected, void,
 * credited in full, or open/uncollectible to be voided), then a billing run
 * `billing-run:<sub>:<periodStart>:reissue:<invoiceId>` voids it in Stripe
 * when needed and closes the period again as its next revision, which goes
 * through approval, finalization and collection like any draft. Asking again
 * joins the same run. Waits a while for the new draft.
 */
export async function requestReissue(
  deps: { prisma: PrismaClient; temporal: Client; taskQueue: string },
  organizationId: string,
  invoiceId: string,
  request: { by: string; reason: string },
): Promise<ReissueOutcome> {
  const { prisma, temporal } = deps;
  const { invoice, candidate } = await readReissueCandidate(prisma, organizationId, invoiceId);
  if (invoice.supersededById) throw new ReissueNotPossible(`invoice ${invoice.id} was re-drafted already, as invoice ${invoice.supersededById}; re-issue that one if it needs correcting`);
  const plan = planReissue(candidate);
  if (!plan.ok) throw new ReissueNotPossible(plan.reason);
  const started = await startBillingRunWorkflow(
    temporal,
    {
      organizationId,
      subscriptionId: invoice.subscriptionId,
      periodStart: invoice.periodStart.toISOString(),
      periodEnd: invoice.periodEnd.toISOString(),
      lateEventGraceSeconds: 0,
      reissue: { of: invoice.id, by: request.by, reason: request.reason, voidFirst: plan.voidFirst },
    },
    { taskQueue: deps.taskQueue },
  );
  const { workflowId } = started;

  const deadline = Date.now() + DRAFT_WAIT_MS;
  const failure = temporal
    .withDeadline(deadline, () => temporal.workflow.getHandle(workflowId).result())
    .then(
      () => null,
      (err: unknown) => (err instanceof WorkflowFailedError ? err : null),
    );
  while (Date.now() < deadline) {
    const now = await prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id }, select: { supersededBy: { select: { id: true, status: true, total: true } } } });
    // The draft is written before the run takes it up: answer once the run has (an approval sent on the
    // answer would otherwise be refused while the run still says "drafting").
    const runStatus = now.supersededBy && (await adoptedDraftStatus(temporal, workflowId, now.supersededBy.id));
    if (now.supersededBy && runStatus) return { kind: 'drafted', invoice: now.supersededBy, runStatus, workflowId };
    const failed = await Promise.race([failure, sleep(POLL_MS).then(() => undefined)]);
    if (failed) {
      const cause = failed.cause?.cause instanceof Error ? failed.cause.cause : failed.cause;
      return { kind: 'refused', message: cause?.message ?? failed.message, workflowId };
    }
    // (the run's result could not be followed, or it ended: the database alone tells, at the same pace)
    if (failed === null) await sleep(POLL_MS);
  }
  return { kind: 'pending', workflowId };
}

/** The run's status once it has taken up the new draft (awaiting approval, or past it when approved by rule); null before. */
async function adoptedDraftStatus(temporal: Client, workflowId: string, invoiceId: string): Promise<BillingRunStatus | null> {
  try {
    const state = await temporal.workflow.getHandle(workflowId).query(billingRunStateQuery);
    return state.invoiceId === invoiceId && state.status !== 'drafting' ? state.status : null;
  } catch {
    // (no answer: its worker is busy or away; the poll asks again)
    return null;
  }
}

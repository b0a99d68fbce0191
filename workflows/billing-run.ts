import { ActivityFailure, allHandlersFinished, condition, isCancellation, patched, proxyActivities, proxyLocalActivities, setHandler, sleep, uuid4, workflowInfo } from '@temporalio/workflow';
import type { ClosedPeriod, LedgerflowActivities } from '../activities';
import { failureReason } from './failures';
import { now } from './clock';
import { sentInvoiceCheckpoints } from '../billing/collection';
import { dec } from '../billing/decimal';
import type { InvoiceStatus } from '../billing/invoice-status';
import {
  adjustUpdate,
  approveUpdate,
  billingRunStateQuery,
  paymentEventSignal,
  redraftUpdate,
  rejectUpdate,
  writeOffUpdate,
  voidUpdate,
  type AdjustRequest,
  type BillingRunInput,
  type BillingRunState,
  type DecisionResult,
  type PaymentEvent,
} from '../temporal/billing-messages';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Database steps: idempotent, so retried without limit (an outage must not lose a billing run). */
const db = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** A re-draft runs while finance waits on the update: a few tries, then the update fails and the draft stays rejected. */
const redraftDb = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 },
});

/**
 * Stripe calls: network faults and 5xx are retried by Temporal with backoff;
 * business rejections come back as non-retryable failures (or, for a card
 * decline, as a result the retry schedule handles).
 */
const stripe = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

/** Starting the period's reconciliation: a few tries; it must never hold a finished billing run. */
const followUp = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/** Runs started before 2026-11-22 10:00 UTC ended without a reconciliation; their histories keep replaying. */
export const RECONCILE_AFTER_RUN_PATCH = 'reconcile-after-billing-run';

/** Runs started before 2026-12-02 13:00 UTC ended without telling finance when a step failed for good. */
export const ALERT_ON_FAILED_RUN_PATCH = 'alert-on-failed-billing-run';

/**
 * Runs started before 2026-12-02 15:00 UTC counted reminders, auto-approval and payment retries
 * from their own start, so a reset began those schedules again; later runs resume them from the
 * database (the draft's time, the attempts made and the first decline).
 */
export const RESUME_SCHEDULES_PATCH = 'resume-schedules-from-database';

/**
 * Runs from before 2026-12-04 charged every finalized invoice. Later runs wait for a sent invoice
 * (no card on file) to be paid by its due date instead; a run whose worker did not know that
 * branch (a rolling deploy) keeps charging on replay, and collectPayment refuses a sent invoice.
 */
export const SENT_INVOICE_PATCH = 'wait-for-sent-invoice';

/**
 * Runs from before 2026-12-04 ended uncollectible even when Stripe reported a payment while the
 * invoice was being written off (the signal arrived, nothing read it). Later runs record it.
 */
export const PAID_DURING_WRITE_OFF_PATCH = 'record-payment-during-write-off';

/**
 * Runs from before 2026-12-04 16:00 UTC that wrote a charged invoice off after its last retry
 * ended uncollectible (and told finance so) even when Stripe refused the write-off because the
 * customer had just paid and the payment was recorded; later runs end paid, as a sent invoice's do.
 */
export const PAID_AT_CHARGE_WRITE_OFF_PATCH = 'paid-at-charge-write-off';

/** Alerts go to outside channels: a few spaced tries, then the outbox keeps them for later. */
const notify = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 4 },
});

/**
 * Runs started before 2026-12-02 14:00 UTC ended at a rejection, the period's usage claimed and
 * billed nowhere; later runs wait for finance to re-draft the period or write it off.
 */
export const DECIDE_AFTER_REJECTION_PATCH = 'redraft-or-write-off-after-rejection';

/**
 * Runs that passed their close on a worker from before 2026-12-02 17:00 UTC read where the drafted
 * invoice stands in a regular activity (their histories say so); later ones read it in a local activity (one short read: no activity task for the
 * server to schedule and dispatch at a period end). It stays a read after a regular close, not a value
 * that close returns, so a run reset to after its draft reads what the database says now; a local
 * close (LOCAL_CLOSE_PATCH) returns it, read as the close ends, since a reset runs that close again.
 */
export const LOCAL_STANDING_READ_PATCH = 'read-standing-locally';

/**
 * Runs from before 2026-12-06 closed their period in a regular activity. Later ones try the close once as a
 * local activity, in the workflow task that starts the run (no activity task for the server to schedule, dispatch
 * and record: at a period end that is a third of the server's work per draft), and only when that try fails run
 * it as the regular, retried `closePeriod` activity, which the Temporal UI shows pending with its attempts and
 * last failure as before. The close is idempotent (a repeated close returns the period's draft), so a try whose
 * commit was not recorded (the worker died) costs a second read, never a second invoice. A local close also reads
 * where its invoice stands as it ends (LOCAL_STANDING_READ_PATCH's read, in the same activity), so the task runs one
 * local activity, not two; a reset to that task runs the close, and its read, again.
 *
 * It is asked once, as the run starts, and a run that has it has every patch above and below too (they are all
 * older): those are then taken as given instead of asked (`since`). Each patch asked for the first time records a
 * marker and upserts the run's TemporalChangeVersion search attribute (a visibility write on the server), which
 * at a period end was three per draft before the run had done anything else.
 */
export const LOCAL_CLOSE_PATCH = 'close-period-locally-first';

/** The patches LOCAL_CLOSE_PATCH implies (all older than it). */
type ImpliedPatch =
  | typeof RECONCILE_AFTER_RUN_PATCH
  | typeof ALERT_ON_FAILED_RUN_PATCH
  | typeof RESUME_SCHEDULES_PATCH
  | typeof SENT_INVOICE_PATCH
  | typeof PAID_DURING_WRITE_OFF_PATCH
  | typeof PAID_AT_CHARGE_WRITE_OFF_PATCH
  | typeof DECIDE_AFTER_REJECTION_PATCH
  | typeof LOCAL_STANDING_READ_PATCH;

/** The one local try at the close: a failure of any kind but cancellation falls back to `db.closePeriod`. */
const localClose = proxyLocalActivities<LedgerflowActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 1 },
});

/** Short reads the run takes in its own workflow task (local activities), retried as `db` is. */
const localDb = proxyLocalActivities<LedgerflowActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Where a run picks up for an invoice the database already has in this state (a reset, or a repeated run). */
const RESUME: Record<InvoiceStatus, BillingRunState['status']> = {
  draft: 'awaiting_approval',
  approved: 'finalizing',
  rejected: 'rejected',
  void: 'void',
  finalized: 'collecting',
  paid: 'paid',
  uncollectible: 'uncollectible',
  written_off: 'written_off',
};

/**
 * `billing-run:<subscriptionId>:<periodStart>`: close the period into a draft
 * invoice → wait for finance (approve / adjust / reject updates; reminders;
 * optional auto-approval) → finalize in Stripe → collect on a retry schedule
 * (Stripe webhooks signal payments) → start the period's reconciliation.
 * A rejected period draft waits for finance's next word: `redraft` closes the period
 * again as the invoice's next revision (back to approval), `writeOff` ends
 * the period billed at nothing, with a reason.
 *
 * Every step converges when repeated, and after the draft the run asks the
 * database where the invoice stands: a run reset in the Temporal UI to any
 * point after the draft picks up from there and never bills twice.
 */
export async function billingRun(input: BillingRunInput): Promise<BillingRunState> {
  const { organizationId } = input;
  /** the run began on code with every patch in this file (LOCAL_CLOSE_PATCH, the newest, implies the rest) */
  const current = patched(LOCAL_CLOSE_PATCH);
  /**
   * Whether the run has `patch`, one of those older than LOCAL_CLOSE_PATCH: runs that are `current` have it without
   * asking (no marker, no search attribute upsert). Typed to those patches only: a newer patch must be asked with
   * patched() itself, since runs that are `current` may have begun before it.
   */
  const since = (patch: ImpliedPatch): boolean => current || patched(patch);
  const state: BillingRunState = { status: 'drafting', invoiceId: null, total: null, currency: null, remindersSent: 0, paymentAttempts: 0, nextPaymentAt: null };
  /** a decision is being written; a second one waits its turn or is refused */
  let deciding = false;
  let paidByStripe: PaymentEvent | null = null;

  setHandler(billingRunStateQuery, () => state);
  setHandler(paymentEventSignal, (event) => {
    if (event.outcome === 'paid') paidByStripe ??= event;
  });

  const statusNow = (): BillingRunState['status'] => state.status;
  const result = (): DecisionResult => ({ invoiceId: state.invoiceId!, status: state.status, total: state.total! });
  const mayDecide = (what: string) => {
    if (state.status === 'drafting') throw new Error(`the draft invoice is not ready yet; try to ${what} again shortly`);
    if (deciding) throw new Error(`another decision on invoice ${state.invoiceId} is being recorded`);
    if (state.status === 'rejected') throw new Error(`invoice ${state.invoiceId} was rejected`);
    if (state.status === 'written_off') throw new Error(`invoice ${state.invoiceId} was written off`);
    if (state.status !== 'awaiting_approval') {
      throw new Error(what === 'adjust' ? `invoice ${state.invoiceId} is already approved and can no longer be adjusted` : `invoice ${state.invoiceId} is already approved`);
    }
  };
  /** re-draft and write-off answer a rejection (or a void), and only while the run waits for one */
  const mayAnswerRejection = (what: string) => {
    if (deciding) throw new Error(`another decision on invoice ${state.invoiceId} is being recorded`);
    if ((state.status !== 'rejected' && state.status !== 'void') || !awaitingRejectionDecision) {
      throw new Error(`only a rejected draft or a void invoice can be ${what}; invoice ${state.invoiceId ?? '(not drafted yet)'} is ${state.status.replace(/_/g, ' ')}`);
    }
  };
  /** a void is for a finalized invoice still being collected: not while a payment attempt is under way */
  const mayVoid = () => {
    if (deciding) throw new Error(`another decision on invoice ${state.invoiceId} is being recorded`);
    if (state.status !== 'collecting') {
      throw new Error(`only an invoice being collected can be voided; invoice ${state.invoiceId ?? '(not drafted yet)'} is ${state.status.replace(/_/g, ' ')}${state.status === 'paid' ? ' (credit it with a credit note instead)' : ''}`);
    }
  };
  /** set while a payment attempt is under way: a void waits for its outcome */
  let paying = false;
  /** set while the run waits for a re-draft or a write-off (runs from before the patch end instead) */
  let awaitingRejectionDecision = false;
  const decide = async <T>(step: () => Promise<T>): Promise<T> => {
    deciding = true;
    try {
      return await step();
    } finally {
      deciding = false;
    }
  };

  setHandler(
    approveUpdate,
    (req) =>
      decide(async () => {
        const invoice = await db.recordDecision({ organizationId, invoiceId: state.invoiceId!, decision: 'approve', by: req.approver, ...(req.note ? { note: req.note } : {}) });
        state.status = 'finalizing';
        state.total = invoice.total;
        return result();
      }),
    { validator: (req) => (mayDecide('approve'), requirePerson(req.approver, 'approver')) },
  );
  setHandler(
    rejectUpdate,
    (req) =>
      decide(async () => {
        await db.recordDecision({ organizationId, invoiceId: state.invoiceId!, decision: 'reject', by: req.approver, note: req.reason });
        state.status = 'rejected';
        return result();
      }),
    { validator: (req) => (mayDecide('reject'), requirePerson(req.approver, 'approver'), requirePerson(req.reason, 'reason')) },
  );
  setHandler(
    adjustUpdate,
    (req) =>
      decide(async () => {
        const invoice = await db.adjustInvoice({ organizationId, invoiceId: state.invoiceId!, ...req, requestId: uuid4() });
        state.total = invoice.total;
        return result();
      }),
    {
      validator: (req: AdjustRequest) => {
        mayDecide('adjust');
        requirePerson(req.approver, 'approver');
        requirePerson(req.reason, 'reason');
        const lines: unknown = req.lines;
        if (!Array.isArray(lines) || lines.length === 0) throw new Error('lines: at least one adjustment line is required');
        req.lines.forEach((line, i) => {
          requirePerson(line.description, `lines[${i}].description`);
          if (!/^-?\d+(\.\d+)?$/.test(line.amount ?? '') || dec(line.amount).isZero()) throw new Error(`lines[${i}].amount must be a non-zero decimal string`);
        });
        const after = req.lines.reduce((sum, line) => sum.plus(dec(line.amount)), dec(state.total ?? '0'));
        if (after.isNegative()) {
          throw new Error(`lines: the adjustment would bring the total to ${after.toFixed()}; an invoice does not go below zero (credit belongs in a credit note)`);
        }
      },
    },
  );

  setHandler(
    redraftUpdate,
    (req) =>
      decide(async () => {
        const before = state.status;
        state.status = 'drafting';
        try {
          adopt(await redraftDb.closePeriod({ ...input, redraft: { of: state.invoiceId!, by: req.approver, reason: req.reason } }));
        } catch (err) {
          // The re-draft failed (a price that cannot be computed): still rejected (or void), the update says why.
          state.status = before;
          throw err;
        }
        state.status = 'awaiting_approval';
        state.remindersSent = 0;
        // A corrected invoice after a void is collected afresh: its own attempts, its own schedule.
        declined = null;
        paidByStripe = null;
        state.paymentAttempts = 0;
        if (state.dueAt) state.dueAt = null;
        if (state.overdueNotices) state.overdueNotices = 0;
        return result();
      }),
    { validator: (req) => (mayAnswerRejection('re-drafted'), requirePerson(req.approver, 'approver'), requirePerson(req.reason, 'reason')) },
  );
  setHandler(
    writeOffUpdate,
    (req) =>
      decide(async () => {
        await db.writeOffInvoice({ organizationId, invoiceId: state.invoiceId!, by: req.approver, reason: req.reason });
        state.status = 'written_off';
        return result();
      }),
    { validator: (req) => (mayAnswerRejection('written off'), requirePerson(req.approver, 'approver'), requirePerson(req.reason, 'reason')) },
  );
  setHandler(
    voidUpdate,
    (req) =>
      decide(async () => {
        await condition(() => !paying);
        // Paid meanwhile (the attempt under way, or a webhook): a paid invoice is credited with a credit note, not voided.
        if (state.status !== 'collecting' || paidByStripe) throw new Error(`invoice ${state.invoiceId} was paid meanwhile; credit it with a credit note instead`);
        await stripe.voidInvoiceInStripe({ organizationId, invoiceId: state.invoiceId!, by: req.approver, reason: req.reason });
        state.status = 'void';
        state.nextPaymentAt = null;
        return result();
      }),
    { validator: (req) => (mayVoid(), requirePerson(req.approver, 'approver'), requirePerson(req.reason, 'reason')) },
  );

  let closed!: ClosedPeriod;
  let ref!: { organizationId: string; invoiceId: string };
  /** schedules count from the database's times (RESUME_SCHEDULES_PATCH), not from this run's start */
  let fromDatabase = false;
  /** declined payment attempts of the invoice so far, and when the first was declined */
  let declined: { attempts: number; firstAt: number } | null = null;
  /** a sent invoice's due date (ms): the customer pays on Stripe's page, no card is charged; null when charged */
  let sentDueAt: number | null = null;
  /** Takes a closed period's invoice as the one this run bills. */
  function adopt(period: ClosedPeriod): void {
    closed = period;
    state.invoiceId = period.invoiceId;
    state.total = period.total;
    state.currency = period.currency;
    ref = { organizationId, invoiceId: period.invoiceId };
  }
  try {
    await bill();
  } catch (err) {
    // A step failed for good (bad data, Stripe refusing): the run fails with that reason, and finance hears of it.
    // Ops fix the cause, then retry the run from the web app's Billing runs page or reset it in the Temporal UI.
    if (err instanceof ActivityFailure && since(ALERT_ON_FAILED_RUN_PATCH)) {
      const { workflowId, runId } = workflowInfo();
      try {
        await alert('billing_run.failed', `billing-run-failed:${workflowId}:${runId}`, { workflowId, step: err.activityType, reason: failureReason(err), phase: state.status });
      } catch {
        // The run's own failure is the one to report; the alert's is secondary.
      }
    }
    throw err;
  }

  await condition(allHandlersFinished);
  return state;

  /** The period's draft: locally first (LOCAL_CLOSE_PATCH), then as the regular activity if that try failed. */
  async function closePeriod(): Promise<ClosedPeriod> {
    if (current) {
      try {
        return await localClose.closePeriod({ ...input, workflowTime: new Date(now()).toISOString(), withStanding: true });
      } catch (err) {
        // (a local activity's refusal arrives as the activity's own failure, not wrapped in an ActivityFailure)
        if (isCancellation(err)) throw err;
      }
    }
    return db.closePeriod(input);
  }

  /** The run's steps, each converging when repeated. */
  async function bill(): Promise<void> {
    // ── close the period, after the late-event grace ──────────────────────────
    const closesAt = Date.parse(input.periodEnd) + (input.lateEventGraceSeconds ?? 3600) * 1000;
    if (closesAt > now()) await sleep(closesAt - now());
    if (input.reissue) {
      // A re-issue after the period's run ended: the invoice it corrects is voided first when it is still open or
      // uncollectible, then the period is closed again as its next revision (a repeated close returns that one).
      const { of, by, reason, voidFirst } = input.reissue;
      if (voidFirst) await stripe.voidInvoiceInStripe({ organizationId, invoiceId: of, by, reason });
      adopt(await db.closePeriod({ ...input, redraft: { of, by, reason } }));
    } else {
      adopt(await closePeriod());
    }
    // The database is the truth about where the invoice stands (see RESUME).
    // (a local close returns it: the draft as it wrote it, or an invoice it converged on as the database has it then;
    // a reset runs that close again, so it is what the database says now)
    const stored = closed.standing ?? (since(LOCAL_STANDING_READ_PATCH) ? await localDb.readInvoiceState(ref) : await db.readInvoiceState(ref));
    state.status = RESUME[stored.status];
    state.total = stored.total;
    // Its period was re-drafted by another run since (a reset of this run after a re-issue): that run bills the
    // new revision; this one ends where its own invoice stands. (Histories from before the field never have it.)
    if (stored.supersededById) return;
    fromDatabase = since(RESUME_SCHEDULES_PATCH);
    // Payments made before a reset: the retry schedule goes on from them.
    if (fromDatabase && stored.paymentAttempts > 0) declined = { attempts: stored.paymentAttempts, firstAt: stored.firstDeclinedAt ? Date.parse(stored.firstDeclinedAt) : now() };
    // Sent to pay by a due date before a reset: the run goes on waiting for the customer (histories from before lack the field).
    if (stored.collectionMethod === 'send_invoice' && stored.dueAt) sentDueAt = Date.parse(stored.dueAt);

    // Once, unless finance voids the invoice while it is collected: then the period is re-drafted (a corrected
    // invoice, through approval and collection again) or written off. A run with no void goes through once.
    for (;;) {
      for (;;) {
        await approval();
        // A recovery invoice rejected is simply not billed: there is no period to draft again.
        if (state.status !== 'rejected' || input.recovery || !since(DECIDE_AFTER_REJECTION_PATCH)) break;
        // ── a rejected draft: re-draft the period, or write it off ─────────────
        if (!(await redraftOrWriteOff())) break;
      }

      // ── Stripe: finalize, then collect ────────────────────────────────────────
      if (state.status === 'finalizing') {
        if (dec(state.total!).isZero()) {
          await db.settleZeroInvoice(ref);
          state.status = 'settled_zero';
        } else {
          const finalized = await stripe.finalizeInvoiceInStripe(ref);
          sentDueAt = finalized.collection?.method === 'send_invoice' && finalized.collection.dueAt ? Date.parse(finalized.collection.dueAt) : null;
          state.status = 'collecting';
        }
      }
      if (state.status === 'collecting') await (sentDueAt !== null && since(SENT_INVOICE_PATCH) ? awaitSentInvoice(sentDueAt) : collect());
      // ── voided while collected: re-draft the period, or write it off ──────────
      if (statusNow() !== 'void' || !(await redraftOrWriteOff())) break;
    }

    // Leak detection for the period (reconcile:<orgId>:<periodStart>) once this run has settled.
    if (since(RECONCILE_AFTER_RUN_PATCH)) {
      try {
        await followUp.requestReconciliation({ organizationId, periodStart: input.periodStart, periodEnd: input.periodEnd });
      } catch {
        // The reconciliation can be started on demand (POST /api/v1/reconciliations); billing is done.
      }
    }
  }

  /** Finance approval of the current draft: reminders, and auto-approval when the organization has it. */
  async function approval(): Promise<void> {
    if (state.status === 'awaiting_approval') {
      const waitStart = fromDatabase ? Date.parse(closed.draftedAt) : now();
      const remindEvery = Math.max(1, closed.approvalReminderHours) * HOUR_MS;
      const autoAt = closed.autoApproveAfterHours === null ? null : waitStart + closed.autoApproveAfterHours * HOUR_MS;
      // Started over (a reset) while the draft waits: the reminders whose time has passed were due before; the next one is.
      if (fromDatabase) state.remindersSent = Math.max(state.remindersSent, Math.floor((now() - waitStart) / remindEvery));
      while (state.status === 'awaiting_approval') {
        const nextReminder = waitStart + (state.remindersSent + 1) * remindEvery;
        const wakeAt = autoAt === null ? nextReminder : Math.min(nextReminder, autoAt);
        if (await condition(() => state.status !== 'awaiting_approval', Math.max(1, wakeAt - now()))) break;
        if (deciding) {
          await condition(() => !deciding);
          continue;
        }
        if (autoAt !== null && now() >= autoAt) {
          const invoice = await decide(() => db.recordDecision({ ...ref, decision: 'auto_approve', by: `policy:auto-approve-after-${closed.autoApproveAfterHours}h` }));
          state.status = 'finalizing';
          state.total = invoice.total;
          await alert('invoice.auto_approved', `invoice-auto-approved:${ref.invoiceId}`);
          break;
        }
        state.remindersSent += 1;
        await alert('invoice.approval_reminder', `invoice-approval-reminder:${ref.invoiceId}:${state.remindersSent}`, { reminder: state.remindersSent });
      }
    }
  }

  /** Waits for finance to re-draft the rejected (or void) invoice's period or write it off; true when re-drafted. */
  async function redraftOrWriteOff(): Promise<boolean> {
    const waiting = statusNow();
    awaitingRejectionDecision = true;
    await condition(() => state.status !== waiting && !deciding);
    awaitingRejectionDecision = false;
    // (read through a function: the compiler cannot see the update handlers change it)
    return statusNow() === 'awaiting_approval';
  }

  async function collect(): Promise<void> {
    let attempt = (declined?.attempts ?? 0) + 1;
    state.paymentAttempts = declined?.attempts ?? 0;
    // Started over (a reset) after declines: the next attempt waits for its day on the schedule.
    if (declined && !(await nextAttemptDue(declined.attempts, undefined))) return;
    for (; ; attempt++) {
      if (statusNow() === 'void') return;
      if (paidByStripe) {
        await stripe.markInvoicePaid({ ...ref, source: 'webhook', stripeEventId: paidByStripe.stripeEventId });
        state.status = 'paid';
        return;
      }
      state.paymentAttempts = attempt;
      paying = true;
      let outcome;
      try {
        outcome = await stripe.collectPayment({ ...ref, attempt });
      } finally {
        paying = false;
      }
      if (outcome.outcome === 'paid') {
        state.status = 'paid';
        return;
      }
      declined = { attempts: attempt, firstAt: declined?.firstAt ?? now() };
      if (!(await nextAttemptDue(attempt, outcome.declineCode))) return;
    }
  }

  /**
   * A sent invoice: no card to charge, the customer pays on Stripe's page
   * (a webhook signals it). Unpaid at its due date, finance hears it is
   * overdue, again on each retry day after it, and after the last one it is
   * written off as uncollectible. Notices are deduplicated by number, so a
   * run started over sends none twice.
   */
  async function awaitSentInvoice(dueAt: number): Promise<void> {
    state.dueAt = new Date(dueAt).toISOString();
    const checkpoints = sentInvoiceCheckpoints(dueAt, closed.paymentRetryDays);
    for (const [i, at] of checkpoints.entries()) {
      await condition(() => paidByStripe !== null || statusNow() === 'void', Math.max(1, at - now()));
      if (statusNow() === 'void') return;
      if (paidByStripe) {
        await stripe.markInvoicePaid({ ...ref, source: 'webhook', stripeEventId: paidByStripe.stripeEventId });
        state.status = 'paid';
        return;
      }
      if (i === checkpoints.length - 1) break;
      state.overdueNotices = i + 1;
      await alert('invoice.overdue', `invoice-overdue:${ref.invoiceId}:${i + 1}`, { dueAt: state.dueAt, notice: i + 1, daysOverdue: Math.floor((now() - dueAt) / DAY_MS) });
    }
    // Paid at the last moment (Stripe refuses to write off a paid invoice): the payment is recorded instead.
    if ((await stripe.markInvoiceUncollectible(ref)).status === 'paid') {
      state.status = 'paid';
      return;
    }
    state.status = 'uncollectible';
    await alert('invoice.uncollectible', `invoice-uncollectible:${ref.invoiceId}`, { dueAt: state.dueAt, overdueNotices: state.overdueNotices ?? 0 });
    await recordPaymentDuringWriteOff();
  }

  /** Stripe reported a payment while the invoice was written off (customers may still pay it): it is money received. */
  async function recordPaymentDuringWriteOff(): Promise<void> {
    if (!paidByStripe || !since(PAID_DURING_WRITE_OFF_PATCH)) return;
    await stripe.markInvoicePaid({ ...ref, source: 'webhook', stripeEventId: paidByStripe.stripeEventId });
    state.status = 'paid';
  }

  /**
   * After `attempts` declines: waits for the next attempt's day on the retry
   * schedule (counted from the first decline), or a payment Stripe reports.
   * false when the schedule is over: the invoice was written off (or found paid at the write-off).
   */
  async function nextAttemptDue(attempts: number, lastDecline: string | undefined): Promise<boolean> {
    const retryDay = closed.paymentRetryDays[attempts - 1];
    if (retryDay === undefined) {
      const written = await stripe.markInvoiceUncollectible(ref);
      // Paid at the last moment (Stripe refuses to write off a paid invoice): the payment was recorded instead.
      if (written.status === 'paid' && since(PAID_AT_CHARGE_WRITE_OFF_PATCH)) {
        state.status = 'paid';
        return false;
      }
      state.status = 'uncollectible';
      await alert('invoice.uncollectible', `invoice-uncollectible:${ref.invoiceId}`, { attempts, lastDecline: lastDecline ?? null });
      await recordPaymentDuringWriteOff();
      return false;
    }
    const nextAt = declined!.firstAt + retryDay * DAY_MS;
    state.nextPaymentAt = new Date(nextAt).toISOString();
    await condition(() => paidByStripe !== null || statusNow() === 'void', Math.max(1, nextAt - now()));
    state.nextPaymentAt = null;
    return statusNow() !== 'void';
  }

  async function alert(kind: string, dedupeKey: string, extra: Record<string, unknown> = {}): Promise<void> {
    await db.queueNotification({
      organizationId,
      kind,
      dedupeKey,
      payload: { invoiceId: state.invoiceId, subscriptionId: input.subscriptionId, periodStart: input.periodStart, periodEnd: input.periodEnd, total: state.total, currency: state.currency, ...extra },
    });
    try {
      await notify.deliverNotifications({ organizationId });
    } catch {
      // The alert stays in the outbox; the next delivery picks it up. Billing goes on.
    }
  }
}

function requirePerson(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`${field} is required`);
}

import { ApplicationFailure } from '@temporalio/activity';
import { formatMoney, minorUnits } from '../../billing/currency';
import { dec, toPlainString } from '../../billing/decimal';
import { sumLines } from '../../billing/invoice-draft';
import { awaitsRedraft, type InvoiceStatus } from '../../billing/invoice-status';
import { deciderActor, writeAudit } from '../../prisma/audit';
import { releaseLateClaimsOf } from '../../prisma/usage-claims';
import { emitInvoiceEvent } from '../../prisma/webhook-events';
import { assignInvoiceNumber } from '../../prisma/invoice-numbers';
import type { AdjustRequest } from '../../temporal/billing-messages';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor } from '../workflow-actor';


export interface InvoiceRef {
  organizationId: string;
  invoiceId: string;
}

export interface InvoiceSnapshot {
  invoiceId: string;
  status: InvoiceStatus;
  total: string;
  currency: string;
}


async function findInvoice(tx: Parameters<Parameters<ActivityDeps['prisma']['$transaction']>[0]>[0], ref: InvoiceRef) {
  const invoice = await tx.invoice.findFirst({ where: { id: ref.invoiceId, organizationId: ref.organizationId } });
  if (!invoice) throw ApplicationFailure.nonRetryable(`invoice ${ref.invoiceId} not found`, 'NotFound');
  return invoice;
}

const view = (i: { id: string; status: InvoiceStatus; total: { toString(): string }; currency: string }): InvoiceSnapshot => ({
  invoiceId: i.id,
  status: i.status,
  total: formatMoney(dec(i.total), i.currency),
  currency: i.currency,
});

/** Where an invoice's schedules stand: what a run started over (a reset) resumes from. */
export interface InvoiceStanding extends InvoiceSnapshot {
  /** when the draft was written: approval reminders and auto-approval count from here */
  draftedAt: string;
  /** declined payment attempts so far */
  paymentAttempts: number;
  /** when the first payment attempt was declined: the retry schedule counts from here */
  firstDeclinedAt: string | null;
  /** the revision that replaced this invoice (a re-draft or re-issue by another run): the run has nothing left to bill */
  supersededById: string | null;
  /** how a finalized invoice is collected: a sent one waits for the customer until its due date */
  collectionMethod: string | null;
  dueAt: string | null;
}

/** The invoice as the database has it (a reset run asks before waiting for a decision it may already have). */
export function readInvoiceState({ pool }: ActivityDeps) {
  return async function readInvoiceState(ref: InvoiceRef): Promise<InvoiceStanding> {
    return readStanding(pool, ref);
  };
}

/**
 * One read through plain pg: every billing run makes it right after its close (a local activity of its own, or the
 * close itself when it converged on an invoice it did not just write; a close that drafts returns draftedStanding).
 */
export async function readStanding(pool: ActivityDeps['pool'], ref: InvoiceRef): Promise<InvoiceStanding> {
  const { rows } = await pool.query<{
    id: string;
    status: InvoiceStatus;
    total: string;
    currency: string;
    created_at: Date;
    payment_attempts: number;
    superseded_by_id: string | null;
    collection_method: string | null;
    due_at: Date | null;
    declined_at: unknown;
    declined_logged_at: Date | null;
  }>({
    name: 'read-invoice-state',
    text: `SELECT i.id, i.status::text AS status, i.total::text AS total, i.currency, i.created_at, i.payment_attempts, i.superseded_by_id, i.collection_method, i.due_at,
                  d.after -> 'declinedAt' AS declined_at, d.created_at AS declined_logged_at
           FROM invoices i
           LEFT JOIN LATERAL (
             SELECT a.after, a.created_at FROM audit_logs a
             WHERE i.payment_attempts > 0 AND a.organization_id = i.organization_id AND a.entity_type = 'invoice' AND a.entity_id = i.id::text
               AND a.action = 'invoice.payment_failed'
             ORDER BY a.id LIMIT 1) d ON true
           WHERE i.id = $1::uuid AND i.organization_id = $2::uuid`,
    values: [ref.invoiceId, ref.organizationId],
  });
  const invoice = rows[0];
  if (!invoice) throw ApplicationFailure.nonRetryable(`invoice ${ref.invoiceId} not found`, 'NotFound');
  return {
    ...view(invoice),
    draftedAt: invoice.created_at.toISOString(),
    paymentAttempts: invoice.payment_attempts,
    firstDeclinedAt: typeof invoice.declined_at === 'string' ? invoice.declined_at : (invoice.declined_logged_at?.toISOString() ?? null),
    supersededById: invoice.superseded_by_id,
    collectionMethod: invoice.collection_method,
    dueAt: invoice.due_at?.toISOString() ?? null,
  };
}

/**
 * Where an invoice stands that the caller's transaction has just drafted, as readStanding reads it once that commits:
 * a draft, no payment attempt, replaced by nothing, no collection method or due date yet (both come at finalization).
 * Nothing else acts on a draft before its billing run is told of it (test/close-period-writes.test.ts holds the two equal).
 */
export function draftedStanding(invoice: { id: string; total: string; currency: string; createdAt: Date }): InvoiceStanding {
  return {
    ...view({ ...invoice, status: 'draft' }),
    draftedAt: invoice.createdAt.toISOString(),
    paymentAttempts: 0,
    firstDeclinedAt: null,
    supersededById: null,
    collectionMethod: null,
    dueAt: null,
  };
}

export interface DecisionInput extends InvoiceRef {
  decision: 'approve' | 'reject' | 'auto_approve';
  /** the approver; for auto_approve, the policy that approved */
  by: string;
  note?: string;
}

/**
 * Records approve / reject / auto-approve on a draft. Idempotent: the same
 * decision on an invoice that already has it is a no-op (a retried activity);
 * a different one is refused.
 */
export function recordDecision({ prisma }: ActivityDeps) {
  return async function recordDecision(input: DecisionInput): Promise<InvoiceSnapshot> {
    const run = workflowActor();
    const target: InvoiceStatus = input.decision === 'reject' ? 'rejected' : 'approved';
    return prisma.$transaction(async (tx) => {
      const invoice = await findInvoice(tx, input);
      if (invoice.status === target) return view(invoice);
      if (invoice.status !== 'draft') throw ApplicationFailure.nonRetryable(`invoice ${invoice.id} is ${invoice.status}, not a draft`, 'InvalidState');
      const now = new Date();
      const data =
        target === 'approved'
          ? { status: target, approvedBy: input.by, approvedAt: now, approvalNote: input.note ?? null }
          : { status: target, rejectedBy: input.by, rejectedAt: now, rejectionReason: input.note ?? null };
      const updated = await tx.invoice.update({ where: { id: invoice.id }, data });
      await writeAudit(tx, {
        organizationId: input.organizationId,
        actor: input.decision === 'auto_approve' ? run : deciderActor(input.by),
        action: input.decision === 'approve' ? 'invoice.approved' : input.decision === 'reject' ? 'invoice.rejected' : 'invoice.auto_approved',
        entityType: 'invoice',
        entityId: invoice.id,
        before: { status: invoice.status },
        after: { status: target, by: input.by, note: input.note ?? null, workflowId: run.id, runId: run.type === 'workflow' ? run.runId : null },
      });
      return view(updated);
    }, TX_OPTIONS);
  };
}

export interface WriteOffInput extends InvoiceRef {
  by: string;
  reason: string;
}

/**
 * Writes a rejected draft's (or a void invoice's) period off: the invoice
 * bills nothing, on purpose, and its period's events stay claimed by it so
 * no later close bills them as late usage; the late events of earlier
 * periods it carried are released to be billed. Idempotent; only a rejected
 * draft or a void invoice can be written off.
 */
export function writeOffInvoice({ prisma }: ActivityDeps) {
  return async function writeOffInvoice(input: WriteOffInput): Promise<InvoiceSnapshot> {
    const run = workflowActor();
    return prisma.$transaction(async (tx) => {
      const invoice = await findInvoice(tx, input);
      if (invoice.status === 'written_off') return view(invoice);
      if (!awaitsRedraft(invoice.status)) throw ApplicationFailure.nonRetryable(`invoice ${invoice.id} is ${invoice.status}; only a rejected draft or a void invoice can be written off`, 'InvalidState');
      if (invoice.supersededById) throw ApplicationFailure.nonRetryable(`invoice ${invoice.id} was re-drafted as invoice ${invoice.supersededById}; that one is billed now`, 'InvalidState');
      const updated = await tx.invoice.update({ where: { id: invoice.id }, data: { status: 'written_off', writtenOffBy: input.by, writtenOffAt: new Date(), writeOffReason: input.reason } });
      // Its late-usage lines held events of earlier periods, not of the one written off: they go back, for the next close to bill as late usage.
      const released = await releaseLateClaimsOf(tx, input.organizationId, invoice.id);
      await writeAudit(tx, {
        organizationId: input.organizationId,
        actor: deciderActor(input.by),
        action: 'invoice.written_off',
        entityType: 'invoice',
        entityId: invoice.id,
        before: { status: invoice.status, total: formatMoney(dec(invoice.total), invoice.currency) },
        after: { status: 'written_off', by: input.by, reason: input.reason, releasedLateEvents: released, workflowId: run.id, runId: run.type === 'workflow' ? run.runId : null },
      });
      return view(updated);
    }, TX_OPTIONS);
  };
}

export interface AdjustInput extends InvoiceRef, AdjustRequest {
  /** the update's id: a retried activity adds the lines once */
  requestId: string;
}

/** Adds finance's adjustment lines to a draft and recomputes its total (sum of rounded lines). */
export function adjustInvoice({ prisma }: ActivityDeps) {
  return async function adjustInvoice(input: AdjustInput): Promise<InvoiceSnapshot> {
    const run = workflowActor();
    return prisma.$transaction(async (tx) => {
      const invoice = await findInvoice(tx, input);
      const done = await tx.auditLog.findFirst({ where: { organizationId: input.organizationId, entityType: 'invoice', entityId: invoice.id, action: 'invoice.adjusted', after: { path: ['requestId'], equals: input.requestId } } });
      if (done) return view(invoice);
      if (invoice.status !== 'draft') throw ApplicationFailure.nonRetryable(`invoice ${invoice.id} is ${invoice.status}; only a draft can be adjusted`, 'InvalidState');
      for (const [i, line] of input.lines.entries()) {
        const amount = dec(line.amount);
        if (amount.decimalPlaces() > minorUnits(invoice.currency)) {
          throw ApplicationFailure.nonRetryable(`lines[${i}].amount has more decimals than ${invoice.currency} allows`, 'InvalidAdjustment');
        }
      }
      const last = await tx.invoiceLine.aggregate({ where: { invoiceId: invoice.id }, _max: { position: true } });
      await tx.invoiceLine.createMany({
        data: input.lines.map((line, i) => ({
          organizationId: input.organizationId,
          invoiceId: invoice.id,
          position: (last._max.position ?? 0) + i + 1,
          kind: 'adjustment' as const,
          description: line.description,
          amount: toPlainString(dec(line.amount)),
          periodStart: invoice.periodStart,
          periodEnd: invoice.periodEnd,
          createdBy: input.approver,
        })),
      });
      const lines = await tx.invoiceLine.findMany({ where: { invoiceId: invoice.id }, select: { amount: true } });
      const total = sumLines(lines.map((l) => ({ amount: dec(l.amount) })));
      // The workflow's validator refuses this first; here it would roll the lines back.
      if (total.isNegative()) throw ApplicationFailure.nonRetryable(`the adjustment would bring invoice ${invoice.id} to ${toPlainString(total)}; an invoice does not go below zero`, 'NegativeTotal');
      const updated = await tx.invoice.update({ where: { id: invoice.id }, data: { total: toPlainString(total) } });
      await writeAudit(tx, {
        organizationId: input.organizationId,
        actor: deciderActor(input.approver),
        action: 'invoice.adjusted',
        entityType: 'invoice',
        entityId: invoice.id,
        before: { total: formatMoney(dec(invoice.total), invoice.currency) },
        after: { total: formatMoney(total, invoice.currency), reason: input.reason, lines: input.lines as unknown as object[], requestId: input.requestId, workflowId: run.id },
      });
      return view(updated);
    }, TX_OPTIONS);
  };
}

/** A zero-amount invoice is settled without Stripe. */
export function settleZeroInvoice({ prisma }: ActivityDeps) {
  return async function settleZeroInvoice(ref: InvoiceRef): Promise<InvoiceSnapshot> {
    const actor = workflowActor();
    return prisma.$transaction(async (tx) => {
      const invoice = await findInvoice(tx, ref);
      if (invoice.status === 'paid') return view(invoice);
      if (!dec(invoice.total).isZero()) throw ApplicationFailure.nonRetryable(`invoice ${invoice.id} is not zero`, 'InvalidState');
      await tx.invoice.update({ where: { id: invoice.id }, data: { status: 'paid', paidAt: new Date(), finalizedAt: new Date() } });
      // Issued like any other invoice: it takes the next number.
      const number = await assignInvoiceNumber(tx, ref.organizationId, invoice.id);
      await emitInvoiceEvent(tx, ref.organizationId, invoice.id, 'invoice.paid');
      await writeAudit(tx, { organizationId: ref.organizationId, actor, action: 'invoice.settled_zero', entityType: 'invoice', entityId: invoice.id, before: { status: invoice.status }, after: { status: 'paid', number, stripe: 'not sent: zero amount' } });
      return view(await findInvoice(tx, ref));
    }, TX_OPTIONS);
  };
}

export interface QueueNotificationInput {
  organizationId: string;
  kind: string;
  /** one notification per key, however often the activity runs */
  dedupeKey: string;
  payload: Record<string, unknown>;
}

/** Puts a notification in the outbox (deliverNotifications sends it). */
export function queueNotification({ prisma }: ActivityDeps) {
  return async function queueNotification(input: QueueNotificationInput): Promise<{ queued: boolean }> {
    const rows = await prisma.$executeRaw`
      INSERT INTO notifications (id, organization_id, kind, dedupe_key, payload)
      VALUES (gen_random_uuid(), ${input.organizationId}::uuid, ${input.kind}, ${input.dedupeKey}, ${JSON.stringify(input.payload)}::jsonb)
      ON CONFLICT (organization_id, dedupe_key) DO NOTHING`;
    return { queued: rows > 0 };
  };
}

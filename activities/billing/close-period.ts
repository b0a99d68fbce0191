import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { formatMoney } from '../../billing/currency';
import { inSlice } from '../../billing/dimension-slices';
import { dec, toPlainString, type Dec } from '../../billing/decimal';
import {
  billedOf,
  draftInput,
  groupLateEvents,
  lateGroupsToBill,
  lateMeter,
  lateUsage,
  meterOf,
  meterUsage,
  periodPlans,
  pricedMeter,
  type MeterRef,
} from '../../billing/draft-inputs';
import { formatDay, nextUtcMidnight } from '../../billing/calendar';
import { asBilled, pricedSegments, type PricedSegment } from '../../billing/usage-segments';
import type { BillingPeriod } from '../../billing/billing-period';
import { creditedInFull } from '../../billing/credit-notes';
import { draftInvoice, type DraftLine, type LateUsage, type MeterUsage } from '../../billing/invoice-draft';
import { awaitsRedraft, type InvoiceStatus } from '../../billing/invoice-status';
import { uncoveredRanges, type TimeRange } from '../../billing/uncovered-ranges';
import { auditRowsSql, deciderActor, type AuditEntry } from '../../prisma/audit';
import { eventsAwaitingBurn, type AwaitingBurn } from '../../prisma/credit-ledger';
import { emitInvoiceEvent, eventWantedSql } from '../../prisma/webhook-events';
import {
  latePricing,
  readBilledUsage,
  readCloseInputs,
  readPeriodStandings,
  readPeriodsBilledWhole,
  readUnbilledEvents,
  type Db,
  type LatePricing,
  type PlanPriceRow,
  type SubscriptionTerms,
} from '../../prisma/billing-reads';
import { Prisma } from '../../prisma/client';
import { inTransaction } from '../../prisma/pg';
import { pgRawDb, type RawDb } from '../../prisma/raw-db';
import { aggregateUsage, type UsageAggregate } from '../../prisma/usage-aggregates';
import {
  billableFor,
  claimsSql,
  lockCustomerUsage,
  meterRef,
  notHeldFor,
  lateClaimsSql,
  readLiveClaims,
  releaseClaimsOf,
  releaseLateClaimsOf,
  type LateClaim,
  type NewClaim,
} from '../../prisma/usage-claims';
import type { BillingRunInput } from '../../temporal/billing-messages';
import { ingestWorkflowId } from '../../temporal/names';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor, workflowClock } from '../workflow-actor';
import { draftedStanding, readStanding, type InvoiceStanding } from './decisions';
import { upsertSnapshots } from './snapshots';

/** What the billing run needs to go on after the close. */
export interface ClosedPeriod {
  invoiceId: string;
  status: InvoiceStatus;
  /** decimal string at the currency's minor unit */
  total: string;
  currency: string;
  lineCount: number;
  draftedAt: string;
  approvalReminderHours: number;
  autoApproveAfterHours: number | null;
  paymentRetryDays: number[];
  /** where the invoice stands after the close, when the close was asked for it (`withStanding`) */
  standing?: InvoiceStanding;
}

/**
 * The close, or (`redraft`) finance's re-draft of the period's latest invoice revision: a rejected
 * or void one, or one credited in full (a re-issue, billing/reissue.ts).
 */
export interface ClosePeriodInput extends BillingRunInput {
  redraft?: { of: string; by: string; reason: string };
  /**
   * The workflow's time, sent by a close run as a local activity: its attempt is scheduled by the worker's clock,
   * not the workflow's (they differ in a time-skipping test), and the draft's time is what reminders count from.
   */
  workflowTime?: string;
  /**
   * return the invoice's standing with the close (a run that closed locally: no read of its own): as this close wrote
   * the draft, or, for an invoice it converged on, as the database has it after the close
   */
  withStanding?: boolean;
}

/** Pre-chosen line ids let events be claimed for a line before the line row is written (same transaction). */
interface PendingUsage extends MeterUsage {
  lineId: string;
}
interface PendingLate extends LateUsage {
  lineId: string;
}

/**
 * Claims the period's unbilled usage for its usage lines, one line per
 * stretch of the period (billing/usage-segments.ts) and price its plan has
 * (a meter, or a slice of a dimensional one): a line claims its stretch as a
 * range of its slice (prisma/usage-claims.ts) and bills what PostgreSQL
 * aggregates of it (prisma/usage-aggregates.ts); no event row is read into
 * Node or rewritten. What is claimed is exactly what is billed. Each meter's
 * days (and values of its dimension) are snapshotted once, and each line
 * lists the snapshots of the days and values its own events fall on.
 */
async function claimPeriodUsage(tx: RawDb, sub: SubscriptionTerms, segments: readonly PricedSegment[], takenAt: Date): Promise<{ usage: PendingUsage[]; claims: NewClaim[] }> {
  const period = { start: segments[0]!.start, end: segments[segments.length - 1]!.end };
  const scope = { organizationId: sub.organizationId, customerExternalId: sub.customer.externalId };
  const meterIds = [...new Set(segments.flatMap((s) => s.prices.map((p) => p.meter.id)))];
  // Stretches another subscription of this customer already claimed for a meter stay its own.
  const live = await readLiveClaims(tx, { ...scope, meterIds, from: period.start, to: period.end });
  const lines: { lineId: string; price: PlanPriceRow; meter: MeterRef; segment: PricedSegment; parts: TimeRange[]; usage: UsageAggregate }[] = [];
  for (const segment of segments) {
    for (const price of segment.prices as PlanPriceRow[]) {
      const meter = pricedMeter(price, segment.prices);
      const parts = uncoveredRanges(segment, live.filter((c) => c.meterId === meter.id));
      const usage = await aggregateUsage(tx, meter, { ...scope, eventType: meter.eventType, ranges: parts, where: notHeldFor(meterRef(meter.id)) });
      lines.push({ lineId: randomUUID(), price, meter, segment, parts, usage });
    }
  }
  // Snapshots are per meter, day and value of its dimension, whichever price bills them: each meter is read once
  // over every stretch it is priced in (a day a plan change splits is one snapshot), unless one line read it whole.
  const snapshotOf = new Map<string, string>();
  const readingKey = (meterId: string, r: { day: Date; dimensionValue?: string }) => `${meterId}|${formatDay(r.day)}|${r.dimensionValue ?? ''}`;
  for (const meterId of meterIds) {
    const own = lines.filter((l) => l.meter.id === meterId);
    const meter = meterOf(own[0]!.price.meter);
    const ranges = [...new Map(own.flatMap((l) => l.parts).map((p) => [`${p.start.getTime()}|${p.end.getTime()}`, p])).values()].sort((a, b) => a.start.getTime() - b.start.getTime());
    const days =
      own.length === 1 && !own[0]!.meter.slice
        ? own[0]!.usage.days
        : (await aggregateUsage(tx, meter, { ...scope, eventType: meter.eventType, ranges, where: notHeldFor(meterRef(meterId)) })).days;
    const ids = await upsertSnapshots(tx, { organizationId: sub.organizationId, customerId: sub.customerId, meterId, takenAt }, days);
    days.forEach((r, i) => snapshotOf.set(readingKey(meterId, r), ids[i]!));
  }
  const usage = lines.map(({ lineId, price, segment, usage }) => {
    const snapshotIds = [...new Set(usage.days.map((d) => snapshotOf.get(readingKey(price.meter.id, d))!))];
    // One stretch (no plan change in the period): the line covers the period, as it always has.
    const stretch = segments.length > 1 ? { segment: { start: segment.start, end: segment.end, planName: segment.plan.name } } : {};
    return { lineId, ...meterUsage(price, segment.prices, usage.quantity, snapshotIds, usage.credited), ...stretch };
  });
  const claims = lines.flatMap(({ lineId, meter, parts }) =>
    parts.map((p) => ({ invoiceLineId: lineId, customerExternalId: sub.customer.externalId, meterId: meter.id, eventType: meter.eventType, start: p.start, end: p.end, slice: meter.slice })),
  );
  return { usage, claims };
}

/**
 * Events of earlier periods that arrived after those periods closed (no
 * claim saw them): claimed one by one for each priced meter of their type
 * (a late line of each meter bills them), grouped by meter and period (and
 * stretch of it, when a plan change split it; priced by the plan of that
 * stretch), and billed as the difference between what that usage costs now
 * and what it was billed. Events a written-off invoice holds were forgiven:
 * they count in neither. A period whose rejected draft waits for finance
 * keeps its late events for its next revision. The claims are written with
 * the lines they name (writeDraft).
 */
async function claimLateUsage(
  tx: RawDb,
  sub: SubscriptionTerms,
  stretchesOf: (period: BillingPeriod) => PricedSegment[],
  priced: LatePricing,
  start: Date,
  takenAt: Date,
): Promise<{ lines: PendingLate[]; claims: LateClaim[] }> {
  const none = { lines: [], claims: [] };
  if (sub.startDate.getTime() >= start.getTime()) return none;
  const scope = { organizationId: sub.organizationId, customerExternalId: sub.customer.externalId };
  const late = await readUnbilledEvents(tx, { ...scope, ...priced, from: sub.startDate, to: start }, true);
  if (late.length === 0) return none;
  // Only a close with late events reads how earlier periods stand and were billed: most closes have none.
  const ref = { organizationId: sub.organizationId, subscriptionId: sub.id };
  const [standings, billedWhole] = [await readPeriodStandings(tx, ref), await readPeriodsBilledWhole(tx, ref)];
  const when = new Map(late.map((e) => [e.id, e.timestamp]));
  const result: { lines: PendingLate[]; claims: LateClaim[] } = { lines: [], claims: [] };
  for (const g of lateGroupsToBill(groupLateEvents(sub, asBilled(stretchesOf, billedWhole), late), standings)) {
    const lineId = randomUUID();
    result.claims.push({ invoiceLineId: lineId, meterId: g.price.meter.id, eventIds: g.eventIds });
    const meter = lateMeter(g);
    const billable = { ...scope, eventType: meter.eventType, where: billableFor(meterRef(meter.id)) };
    // Re-snapshot the days the late events fall on (the whole meter: snapshots are per value, not per price), so
    // snapshots show the usage as it now stands; the line lists those of its slice.
    const lateDays = [...new Set(g.eventIds.map((id) => formatDay(when.get(id)!)))].sort();
    const dayRanges = lateDays.map((day) => ({ start: new Date(`${day}T00:00:00.000Z`), end: nextUtcMidnight(new Date(`${day}T00:00:00.000Z`)) }));
    const { days } = await aggregateUsage(tx, meterOf(g.price.meter), { ...billable, ranges: dayRanges });
    const ids = await upsertSnapshots(tx, { organizationId: sub.organizationId, customerId: sub.customerId, meterId: meter.id, takenAt }, days);
    const snapshotIds = ids.filter((_, i) => inSlice(meter.slice, days[i]!.dimensionValue ?? null));
    const stretch = g.stretch ?? g.period;
    const billed = billedOf(await readBilledUsage(tx, { organizationId: sub.organizationId, subscriptionId: sub.id, periodStart: stretch.start }), g);
    const now = await aggregateUsage(tx, meter, { ...billable, ranges: [stretch] });
    result.lines.push({ lineId, ...lateUsage(g, now, billed?._sum, snapshotIds) });
  }
  return result;
}

/** Why a wallet customer's close waits (shown in the Temporal UI as the activity's last failure): what, and for a failed batch what ops do. */
function awaitingBurnMessage(customer: string, end: Date, awaiting: AwaitingBurn): string {
  const base = `customer ${customer} has a credit wallet and ${awaiting.events} events before ${end.toISOString()} that ingest has not processed yet (they have not burned their credits); the close waits for them`;
  if (awaiting.failed.length === 0) return base;
  const batches = awaiting.failed.map((b) => `${ingestWorkflowId(b.batchId)} (${b.events} events)`).join(', ');
  return `${base}. Ingest workflows that ended without processing theirs (marked failed): ${batches}; reset or start them again in the Temporal UI, and the close goes on`;
}

/** An invoice line as a row of the close's one INSERT (jsonb_to_recordset): decimals as strings, no float on the way. */
function lineRow(line: DraftLine, position: number, id: string) {
  return {
    id,
    position,
    kind: line.kind,
    description: line.description,
    meter_id: line.meterId,
    dimension_value: line.dimensionValue,
    quantity: line.quantity === null ? null : toPlainString(line.quantity),
    credited_quantity: line.creditedQuantity === null ? null : toPlainString(line.creditedQuantity),
    included_units: line.includedUnits === null ? null : toPlainString(line.includedUnits),
    amount: toPlainString(line.amount),
    tiers: line.tiers.map((t) => ({
      from: toPlainString(t.from),
      to: t.to === null ? null : toPlainString(t.to),
      quantity: toPlainString(t.quantity),
      unit_amount: toPlainString(t.unitAmount),
      flat_amount: toPlainString(t.flatAmount),
      amount: toPlainString(t.amount),
    })),
    period_start: line.periodStart.toISOString(),
    period_end: line.periodEnd.toISOString(),
    snapshot_ids: line.snapshotIds,
  };
}

/** The draft's lines as one INSERT (a part of writeDraft's statement). */
const linesSql = (organizationId: string, invoiceId: string, lines: ReturnType<typeof lineRow>[]): Prisma.Sql => Prisma.sql`
  INSERT INTO invoice_lines (id, organization_id, invoice_id, position, kind, description, meter_id, dimension_value, quantity, credited_quantity, included_units, amount, tiers, period_start, period_end, snapshot_ids)
  SELECT l.id, ${organizationId}::uuid, ${invoiceId}::uuid, l.position, l.kind, l.description, l.meter_id, l.dimension_value, l.quantity, l.credited_quantity, l.included_units, l.amount, l.tiers, l.period_start, l.period_end, l.snapshot_ids
  FROM jsonb_to_recordset(${JSON.stringify(lines)}::jsonb) AS l(id uuid, position int, kind invoice_line_kind, description text, meter_id uuid, dimension_value text, quantity numeric, credited_quantity numeric, included_units numeric,
                                                          amount numeric, tiers jsonb, period_start timestamptz, period_end timestamptz, snapshot_ids uuid[])`;

/** The columns `summary` reads, as the close's statements return them. */
interface InvoiceRow {
  id: string;
  status: InvoiceStatus;
  total: string;
  currency: string;
  createdAt: Date;
  lineCount: number;
}
const INVOICE_ROW = Prisma.sql`i.id, i.status::text AS status, i.total::text AS total, i.currency, i.created_at AS "createdAt",
  (SELECT count(*)::int FROM invoice_lines l WHERE l.invoice_id = i.id) AS "lineCount"`;

function summary(
  invoice: { id: string; status: ClosedPeriod['status']; total: Dec | { toString(): string }; currency: string; createdAt: Date },
  lineCount: number,
  org: Pick<SubscriptionTerms['organization'], 'approvalReminderHours' | 'autoApproveAfterHours' | 'paymentRetryDays'>,
): ClosedPeriod {
  return {
    invoiceId: invoice.id,
    status: invoice.status,
    total: formatMoney(dec(invoice.total), invoice.currency),
    currency: invoice.currency,
    lineCount,
    draftedAt: invoice.createdAt.toISOString(),
    approvalReminderHours: org.approvalReminderHours,
    autoApproveAfterHours: org.autoApproveAfterHours,
    paymentRetryDays: org.paymentRetryDays,
  };
}

interface DraftWrite {
  invoice: {
    id: string;
    organizationId: string;
    subscriptionId: string;
    customerId: string;
    start: Date;
    end: Date;
    currency: string;
    /** decimal string */
    total: string;
    revision: number;
    createdAt: Date;
    workflowId: string;
    runId: string;
  };
  lines: ReturnType<typeof lineRow>[];
  claims: readonly NewClaim[];
  lateClaims: readonly LateClaim[];
  audit: readonly AuditEntry[];
}

/**
 * Writes the draft in one statement (one round trip; a period end runs ten thousand closes): the invoice, its lines,
 * their usage and late-usage claims and the audit rows, each a data-modifying WITH. Its parts see the transaction's
 * snapshot, not each other's rows, so none reads what another writes: the ids are chosen here and each claim is given
 * its invoice. Foreign keys (a line's invoice, a claim's line) are checked as the statement ends, all of it written.
 * A range claim leaves out the late events late lines held before this close, not this draft's own: those are of
 * earlier periods, never in its range. Also says whether an endpoint of the organization takes `invoice.drafted`.
 */
async function writeDraft(tx: RawDb, d: DraftWrite): Promise<InvoiceRow & { webhookWanted: boolean }> {
  const i = d.invoice;
  const [row] = await tx.$queryRaw<(InvoiceRow & { webhookWanted: boolean })[]>`
    WITH invoice AS (
      INSERT INTO invoices AS i (id, organization_id, subscription_id, customer_id, period_start, period_end, currency, total, revision, created_at, updated_at, workflow_id, workflow_run_id)
      VALUES (${i.id}::uuid, ${i.organizationId}::uuid, ${i.subscriptionId}::uuid, ${i.customerId}::uuid, ${i.start}, ${i.end}, ${i.currency},
              ${i.total}::numeric, ${i.revision}, ${i.createdAt}, now(), ${i.workflowId}, ${i.runId})
      RETURNING i.id, i.status::text AS status, i.total::text AS total, i.currency, i.created_at AS "createdAt"
    ), lines AS (${linesSql(i.organizationId, i.id, d.lines)}
    ), claims AS (${claimsSql(i.organizationId, i.id, d.claims)}
    ), late_claims AS (${lateClaimsSql(i.organizationId, d.lateClaims)}
    ), audit AS (${auditRowsSql(d.audit)})
    SELECT invoice.*, 0 AS "lineCount", ${eventWantedSql(i.organizationId, 'invoice.drafted')} AS "webhookWanted" FROM invoice`;
  return row!;
}

/** The latest revision of a period's invoice that this billing run drafted, if another run drafted a later one. */
async function ownLatestRevision(db: RawDb, subscriptionId: string, periodStart: Date, workflowId: string): Promise<InvoiceRow | undefined> {
  const [row] = await db.$queryRaw<InvoiceRow[]>`
    SELECT ${INVOICE_ROW} FROM invoices i
    WHERE i.subscription_id = ${subscriptionId}::uuid AND i.period_start = ${periodStart} AND i.kind = 'period' AND i.workflow_id = ${workflowId}
    ORDER BY i.revision DESC LIMIT 1`;
  return row;
}

/** A recovery run has nothing to close: its invoice was drafted by the reconciliation (activities/reconcile/recovery.ts). */
async function recoveryInvoice(db: Db, organizationId: string, invoiceId: string): Promise<ClosedPeriod> {
  const invoice = await db.invoice.findFirst({
    where: { id: invoiceId, organizationId, kind: 'recovery' },
    include: { organization: { select: { approvalReminderHours: true, autoApproveAfterHours: true, paymentRetryDays: true } }, _count: { select: { lines: true } } },
  });
  if (!invoice) throw ApplicationFailure.nonRetryable(`recovery invoice ${invoiceId} not found in organization ${organizationId}`, 'NotFound');
  return summary(invoice, invoice._count.lines, invoice.organization);
}

/**
 * Closes a period into a draft invoice, in one REPEATABLE READ transaction:
 * claims the period's events (and late events of earlier periods) line by
 * line, snapshots their days, prices the lines and writes the invoice with an
 * audit row. The invoice's (subscription, period start) key makes a repeated
 * close return the invoice already drafted, so retries and resets converge.
 * Its statements go through plain pg, not Prisma (prisma/raw-db.ts says why).
 */
export function closePeriod({ prisma, pool }: ActivityDeps) {
  return async function closePeriod(input: ClosePeriodInput): Promise<ClosedPeriod> {
    if (input.recovery) return recoveryInvoice(prisma, input.organizationId, input.recovery.invoiceId);
    const actor = workflowActor();
    const start = new Date(input.periodStart);
    const end = new Date(input.periodEnd);
    const takenAt = new Date();
    const { closed, standing } = await inTransaction(
      pool,
      async (client): Promise<{ closed: ClosedPeriod; standing?: InvoiceStanding }> => {
        const tx = pgRawDb(client);
        const inputs = await readCloseInputs(tx, { organizationId: input.organizationId, subscriptionId: input.subscriptionId, periodStart: start });
        if (!inputs) throw ApplicationFailure.nonRetryable(`subscription ${input.subscriptionId} not found in organization ${input.organizationId}`, 'NotFound');
        const { subscription: sub, existing, changes } = inputs;
        // A repeated close (or re-draft) converges on the latest revision; only a re-draft of a rejected, void or fully credited one makes another.
        if (existing && !(input.redraft?.of === existing.id && (awaitsRedraft(existing.status) || creditedInFull(existing)))) {
          if (existing.workflowId === actor.id) return { closed: summary(existing, existing.lineCount, sub.organization) };
          // Another run drafted the latest revision (a re-issue): this run keeps to the revision it drafted (its
          // standing read then says it was replaced, and the run ends); a re-draft it was asked for is refused.
          const own = await ownLatestRevision(tx, sub.id, start, actor.id);
          if (own) return { closed: summary(own, own.lineCount, sub.organization) };
          if (input.redraft) {
            throw ApplicationFailure.nonRetryable(`invoice ${input.redraft.of} was re-drafted already; the period's latest revision is invoice ${existing.id} (${existing.status})`, 'InvalidState');
          }
          // (a close from outside a billing run, e.g. a test or a script, converges on the latest revision)
          return { closed: summary(existing, existing.lineCount, sub.organization) };
        }
        const revision = existing ? existing.revision + 1 : 1;
        // Concurrent closes of this customer's usage conflict here; the later one is retried and sees the other's claims.
        await lockCustomerUsage(tx, sub.organizationId, sub.customerId);
        // A wallet customer's usage is billed net of the credits it burned: wait (the activity is retried) until
        // ingest has processed its events of the period, or of earlier ones, so none is billed in full and then burned.
        const awaiting = await eventsAwaitingBurn(tx, { organizationId: sub.organizationId, customerId: sub.customerId, customerExternalId: sub.customer.externalId, before: end });
        if (awaiting.events > 0) throw ApplicationFailure.retryable(awaitingBurnMessage(sub.customer.externalId, end, awaiting), 'EventsAwaitingBurn');
        const redraftOf = existing && input.redraft ? existing : null;
        const supersede = (by: string) => tx.$executeRaw`UPDATE invoices SET superseded_by_id = ${by}::uuid, updated_at = now() WHERE id = ${redraftOf!.id}::uuid`;
        // A re-draft: the replaced revision bills nothing from here on, so what late usage reads as billed leaves it
        // out (it names itself until its successor is written below), and it gives its events back to be claimed
        // anew; its lines and audit trail stay.
        if (redraftOf) await supersede(redraftOf.id);
        const released = redraftOf
          ? {
              claims: await releaseClaimsOf(tx, sub.organizationId, redraftOf.id),
              lateEvents: await releaseLateClaimsOf(tx, sub.organizationId, redraftOf.id),
            }
          : null;

        const period = { start, end };
        const plans = periodPlans(sub, changes, period);
        const stretchesOf = pricedSegments(sub.plan, changes, sub.startDate, inputs.pricesByPlan);
        const { usage, claims } = await claimPeriodUsage(tx, sub, stretchesOf(period), takenAt);
        const allPrices = [...inputs.pricesByPlan.values()].flat();
        const late = await claimLateUsage(tx, sub, stretchesOf, latePricing(allPrices), start, takenAt);
        const draft = draftInvoice(draftInput(sub, period, plans, usage, late.lines));
        const lineIds = [
          ...draft.lines.filter((l) => l.kind !== 'usage' && l.kind !== 'late_usage').map(() => randomUUID()),
          ...usage.map((u) => u.lineId),
          ...late.lines.map((l) => l.lineId),
        ];
        const invoiceId = randomUUID();
        const currency = sub.plan.currency;
        const audit: AuditEntry[] = [];
        if (redraftOf) {
          audit.push({
            organizationId: sub.organizationId,
            actor: deciderActor(input.redraft!.by),
            action: 'invoice.redrafted',
            entityType: 'invoice',
            entityId: redraftOf.id,
            before: { status: redraftOf.status, revision: redraftOf.revision },
            after: { reason: input.redraft!.reason, redraftedAs: invoiceId, revision, releasedClaims: released?.claims ?? 0, releasedLateEvents: released?.lateEvents ?? 0, workflowId: actor.id, runId: actor.type === 'workflow' ? actor.runId : null },
          });
        }
        audit.push({
          organizationId: sub.organizationId,
          actor,
          action: 'invoice.drafted',
          entityType: 'invoice',
          entityId: invoiceId,
          after: {
            subscriptionId: sub.id,
            periodStart: input.periodStart,
            periodEnd: input.periodEnd,
            currency,
            total: formatMoney(draft.total, currency),
            lines: draft.lines.map((l) => ({ kind: l.kind, description: l.description, amount: formatMoney(l.amount, currency) })),
            lateEvents: new Set(late.claims.flatMap((c) => c.eventIds)).size,
            ...(redraftOf ? { revision, redraftOf: redraftOf.id, redraftedBy: input.redraft!.by, reason: input.redraft!.reason } : {}),
          },
        });
        const invoice = await writeDraft(tx, {
          invoice: {
            id: invoiceId,
            organizationId: sub.organizationId,
            subscriptionId: sub.id,
            customerId: sub.customerId,
            start,
            end,
            currency,
            total: toPlainString(draft.total),
            revision,
            // on the workflow's clock: approval reminders and auto-approval count from it
            createdAt: input.workflowTime ? new Date(input.workflowTime) : workflowClock(),
            workflowId: actor.id,
            runId: actor.type === 'workflow' ? actor.runId : '',
          },
          lines: draft.lines.map((line, i) => lineRow(line, i + 1, lineIds[i]!)),
          claims,
          lateClaims: late.claims,
          audit,
        });
        if (invoice.webhookWanted) await emitInvoiceEvent(tx, sub.organizationId, invoice.id, 'invoice.drafted', { wanted: true });
        // From now on the new revision bills the period; the one it replaces bills nothing (prisma/billed-invoices.ts).
        if (redraftOf) await supersede(invoice.id);
        return { closed: summary(invoice, draft.lines.length, sub.organization), standing: draftedStanding(invoice) };
      },
      { repeatableRead: true, timeoutMs: TX_OPTIONS.timeout },
    );
    if (!input.withStanding) return closed;
    // A draft this close wrote stands as it wrote it; one it converged on is read as it stands now.
    return { ...closed, standing: standing ?? (await readStanding(pool, { organizationId: input.organizationId, invoiceId: closed.invoiceId })) };
  };
}

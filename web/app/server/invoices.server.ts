import { data, type AppLoadContext } from 'react-router';
import { dec, toPlainString } from '../../../billing/decimal';
import { CREDITABLE_STATUSES } from '../../../billing/credit-notes';
import { planReissue } from '../../../billing/reissue';
import { readPeriodRecoveries, reissueCandidate } from '../../../prisma/reissue-candidates';
import { countLineEvents, readLineEvents } from '../../../prisma/usage-claims';
import { money } from './money.server';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const day = (d: Date): string => d.toISOString().slice(0, 10);

export interface InvoiceSummary {
  id: string;
  customer: string;
  period: string;
  status: string;
  total: string;
}

/** Drafts waiting for a decision, and the most recent invoices of any status. */
export async function listInvoices(context: AppLoadContext, organizationId: string): Promise<{ drafts: InvoiceSummary[]; recent: InvoiceSummary[] }> {
  const include = { customer: { select: { externalId: true, name: true } } } as const;
  const [drafts, recent] = await Promise.all([
    context.prisma.invoice.findMany({ where: { organizationId, status: 'draft' }, include, orderBy: [{ periodStart: 'asc' }, { id: 'asc' }], take: 200 }),
    context.prisma.invoice.findMany({ where: { organizationId, status: { not: 'draft' } }, include, orderBy: [{ updatedAt: 'desc' }, { id: 'asc' }], take: 50 }),
  ]);
  const summary = (i: (typeof drafts)[number]): InvoiceSummary => ({
    id: i.id,
    customer: i.customer.name ?? i.customer.externalId,
    period: `${day(i.periodStart)} – ${day(i.periodEnd)}${i.kind === 'recovery' ? ' (recovery)' : ''}`,
    status: i.status,
    total: money(i.total, i.currency),
  });
  return { drafts: drafts.map(summary), recent: recent.map(summary) };
}

/** This organization's invoice, or a 404 (another organization's looks exactly like a missing one). */
export async function findInvoice(context: AppLoadContext, organizationId: string, id: string | undefined) {
  const invoice = id && UUID.test(id) ? await context.prisma.invoice.findFirst({ where: { id, organizationId }, include: { customer: true } }) : null;
  if (!invoice) throw data({ message: 'No such invoice.' }, { status: 404 });
  return invoice;
}

export interface TierRow {
  range: string;
  quantity: string;
  unitAmount: string;
  amount: string;
}

interface StoredTier {
  from: string;
  to: string | null;
  quantity: string;
  unit_amount: string;
  amount: string;
}

/** An invoice with its lines (each with its tier breakdown) and its audit history, newest last. */
export async function readInvoice(context: AppLoadContext, organizationId: string, id: string | undefined) {
  const invoice = await findInvoice(context, organizationId, id);
  const [lines, audit, revisions, creditNotes, recoveries] = await Promise.all([
    context.prisma.invoiceLine.findMany({ where: { invoiceId: invoice.id, organizationId }, orderBy: { position: 'asc' } }),
    context.prisma.auditLog.findMany({ where: { organizationId, entityType: 'invoice', entityId: invoice.id }, orderBy: { id: 'asc' } }),
    context.prisma.invoice.findMany({
      where: { organizationId, subscriptionId: invoice.subscriptionId, periodStart: invoice.periodStart, recoveryFindingId: invoice.recoveryFindingId },
      select: { id: true, revision: true, status: true },
      orderBy: { revision: 'asc' },
    }),
    context.prisma.creditNote.findMany({ where: { organizationId, invoiceId: invoice.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
    readPeriodRecoveries(context.prisma, invoice),
  ]);
  const leftToCredit = creditNotes.filter((n) => n.status !== 'failed').reduce((left, n) => left.minus(dec(n.amount)), dec(invoice.total));
  const reissue = planReissue(reissueCandidate({ ...invoice, creditNotes }, recoveries));
  return {
    id: invoice.id,
    customer: invoice.customer.name ?? invoice.customer.externalId,
    period: `${day(invoice.periodStart)} – ${day(invoice.periodEnd)}`,
    status: invoice.status,
    currency: invoice.currency,
    total: money(invoice.total, invoice.currency),
    workflowId: invoice.workflowId,
    revision: invoice.revision,
    number: invoice.number,
    /** how it is collected once finalized: charged to the customer's card, or sent to pay by its due date (UTC) on Stripe's page */
    collection:
      invoice.collectionMethod === 'send_invoice'
        ? { sent: true, due: invoice.dueAt ? invoice.dueAt.toISOString().replace('T', ' ').slice(0, 16) : null, payPage: invoice.hostedInvoiceUrl }
        : invoice.collectionMethod === 'charge_automatically'
          ? { sent: false, due: null, payPage: invoice.hostedInvoiceUrl }
          : null,
    /** every revision of the period's invoice, oldest first (one unless a rejected draft was re-drafted) */
    revisions,
    /** whether this is the period's latest revision, the one its billing run bills */
    latest: revisions.at(-1)?.id === invoice.id,
    rejectionReason: invoice.rejectionReason,
    writtenOffBy: invoice.writtenOffBy,
    writeOffReason: invoice.writeOffReason,
    voidedBy: invoice.voidedBy,
    voidReason: invoice.voidReason,
    /** the leak finding a recovery invoice recovers */
    recoveryFindingId: invoice.recoveryFindingId || null,
    /** finalized in Stripe with something left to credit: finance may issue a credit note */
    creditable: (CREDITABLE_STATUSES as readonly string[]).includes(invoice.status) && invoice.stripeInvoiceId !== null && leftToCredit.gt(0),
    leftToCredit: money(leftToCredit, invoice.currency),
    /**
     * An uncollectible invoice, or one credited in full: finance may re-issue the period as a corrected
     * invoice (voided in Stripe first when `voidFirst`). Rejected and void ones have their own re-draft
     * form; an open one being collected is voided first.
     */
    reissue: reissue.ok && (invoice.status === 'uncollectible' || invoice.status === 'paid') ? { voidFirst: reissue.voidFirst } : null,
    /** credit notes on the invoice (POST /api/v1/invoices/:id/credit-notes), oldest first */
    creditNotes: creditNotes.map((n) => ({
      id: n.id,
      number: n.number,
      status: n.status,
      amount: money(n.amount, invoice.currency),
      reason: n.reason,
      requestedBy: n.requestedBy,
      failure: n.failure,
    })),
    lines: lines.map((l) => ({
      id: l.id,
      kind: l.kind,
      description: l.description,
      quantity: l.quantity?.toString() ?? null,
      creditedQuantity: l.creditedQuantity?.toString() ?? null,
      amount: money(l.amount, invoice.currency),
      hasUsage: l.snapshotIds.length > 0,
      tiers: (l.tiers as unknown as StoredTier[]).map(
        (t): TierRow => ({ range: `${t.from} – ${t.to ?? '∞'}`, quantity: t.quantity, unitAmount: t.unit_amount, amount: money(t.amount, invoice.currency) }),
      ),
    })),
    audit: audit.map((a) => ({
      id: a.id.toString(),
      at: a.createdAt.toISOString(),
      action: a.action,
      actor: `${a.actorType}: ${a.actorId}`,
      detail: a.after === null ? '' : JSON.stringify(a.after),
    })),
  };
}

/** Drill-down: one line, the daily snapshots behind it, and the events it billed (first 200). */
export async function readInvoiceLine(context: AppLoadContext, organizationId: string, invoiceId: string | undefined, lineId: string | undefined) {
  const invoice = await findInvoice(context, organizationId, invoiceId);
  const line = lineId && UUID.test(lineId) ? await context.prisma.invoiceLine.findFirst({ where: { id: lineId, invoiceId: invoice.id, organizationId } }) : null;
  if (!line) throw data({ message: 'No such invoice line.' }, { status: 404 });
  const [snapshots, events, eventCount] = await Promise.all([
    context.prisma.usageSnapshot.findMany({ where: { id: { in: line.snapshotIds }, organizationId }, orderBy: { day: 'asc' } }),
    readLineEvents(context.prisma, { organizationId, lineId: line.id, limit: 200 }),
    countLineEvents(context.prisma, { organizationId, lineId: line.id }),
  ]);
  return {
    invoice: { id: invoice.id, customer: invoice.customer.name ?? invoice.customer.externalId, period: `${day(invoice.periodStart)} – ${day(invoice.periodEnd)}` },
    line: { description: line.description, quantity: line.quantity?.toString() ?? null, amount: money(line.amount, invoice.currency) },
    snapshots: snapshots.map((s) => ({ id: s.id, day: day(s.day), quantity: s.quantity.toString(), events: s.eventCount })),
    events: events.map((e) => ({ id: e.id, at: e.timestamp.toISOString(), type: e.event_type, quantity: toPlainString(dec(e.quantity)), key: e.idempotency_key })),
    eventCount,
  };
}

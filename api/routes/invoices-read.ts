import { formatMoney, toStripeAmount } from '../../billing/currency';
import { dec, toPlainString } from '../../billing/decimal';
import type { InvoiceLineModel, InvoiceModel, PrismaClient, UsageSnapshotModel } from '../../prisma/client';
import { ApiError } from '../errors';
import { decodeCursor, encodeCursor } from '../ingest/list-events';
import { route, type RouteTable } from '../route-table';
import { InvoiceLineParamsSchema, InvoiceListQuerySchema, InvoicePageSchema, InvoiceParamsSchema, InvoiceSchema, LineEventPageSchema, LineEventsQuerySchema } from '../schemas/invoices';
import { readLineEvents } from '../../prisma/usage-claims';
import { creditNoteJson, readCreditNotes } from './credit-notes';
import { UUID } from './catalog-common';

export type InvoiceRow = InvoiceModel & { customer: { externalId: string } };

const plain = (v: { toString(): string } | null): string | null => (v === null ? null : toPlainString(dec(v)));
const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

/**
 * The invoice with this id in the caller's organization, or a 404: another
 * organization's invoice is indistinguishable from one that does not exist.
 */
export async function findInvoice(prisma: PrismaClient, organizationId: string, id: string): Promise<InvoiceRow> {
  const notFound = new ApiError(404, 'NOT_FOUND', `No invoice ${id}`);
  if (!UUID.test(id)) throw notFound;
  const invoice = await prisma.invoice.findFirst({ where: { id, organizationId }, include: { customer: { select: { externalId: true } } } });
  if (!invoice) throw notFound;
  return invoice;
}

function invoiceSummaryJson(i: InvoiceRow) {
  const total = dec(i.total);
  return {
    id: i.id,
    subscription_id: i.subscriptionId,
    customer_id: i.customerId,
    customer_external_id: i.customer.externalId,
    period_start: i.periodStart.toISOString(),
    period_end: i.periodEnd.toISOString(),
    kind: i.kind as 'period' | 'recovery',
    recovery_finding_id: i.recoveryFindingId || null,
    currency: i.currency,
    status: i.status,
    total: formatMoney(total, i.currency),
    total_minor: toStripeAmount(total, i.currency),
    workflow_id: i.workflowId,
    workflow_run_id: i.workflowRunId,
    approved_by: i.approvedBy,
    approved_at: iso(i.approvedAt),
    approval_note: i.approvalNote,
    rejected_by: i.rejectedBy,
    rejected_at: iso(i.rejectedAt),
    rejection_reason: i.rejectionReason,
    revision: i.revision,
    superseded_by: i.supersededById,
    number: i.number,
    written_off_by: i.writtenOffBy,
    written_off_at: iso(i.writtenOffAt),
    write_off_reason: i.writeOffReason,
    stripe_invoice_id: i.stripeInvoiceId,
    finalized_at: iso(i.finalizedAt),
    payment_attempts: i.paymentAttempts,
    collection_method: i.collectionMethod as 'charge_automatically' | 'send_invoice' | null,
    due_at: iso(i.dueAt),
    hosted_invoice_url: i.hostedInvoiceUrl,
    paid_at: iso(i.paidAt),
    uncollectible_at: iso(i.uncollectibleAt),
    created_at: i.createdAt.toISOString(),
    updated_at: i.updatedAt.toISOString(),
  };
}

function snapshotJson(s: UsageSnapshotModel, meterKeys: Map<string, string>) {
  return {
    id: s.id,
    meter: meterKeys.get(s.meterId) ?? s.meterId,
    dimension_value: s.dimensionValue === '' ? null : s.dimensionValue,
    day: s.day.toISOString().slice(0, 10),
    quantity: toPlainString(dec(s.quantity)),
    event_count: s.eventCount,
    cost: toPlainString(dec(s.cost)),
    revenue: toPlainString(dec(s.revenue)),
    taken_at: s.takenAt.toISOString(),
  };
}

function lineJson(l: InvoiceLineModel, currency: string, meterKeys: Map<string, string>, snapshots: Map<string, ReturnType<typeof snapshotJson>>) {
  return {
    id: l.id,
    position: l.position,
    kind: l.kind,
    description: l.description,
    meter: l.meterId === null ? null : (meterKeys.get(l.meterId) ?? null),
    dimension_value: l.dimensionValue,
    quantity: plain(l.quantity),
    credited_quantity: plain(l.creditedQuantity),
    included_units: plain(l.includedUnits),
    amount: formatMoney(dec(l.amount), currency),
    tiers: l.tiers,
    period_start: l.periodStart.toISOString(),
    period_end: l.periodEnd.toISOString(),
    snapshot_ids: l.snapshotIds,
    snapshots: l.snapshotIds.flatMap((id) => snapshots.get(id) ?? []),
    created_by: l.createdBy,
  };
}

/** Lines, the snapshots behind them and the audit trail, in four queries however many lines there are. */
async function invoiceJson(prisma: PrismaClient, invoice: InvoiceRow) {
  const organizationId = invoice.organizationId;
  const [lines, history, creditNotes] = await Promise.all([
    prisma.invoiceLine.findMany({ where: { invoiceId: invoice.id, organizationId }, orderBy: { position: 'asc' } }),
    prisma.auditLog.findMany({ where: { organizationId, entityType: 'invoice', entityId: invoice.id }, orderBy: { id: 'asc' } }),
    readCreditNotes(prisma, organizationId, invoice.id),
  ]);
  const credited = creditNotes.filter((n) => n.status === 'issued').reduce((sum, n) => sum.plus(dec(n.amount)), dec(0));
  const snapshotIds = [...new Set(lines.flatMap((l) => l.snapshotIds))];
  const snapshotRows = snapshotIds.length === 0 ? [] : await prisma.usageSnapshot.findMany({ where: { id: { in: snapshotIds }, organizationId } });
  const meterIds = [...new Set([...lines.flatMap((l) => (l.meterId === null ? [] : [l.meterId])), ...snapshotRows.map((s) => s.meterId)])];
  const meters = meterIds.length === 0 ? [] : await prisma.meter.findMany({ where: { id: { in: meterIds }, organizationId }, select: { id: true, key: true } });
  const meterKeys = new Map(meters.map((m) => [m.id, m.key]));
  const snapshots = new Map(snapshotRows.map((s) => [s.id, snapshotJson(s, meterKeys)]));
  return {
    ...invoiceSummaryJson(invoice),
    lines: lines.map((l) => lineJson(l, invoice.currency, meterKeys, snapshots)),
    credit_notes: creditNotes.map(creditNoteJson),
    credited: formatMoney(credited, invoice.currency),
    history: history.map((h) => ({
      action: h.action,
      actor: { type: h.actorType, id: h.actorId, run_id: h.runId },
      before: h.before ?? null,
      after: h.after ?? null,
      at: h.createdAt.toISOString(),
    })),
  };
}

const noInvoice = { '404': 'No such invoice in your organization' };

export const invoiceReadRoutes: RouteTable = {
  mount: '/invoices',
  routes: [
    route({
      method: 'get',
      path: '',
      summary: 'List invoices, newest period first',
      query: InvoiceListQuerySchema,
      ok: { description: 'One page of invoices (without lines)', schema: InvoicePageSchema },
      handle: async (deps, { caller, query }) => {
        const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
        // Newest period first, keyset-paged on (period_start, id).
        const rows = await deps.prisma.invoice.findMany({
          where: {
            organizationId: caller.organizationId,
            ...(query.status ? { status: query.status } : {}),
            ...(query.customer ? { customer: { externalId: query.customer } } : {}),
            ...(query.subscription ? { subscriptionId: query.subscription } : {}),
            ...(after ? { OR: [{ periodStart: { lt: after.timestamp } }, { periodStart: after.timestamp, id: { lt: after.id } }] } : {}),
          },
          orderBy: [{ periodStart: 'desc' }, { id: 'desc' }],
          take: query.limit + 1,
          include: { customer: { select: { externalId: true } } },
        });
        const page = rows.slice(0, query.limit);
        const last = page[page.length - 1];
        return {
          data: page.map(invoiceSummaryJson),
          next_cursor: rows.length > query.limit && last ? encodeCursor({ timestamp: last.periodStart, id: last.id }) : null,
        };
      },
    }),
    route({
      method: 'get',
      path: '/{id}',
      summary: 'An invoice with its lines, the snapshots behind each line, and its audit history',
      params: InvoiceParamsSchema,
      ok: { description: 'The invoice', schema: InvoiceSchema },
      errors: noInvoice,
      handle: async (deps, { caller, params }) => invoiceJson(deps.prisma, await findInvoice(deps.prisma, caller.organizationId, params.id)),
    }),
    route({
      method: 'get',
      path: '/{id}/lines/{lineId}/events',
      summary: 'The usage events an invoice line billed, oldest first',
      params: InvoiceLineParamsSchema,
      query: LineEventsQuerySchema,
      ok: { description: 'One page of events', schema: LineEventPageSchema },
      errors: { '404': 'No such invoice in your organization, or the line is not one of its lines' },
      handle: async (deps, { caller, params, query }) => {
        const { id, lineId } = params;
        const invoice = await findInvoice(deps.prisma, caller.organizationId, id);
        const noLine = new ApiError(404, 'NOT_FOUND', `Invoice ${id} has no line ${lineId}`);
        if (!UUID.test(lineId)) throw noLine;
        const line = await deps.prisma.invoiceLine.findFirst({ where: { id: lineId, invoiceId: invoice.id, organizationId: caller.organizationId }, select: { id: true } });
        if (!line) throw noLine;

        // Oldest first; a line's events are one customer's of one type in its period (an index range).
        const rows = await readLineEvents(deps.prisma, {
          organizationId: caller.organizationId,
          lineId: line.id,
          ...(query.cursor !== undefined ? { after: decodeCursor(query.cursor) } : {}),
          limit: query.limit + 1,
        });
        const page = rows.slice(0, query.limit);
        const last = page[page.length - 1];
        return {
          data: page.map((e) => ({
            id: e.id,
            idempotency_key: e.idempotency_key,
            event_type: e.event_type,
            quantity: toPlainString(dec(e.quantity)),
            timestamp: e.timestamp.toISOString(),
            customer_external_id: e.customer_external_id,
            cost: plain(e.cost),
            revenue: plain(e.revenue),
          })),
          next_cursor: rows.length > query.limit && last ? encodeCursor({ timestamp: last.timestamp, id: last.id }) : null,
        };
      },
    }),
  ],
};

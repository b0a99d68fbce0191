import type { PrismaClient } from '../../prisma/client';
import { writeAudit, type AuditActor } from '../../prisma/audit';
import type { InvoiceStatus } from '../../prisma/generated/enums';
import { TX_OPTIONS } from '../deps';
import { invoiceNotFound } from './errors';

/** Our invoice, scoped to its organization: another tenant's id is "not found". */
export async function findInvoice(prisma: PrismaClient, organizationId: string, invoiceId: string) {
  const invoice = await prisma.invoice.findFirst({ where: { id: invoiceId, organizationId } });
  if (!invoice) throw invoiceNotFound(organizationId, invoiceId);
  return invoice;
}

export interface PaymentRecord {
  organizationId: string;
  invoiceId: string;
  actor: AuditActor;
  /** the statuses a payment may move the invoice from */
  from: InvoiceStatus[];
  /** set on collection attempts; a webhook leaves the count alone */
  paymentAttempts?: number;
  /** who reported the payment: our pay call, a webhook event, or Stripe on a refused state change */
  source: 'collection' | 'webhook' | 'stripe';
  stripeEventId?: string;
}

/**
 * Marks the invoice paid and audits it, in one transaction and only on the
 * actual transition: a retried activity or a second webhook delivery writes
 * nothing. Returns whether this call made the transition.
 */
export async function recordInvoicePaid(prisma: PrismaClient, record: PaymentRecord): Promise<boolean> {
  const { organizationId, invoiceId, actor } = record;
  return prisma.$transaction(async (tx) => {
    const before = await tx.invoice.findFirst({ where: { id: invoiceId, organizationId }, select: { status: true, paymentAttempts: true, stripeInvoiceId: true } });
    if (!before) throw invoiceNotFound(organizationId, invoiceId);
    const paidAt = new Date();
    const { count } = await tx.invoice.updateMany({
      where: { id: invoiceId, organizationId, status: { in: record.from } },
      data: { status: 'paid', paidAt, ...(record.paymentAttempts !== undefined && { paymentAttempts: record.paymentAttempts }) },
    });
    if (count === 0) return false;
    await writeAudit(tx, {
      organizationId,
      actor,
      action: 'invoice.paid',
      entityType: 'invoice',
      entityId: invoiceId,
      before: { status: before.status, paymentAttempts: before.paymentAttempts },
      after: {
        status: 'paid',
        paidAt: paidAt.toISOString(),
        paymentAttempts: record.paymentAttempts ?? before.paymentAttempts,
        stripeInvoiceId: before.stripeInvoiceId,
        source: record.source,
        stripeEventId: record.stripeEventId ?? null,
      },
    });
    return true;
  }, TX_OPTIONS);
}

import { writeAudit, type AuditActor } from './audit';
import { emitInvoiceEvent } from './webhook-events';
import type { Prisma } from './generated/client';
import type { InvoiceStatus } from './generated/enums';

export interface PaymentRecord {
  organizationId: string;
  invoiceId: string;
  actor: AuditActor;
  /** the statuses a payment may move the invoice from */
  from: InvoiceStatus[];
  /** set on collection attempts; a webhook leaves the count alone */
  paymentAttempts?: number;
  /**
   * who reported the payment: our pay call, a webhook event signalled to the
   * run, Stripe on a refused state change, or a webhook event for an invoice
   * whose billing run had already ended
   */
  source: 'collection' | 'webhook' | 'stripe' | 'webhook_after_run';
  stripeEventId?: string;
  /** when the money arrived (Stripe's event time for a late payment); now by default */
  paidAt?: Date;
}

/**
 * Marks the invoice paid and audits it, inside the caller's transaction and
 * only on the actual transition: a retried activity or a second webhook
 * delivery writes nothing. Returns whether this call made the transition, or
 * 'not_found' when the organization has no such invoice.
 */
export async function recordInvoicePaidIn(tx: Prisma.TransactionClient, record: PaymentRecord): Promise<boolean | 'not_found'> {
  const { organizationId, invoiceId, actor } = record;
  const before = await tx.invoice.findFirst({ where: { id: invoiceId, organizationId }, select: { status: true, paymentAttempts: true, stripeInvoiceId: true } });
  if (!before) return 'not_found';
  const paidAt = record.paidAt ?? new Date();
  const { count } = await tx.invoice.updateMany({
    where: { id: invoiceId, organizationId, status: { in: record.from } },
    data: { status: 'paid', paidAt, ...(record.paymentAttempts !== undefined && { paymentAttempts: record.paymentAttempts }) },
  });
  if (count === 0) return false;
  await emitInvoiceEvent(tx, organizationId, invoiceId, 'invoice.paid');
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
}

import type { PrismaClient } from '../../prisma/client';
import { recordInvoicePaidIn, type PaymentRecord } from '../../prisma/invoice-payments';
import { TX_OPTIONS } from '../deps';
import { invoiceNotFound } from './errors';

/** Our invoice, scoped to its organization: another tenant's id is "not found". */
export async function findInvoice(prisma: PrismaClient, organizationId: string, invoiceId: string) {
  const invoice = await prisma.invoice.findFirst({ where: { id: invoiceId, organizationId } });
  if (!invoice) throw invoiceNotFound(organizationId, invoiceId);
  return invoice;
}

/**
 * Marks the invoice paid and audits it, in one transaction and only on the
 * actual transition (prisma/invoice-payments.ts). Returns whether this call
 * made the transition.
 */
export async function recordInvoicePaid(prisma: PrismaClient, record: PaymentRecord): Promise<boolean> {
  const recorded = await prisma.$transaction((tx) => recordInvoicePaidIn(tx, record), TX_OPTIONS);
  if (recorded === 'not_found') throw invoiceNotFound(record.organizationId, record.invoiceId);
  return recorded;
}

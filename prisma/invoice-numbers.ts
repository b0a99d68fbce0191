import type { Prisma } from './generated/client';

/** `INV-000042`: the prefix, then the number, zero-padded to six digits (longer once past 999,999). */
export const formatInvoiceNumber = (prefix: string, n: bigint | number): string => `${prefix}-${String(n).padStart(6, '0')}`;

/**
 * Gives the invoice the next number of its organization's current prefix,
 * inside the caller's transaction (the one that starts its finalization): the sequence
 * row is locked until that transaction ends, so concurrent finalizations
 * take turns (no duplicates), and a rolled-back one gives its number back
 * (no gaps). An invoice that has a number keeps it (its row is locked
 * first, so two overlapping attempts for one invoice take one number).
 * Returns the number.
 */
export async function assignInvoiceNumber(tx: Prisma.TransactionClient, organizationId: string, invoiceId: string): Promise<string> {
  await tx.$queryRaw`SELECT id FROM invoices WHERE id = ${invoiceId}::uuid AND organization_id = ${organizationId}::uuid FOR UPDATE`;
  const invoice = await tx.invoice.findFirstOrThrow({ where: { id: invoiceId, organizationId }, select: { number: true } });
  if (invoice.number) return invoice.number;
  const { invoiceNumberPrefix: prefix } = await tx.organization.findUniqueOrThrow({ where: { id: organizationId }, select: { invoiceNumberPrefix: true } });
  const number = await nextNumber(tx, organizationId, prefix);
  await tx.invoice.update({ where: { id: invoiceId }, data: { number } });
  return number;
}

/** The next number under a prefix, taken in the caller's transaction (row-locked: no duplicates; rolled back: no gap). */
export async function nextNumber(tx: Prisma.TransactionClient, organizationId: string, prefix: string): Promise<string> {
  const [row] = await tx.$queryRaw<{ last_number: bigint }[]>`
    INSERT INTO invoice_number_sequences (organization_id, prefix, last_number) VALUES (${organizationId}::uuid, ${prefix}, 1)
    ON CONFLICT (organization_id, prefix) DO UPDATE SET last_number = invoice_number_sequences.last_number + 1
    RETURNING last_number`;
  return formatInvoiceNumber(prefix, row!.last_number);
}

/** Credit notes count under their own sequence: `INV-CN-000001` for invoices numbered `INV-…`. */
export async function assignCreditNoteNumber(tx: Prisma.TransactionClient, organizationId: string): Promise<string> {
  const { invoiceNumberPrefix: prefix } = await tx.organization.findUniqueOrThrow({ where: { id: organizationId }, select: { invoiceNumberPrefix: true } });
  return nextNumber(tx, organizationId, `${prefix}-CN`);
}

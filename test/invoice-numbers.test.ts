import { formatInvoiceNumber, assignInvoiceNumber } from '../prisma/invoice-numbers';
import { billingRunWorkflowId } from '../temporal/names';
import { createBillingCatalog } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';

/*
 * Invoice numbers (issue 12, point 2): sequential per organization and
 * prefix, given in the transaction that finalizes the invoice, on the real
 * PostgreSQL: concurrent finalizations get distinct consecutive numbers, a
 * rolled-back one gives its number back, an invoice keeps the number it has.
 */

afterAll(async () => {
  await closeTestPrisma();
});

/** `n` invoices of one subscription (one per month from January 2024), not yet numbered. */
async function invoices(organizationId: string, n: number): Promise<string[]> {
  const prisma = testPrisma();
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-01-01T00:00:00Z'), anchorDay: 1 });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const periodStart = new Date(Date.UTC(2024, i, 1));
    const invoice = await prisma.invoice.create({
      data: {
        organizationId,
        subscriptionId: catalog.subscriptionId,
        customerId: catalog.customerId,
        periodStart,
        periodEnd: new Date(Date.UTC(2024, i + 1, 1)),
        currency: 'usd',
        total: '30',
        status: 'approved',
        workflowId: billingRunWorkflowId(catalog.subscriptionId, periodStart),
        workflowRunId: 'test',
      },
    });
    ids.push(invoice.id);
  }
  return ids;
}

/** What finalizing does with the number: assigns it in the finalizing transaction. */
const finalize = (organizationId: string, invoiceId: string) =>
  testPrisma().$transaction(async (tx) => {
    const number = await assignInvoiceNumber(tx, organizationId, invoiceId);
    await tx.invoice.update({ where: { id: invoiceId }, data: { status: 'finalized' } });
    return number;
  });

it('formats the number after the prefix, six digits wide', () => {
  expect(formatInvoiceNumber('INV', 42)).toBe('INV-000042');
  expect(formatInvoiceNumber('ACME-EU', 1_234_567)).toBe('ACME-EU-1234567');
});

it('gives 12 invoices finalized at once the numbers 1 to 12, each once', async () => {
  const { organizationId } = await createTestOrganization('numbers-concurrent');
  const ids = await invoices(organizationId, 12);
  const numbers = await Promise.all(ids.map((id) => finalize(organizationId, id)));
  expect([...numbers].sort()).toEqual(Array.from({ length: 12 }, (_, i) => formatInvoiceNumber('INV', i + 1)));
  const stored = await testPrisma().invoice.findMany({ where: { organizationId }, select: { id: true, number: true } });
  expect(new Map(stored.map((r) => [r.id, r.number]))).toEqual(new Map(ids.map((id, i) => [id, numbers[i]])));
});

it('takes a rolled-back finalization\'s number back, keeps a given number, and counts each prefix and organization on its own', async () => {
  const { organizationId } = await createTestOrganization('numbers-rollback');
  const other = await createTestOrganization('numbers-other');
  const [a, b, c] = await invoices(organizationId, 3);
  const [theirs] = await invoices(other.organizationId, 1);
  expect(await finalize(organizationId, a!)).toBe('INV-000001');
  // Stripe refused, say: the transaction rolls back, and with it the number.
  await expect(
    testPrisma().$transaction(async (tx) => {
      expect(await assignInvoiceNumber(tx, organizationId, b!)).toBe('INV-000002');
      throw new Error('refused');
    }),
  ).rejects.toThrow('refused');
  expect((await testPrisma().invoice.findUniqueOrThrow({ where: { id: b! } })).number).toBeNull();
  expect(await finalize(organizationId, b!)).toBe('INV-000002');
  // Asked again (a retried activity), an invoice keeps its number.
  expect(await finalize(organizationId, a!)).toBe('INV-000001');
  // Another organization counts from 1; a new prefix too.
  expect(await finalize(other.organizationId, theirs!)).toBe('INV-000001');
  await testPrisma().organization.update({ where: { id: organizationId }, data: { invoiceNumberPrefix: 'EU' } });
  expect(await finalize(organizationId, c!)).toBe('EU-000001');
});

import { randomUUID } from 'node:crypto';
import { closePeriod, type ClosePeriodInput } from '../activities/billing/close-period';
import { readInvoiceState } from '../activities/billing/decisions';
import { billingRunWorkflowId } from '../temporal/names';
import { createBillingCatalog, insertUsage } from './harness/billing-fixtures';
import { createTestOrganization, subscribeToWebhooks, testPool, testPrisma } from './harness/fixtures';
import { RecordingNotifier } from './harness/ingest-worker';
import { runInWorkflow } from './harness/stripe-invoices';

/*
 * The period close writes its draft in one statement (activities/billing/close-period.ts writeDraft): the invoice, its
 * lines, their range and late-event claims and the audit rows, with the webhook event after it. Real close, real
 * database; the activity runs as a billing run would schedule it.
 */

jest.setTimeout(60_000);

const october = { periodStart: '2024-10-01T00:00:00.000Z', periodEnd: '2024-11-01T00:00:00.000Z' };
const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };
const deps = () => ({ prisma: testPrisma(), pool: testPool(), taskQueue: 'unused', notifier: new RecordingNotifier() });

function close(input: ClosePeriodInput) {
  return runInWorkflow({ workflowId: billingRunWorkflowId(input.subscriptionId, input.periodStart), runId: randomUUID() }, closePeriod(deps()), input);
}

test('one close writes the draft with its lines, claims, late claims, audit row and webhook event; the standing it returns is what the database says once it committed', async () => {
  const { organizationId } = await createTestOrganization('close-writes');
  await subscribeToWebhooks(organizationId);
  const prisma = testPrisma();
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-10-01T00:00:00Z') });
  const subscription = { organizationId, subscriptionId: catalog.subscriptionId, lateEventGraceSeconds: 0 };
  await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-10-10T10:00:00Z', quantity: '50' }]);
  await close({ ...subscription, ...october });
  // After October closed: a late October event, and November usage.
  const late = await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-10-20T10:00:00Z', quantity: '30' }]);
  const current = await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-05T10:00:00Z', quantity: '200' }]);

  const closed = await close({ ...subscription, ...november, withStanding: true });

  const invoice = await prisma.invoice.findUniqueOrThrow({ where: { id: closed.invoiceId }, include: { lines: { orderBy: { position: 'asc' } } } });
  // 30 + 100 × 0.10 + 100 × 0.08, and the late 30 units at 0.10 on top of October's 50
  expect(invoice.lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([
    ['base_fee', '30.00'],
    ['usage', '18.00'],
    ['late_usage', '3.00'],
  ]);
  expect([closed.total, closed.lineCount, invoice.total.toFixed(2), invoice.revision]).toEqual(['51.00', 3, '51.00', 1]);
  const [, usageLine, lateLine] = invoice.lines;

  // The range claim names the usage line and its invoice; the late event is claimed by the late line.
  const claims = await prisma.usageClaim.findMany({ where: { invoiceLineId: usageLine!.id } });
  expect(claims.map((c) => [c.invoiceId, c.rangeStart.toISOString(), c.rangeEnd.toISOString()])).toEqual([[invoice.id, november.periodStart, november.periodEnd]]);
  expect((await prisma.lateEventClaim.findMany({ where: { invoiceLineId: lateLine!.id } })).map((c) => c.eventId)).toEqual(late);
  expect(await prisma.lateEventClaim.count({ where: { eventId: { in: current } } })).toBe(0);

  const audit = await prisma.auditLog.findMany({ where: { organizationId, entityId: invoice.id } });
  expect(audit.map((a) => [a.action, a.actorType, a.actorId, (a.after as { total: string; lateEvents: number }).total, (a.after as { lateEvents: number }).lateEvents])).toEqual([
    ['invoice.drafted', 'workflow', billingRunWorkflowId(catalog.subscriptionId, november.periodStart), '51.00', 1],
  ]);
  const events = await prisma.webhookEvent.findMany({ where: { organizationId, eventKey: `invoice.drafted:${invoice.id}` } });
  expect(events.map((e) => (e.payload as { total: string; status: string }).total)).toEqual(['51.00']);

  // Read after the commit, as a run that closed the other way reads it.
  const stored = await runInWorkflow({ workflowId: 'reader', runId: randomUUID() }, readInvoiceState(deps()), { organizationId, invoiceId: invoice.id });
  expect(closed.standing).toEqual(stored);
  expect(closed.standing).toMatchObject({ status: 'draft', total: '51.00', paymentAttempts: 0, supersededById: null, draftedAt: invoice.createdAt.toISOString() });
});

test('a repeated close returns the draft it wrote, and reads where it stands now', async () => {
  const { organizationId } = await createTestOrganization('close-writes-again');
  const prisma = testPrisma();
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z') });
  const input = { organizationId, subscriptionId: catalog.subscriptionId, lateEventGraceSeconds: 0, ...november, withStanding: true };
  const first = await close(input);
  expect(await prisma.webhookEvent.count({ where: { organizationId } })).toBe(0); // no endpoint takes it: not stored

  // Finance approved it meanwhile (as the run's approve step records it): the repeated close says so.
  await prisma.invoice.update({ where: { id: first.invoiceId }, data: { status: 'approved' } });
  const again = await close(input);
  expect(again.invoiceId).toBe(first.invoiceId);
  expect(again.standing?.status).toBe('approved');
  expect(await prisma.invoice.count({ where: { subscriptionId: catalog.subscriptionId } })).toBe(1);
});

test('a re-draft writes the next revision in the same statement, and the replaced one names it', async () => {
  const { organizationId } = await createTestOrganization('close-writes-redraft');
  const prisma = testPrisma();
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z') });
  await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-05T10:00:00Z', quantity: '200' }]);
  const input = { organizationId, subscriptionId: catalog.subscriptionId, lateEventGraceSeconds: 0, ...november };
  const first = await close(input);
  await prisma.invoice.update({ where: { id: first.invoiceId }, data: { status: 'rejected' } });

  const second = await close({ ...input, redraft: { of: first.invoiceId, by: 'finance@example.com', reason: 'rate fixed' }, withStanding: true });

  const revisions = await prisma.invoice.findMany({ where: { subscriptionId: catalog.subscriptionId }, orderBy: { revision: 'asc' } });
  expect(revisions.map((i) => [i.id, i.revision, i.status, i.supersededById])).toEqual([
    [first.invoiceId, 1, 'rejected', second.invoiceId],
    [second.invoiceId, 2, 'draft', null],
  ]);
  expect(second.standing).toMatchObject({ invoiceId: second.invoiceId, status: 'draft', total: '48.00', supersededById: null });
  // The period's usage moved to the new revision's claim; the old one's is released.
  const claims = await prisma.usageClaim.findMany({ where: { customerExternalId: catalog.customerExternalId }, orderBy: { createdAt: 'asc' } });
  expect(claims.map((c) => [c.invoiceId, c.releasedAt === null])).toEqual([
    [first.invoiceId, false],
    [second.invoiceId, true],
  ]);
  const audit = await prisma.auditLog.findMany({ where: { organizationId, action: { in: ['invoice.redrafted', 'invoice.drafted'] } }, orderBy: { id: 'asc' } });
  expect(audit.map((a) => [a.action, a.entityId])).toEqual([
    ['invoice.drafted', first.invoiceId],
    ['invoice.redrafted', first.invoiceId],
    ['invoice.drafted', second.invoiceId],
  ]);
  expect(audit[1]!.after).toMatchObject({ redraftedAs: second.invoiceId, revision: 2, reason: 'rate fixed', releasedClaims: 1 });
});

import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { createStripeClient } from '../activities/stripe/client';
import {
  approveUpdate,
  adjustUpdate,
  billingRunStateQuery,
  redraftUpdate,
  rejectUpdate,
  writeOffUpdate,
  BILLING_RUN_WORKFLOW_TYPE,
  type BillingRunInput,
  type BillingRunState,
} from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/names';
import { reconcileWorkflowId } from '../temporal/reconciliations';
import { createBillingCatalog, eventIdsOfLine, insertUsage, lineOfEvent, type BillingCatalog } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { recordHistory } from './harness/histories';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { StripeFake } from './harness/stripe-fake';

/**
 * A billing run on the real Temporal dev server and PostgreSQL, with Stripe
 * played by the stateful fake: the period closes into a draft whose lines
 * trace to snapshots and events, finance adjusts and approves through
 * updates, and the invoice is finalized and collected exactly once.
 */
const fake = new StripeFake();
let worker: TestWorker;

beforeAll(async () => {
  const port = await fake.start();
  worker = await startTestWorker('billing-run', { stripe: createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${port}` }) });
});

afterAll(async () => {
  await worker?.close();
  await fake.stop();
});

const october = { periodStart: '2024-10-01T00:00:00.000Z', periodEnd: '2024-11-01T00:00:00.000Z' };
const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };
const december = { periodStart: '2024-12-01T00:00:00.000Z', periodEnd: '2025-01-01T00:00:00.000Z' };

async function startRun(organizationId: string, catalog: BillingCatalog, period: { periodStart: string; periodEnd: string }) {
  const input: BillingRunInput = { organizationId, subscriptionId: catalog.subscriptionId, ...period, lateEventGraceSeconds: 0 };
  return worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, {
    workflowId: billingRunWorkflowId(catalog.subscriptionId, period.periodStart),
    taskQueue: worker.taskQueue,
    args: [input],
  });
}

type Handle = Awaited<ReturnType<typeof startRun>>;

async function awaitingApproval(handle: Handle): Promise<BillingRunState> {
  return waitFor('the draft invoice', async () => {
    const state = await handle.query(billingRunStateQuery);
    return state.status === 'awaiting_approval' ? state : undefined;
  });
}

async function auditActions(organizationId: string, invoiceId: string): Promise<string[]> {
  const rows = await testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'invoice', entityId: invoiceId }, orderBy: { id: 'asc' } });
  return rows.map((r) => r.action);
}

describe('billing run', () => {
  it('drafts traceable lines, takes adjust and approve, refuses a second approval, then finalizes and collects once', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('billing');
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z'), anchorDay: 1 });
    const eventIds = await insertUsage(prisma, organizationId, catalog.customerExternalId, [
      { at: '2024-11-03T10:00:00Z', quantity: '500' },
      { at: '2024-11-10T08:00:00Z', quantity: '400' },
      { at: '2024-11-10T21:00:00Z', quantity: '100' },
      { at: '2024-11-29T23:59:59Z', quantity: '500' },
      // December: not this period's
      { at: '2024-12-01T00:00:00Z', quantity: '7' },
    ]);

    const handle = await startRun(organizationId, catalog, november);
    await expect(startRun(organizationId, catalog, november)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    const drafted = await awaitingApproval(handle);

    const invoice = await prisma.invoice.findUniqueOrThrow({ where: { id: drafted.invoiceId! }, include: { lines: { orderBy: { position: 'asc' } } } });
    expect(invoice.status).toBe('draft');
    expect(invoice.lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([
      ['base_fee', '30.00'],
      ['usage', '107.00'],
    ]);
    expect(invoice.total.toFixed(2)).toBe('137.00');
    const usage = invoice.lines[1]!;
    expect((usage.tiers as { quantity: string }[]).map((t) => t.quantity)).toEqual(['100', '900', '500']);
    // line → snapshots (one per day with usage) → events
    const snapshots = await prisma.usageSnapshot.findMany({ where: { id: { in: usage.snapshotIds } }, orderBy: { day: 'asc' } });
    expect(snapshots.map((s) => [s.day.toISOString().slice(0, 10), s.quantity.toString(), s.eventCount])).toEqual([
      ['2024-11-03', '500', 1],
      ['2024-11-10', '500', 2],
      ['2024-11-29', '500', 1],
    ]);
    const billed = await eventIdsOfLine(organizationId, usage.id);
    expect(billed.sort()).toEqual(eventIds.slice(0, 4).sort());
    expect(await lineOfEvent(organizationId, eventIds[4]!)).toBeNull();

    const adjusted = await handle.executeUpdate(adjustUpdate, { args: [{ approver: 'fiona@finance', reason: 'goodwill for the outage', lines: [{ description: 'Outage credit', amount: '-7.00' }] }] });
    expect(adjusted).toMatchObject({ status: 'awaiting_approval', total: '130.00' });
    const approved = await handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance', note: 'checked' }] });
    expect(approved.status).toBe('finalizing');
    await expect(handle.executeUpdate(approveUpdate, { args: [{ approver: 'someone@else' }] })).rejects.toThrow(WorkflowUpdateFailedError);
    const again = await handle.executeUpdate(approveUpdate, { args: [{ approver: 'someone@else' }] }).catch((e: WorkflowUpdateFailedError) => e.cause?.message);
    expect(again).toMatch(/already approved/);
    const late = await handle.executeUpdate(adjustUpdate, { args: [{ approver: 'x', reason: 'y', lines: [{ description: 'z', amount: '1.00' }] }] }).catch((e: WorkflowUpdateFailedError) => e.cause?.message);
    expect(late).toMatch(/can no longer be adjusted/);

    const result = await handle.result();
    expect(result).toMatchObject({ status: 'paid', total: '130.00', paymentAttempts: 1 });
    const stored = await prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } });
    expect(stored.status).toBe('paid');
    expect(stored.stripeInvoiceId).toBeTruthy();
    // Numbered as it was finalized: the organization's first invoice.
    expect(stored.number).toBe('INV-000001');
    // Stripe shows it (the worker's shared account: as a custom field).
    expect(fake.invoice(stored.stripeInvoiceId!)).toMatchObject({ status: 'paid', number: null, customFields: [{ name: 'Invoice number', value: 'INV-000001' }] });
    // Stripe saw the lines in integer minor units, one invoice and one successful charge.
    const items = fake.requestsTo('POST', /^\/v1\/invoiceitems$/).filter((r) => r.body.invoice === stored.stripeInvoiceId);
    expect(items.map((r) => Number(r.body.amount)).sort((a, b) => a - b)).toEqual([-700, 3000, 10700]);
    expect(fake.charges.filter((c) => c.invoice === stored.stripeInvoiceId)).toEqual([{ invoice: stored.stripeInvoiceId, amount: 13000, currency: 'usd', outcome: 'succeeded' }]);
    expect(await auditActions(organizationId, invoice.id)).toEqual(['invoice.drafted', 'invoice.adjusted', 'invoice.approved', 'invoice.finalized', 'invoice.paid']);
    // The settled run hands the period to leak detection.
    const reconciliation = worker.client.workflow.getHandle(reconcileWorkflowId(organizationId, november.periodStart));
    await expect(reconciliation.result()).resolves.toBeDefined();
    await recordHistory('billing-run-paid-reconciled', handle, { ifMissing: true });
    // The same run, for the read of the invoice's standing as a local activity (LOCAL_STANDING_READ_PATCH); the committed
    // billing-run-paid-reconciled history predates the patch, so replaying both covers runs on either side of it.
    await recordHistory('billing-run-paid-local-standing-read', handle, { ifMissing: true });
    // And for the close tried as a local activity first (LOCAL_CLOSE_PATCH): the two above predate it.
    await recordHistory('billing-run-paid-local-close', handle);
  });

  it('bills events that arrived after a period closed on the next invoice, as a labelled adjustment', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('billing-late');
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z'), anchorDay: 1 });
    await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-05T00:00:00Z', quantity: '1000' }]);
    const first = await startRun(organizationId, catalog, november);
    await awaitingApproval(first);
    await first.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
    expect(await first.result()).toMatchObject({ status: 'paid', total: '112.00' });

    // After November closed: two late November events, and December usage.
    await insertUsage(prisma, organizationId, catalog.customerExternalId, [
      { at: '2024-11-30T12:00:00Z', quantity: '300' },
      { at: '2024-11-30T13:00:00Z', quantity: '200' },
      { at: '2024-12-02T00:00:00Z', quantity: '50' },
    ]);
    const second = await startRun(organizationId, catalog, december);
    const decemberDraft = await awaitingApproval(second);
    const lines = await prisma.invoiceLine.findMany({ where: { invoiceId: decemberDraft.invoiceId! }, orderBy: { position: 'asc' } });
    expect(lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([
      ['base_fee', '30.00'],
      ['usage', '5.00'],
      // November was billed 82.00 for 1,000 units; 1,500 units cost 107.00
      ['late_usage', '25.00'],
    ]);
    const lateLine = lines[2]!;
    expect(lateLine.description).toBe('API calls: adjustment for 2024-11-01 – 2024-12-01, 2 events received after that period closed');
    expect(lateLine.periodStart.toISOString()).toBe(november.periodStart);
    expect((await eventIdsOfLine(organizationId, lateLine.id)).length).toBe(2);
    // The November snapshot of the 30th now shows the late usage.
    const [snapshot] = await prisma.usageSnapshot.findMany({ where: { id: { in: lateLine.snapshotIds } } });
    expect(snapshot).toMatchObject({ eventCount: 2 });
    expect(snapshot!.quantity.toString()).toBe('500');
    await second.terminate('test over');
  });

  it('keeps a rejected draft waiting (its late events too); re-drafted, the next revision bills the period as it now stands and the rejected one stays', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('billing-redraft');
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z'), anchorDay: 1 });
    const [first] = await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-05T00:00:00Z', quantity: '1000' }]);
    const handle = await startRun(organizationId, catalog, november);
    const drafted = await awaitingApproval(handle);
    const refusal = (p: Promise<unknown>) => p.then(() => 'accepted', (e: WorkflowUpdateFailedError) => e.cause?.message);
    expect(await refusal(handle.executeUpdate(redraftUpdate, { args: [{ approver: 'fiona@finance', reason: 'too early' }] }))).toBe(
      `only a rejected draft or a void invoice can be re-drafted; invoice ${drafted.invoiceId} is awaiting approval`,
    );
    await handle.executeUpdate(rejectUpdate, { args: [{ approver: 'fiona@finance', reason: 'the customer upgraded mid-month; usage to be checked' }] });
    // The run waits for finance's next word; the period's events stay with the rejected draft until then.
    expect(await handle.query(billingRunStateQuery)).toMatchObject({ status: 'rejected', invoiceId: drafted.invoiceId });
    expect(await lineOfEvent(organizationId, first!)).not.toBeNull();
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] }))).toBe(`invoice ${drafted.invoiceId} was rejected`);

    // A late November event, then December closes: November is not billed as late usage while its draft waits.
    await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-30T12:00:00Z', quantity: '500' }]);
    const decemberRun = await startRun(organizationId, catalog, december);
    const decemberDraft = await awaitingApproval(decemberRun);
    const decemberLines = await prisma.invoiceLine.findMany({ where: { invoiceId: decemberDraft.invoiceId! }, orderBy: { position: 'asc' } });
    expect(decemberLines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([
      ['base_fee', '30.00'],
      ['usage', '0.00'],
    ]);
    await decemberRun.terminate('test over');

    const redrafted = await handle.executeUpdate(redraftUpdate, { args: [{ approver: 'fiona@finance', reason: 'usage checked' }] });
    expect(redrafted).toMatchObject({ status: 'awaiting_approval', total: '137.00' }); // 30 + 1,500 units graduated (107.00)
    expect(redrafted.invoiceId).not.toBe(drafted.invoiceId);
    const revisions = await prisma.invoice.findMany({ where: { subscriptionId: catalog.subscriptionId, periodStart: new Date(november.periodStart) }, orderBy: { revision: 'asc' }, include: { lines: true } });
    expect(revisions.map((i) => [i.revision, i.status, i.total.toFixed(2)])).toEqual([
      [1, 'rejected', '112.00'],
      [2, 'draft', '137.00'],
    ]);
    // Every November event is now on the new revision's usage line; the rejected revision keeps its lines for the record.
    const usageLine = revisions[1]!.lines.find((l) => l.kind === 'usage')!;
    expect((await eventIdsOfLine(organizationId, usageLine.id)).length).toBe(2);
    expect(revisions[0]!.lines.map((l) => l.kind).sort()).toEqual(['base_fee', 'usage']);
    const trail = await prisma.auditLog.findFirstOrThrow({ where: { organizationId, entityId: drafted.invoiceId!, action: 'invoice.redrafted' } });
    expect(trail).toMatchObject({ actorType: 'user', actorId: 'fiona@finance' });
    expect(trail.after).toMatchObject({ reason: 'usage checked', redraftedAs: redrafted.invoiceId, revision: 2, releasedClaims: 1, releasedLateEvents: 0 });

    await handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
    expect(await handle.result()).toMatchObject({ status: 'paid', invoiceId: redrafted.invoiceId, total: '137.00' });
    const paid = await prisma.invoice.findUniqueOrThrow({ where: { id: redrafted.invoiceId } });
    expect(fake.charges.filter((c) => c.invoice === paid.stripeInvoiceId)).toEqual([expect.objectContaining({ amount: 13700, outcome: 'succeeded' })]);
    await recordHistory('billing-run-redrafted-paid', handle);
  });

  it('writes a rejected period off with a reason: nothing billed, its events stay with it, and only later late usage is billed', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('billing-write-off');
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z'), anchorDay: 1 });
    const [held] = await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-05T00:00:00Z', quantity: '1000' }]);
    const handle = await startRun(organizationId, catalog, november);
    const drafted = await awaitingApproval(handle);
    await expect(handle.executeUpdate(writeOffUpdate, { args: [{ approver: 'fiona@finance', reason: 'x' }] })).rejects.toThrow(WorkflowUpdateFailedError);
    await handle.executeUpdate(rejectUpdate, { args: [{ approver: 'fiona@finance', reason: 'disputed' }] });
    await expect(handle.executeUpdate(writeOffUpdate, { args: [{ approver: 'fiona@finance', reason: ' ' }] })).rejects.toThrow(WorkflowUpdateFailedError);
    const writtenOff = await handle.executeUpdate(writeOffUpdate, { args: [{ approver: 'fiona@finance', reason: 'goodwill after the outage' }] });
    expect(writtenOff).toMatchObject({ status: 'written_off', invoiceId: drafted.invoiceId });
    expect(await handle.result()).toMatchObject({ status: 'written_off' });
    const invoice = await prisma.invoice.findUniqueOrThrow({ where: { id: drafted.invoiceId! } });
    expect(invoice).toMatchObject({ status: 'written_off', writtenOffBy: 'fiona@finance', writeOffReason: 'goodwill after the outage', stripeInvoiceId: null });
    expect(await lineOfEvent(organizationId, held!)).not.toBeNull();
    expect(await auditActions(organizationId, invoice.id)).toEqual(['invoice.drafted', 'invoice.rejected', 'invoice.written_off']);

    // A late November event: December bills it alone (the written-off 1,000 units are forgiven, not "already billed").
    await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-30T12:00:00Z', quantity: '300' }]);
    const decemberRun = await startRun(organizationId, catalog, december);
    const decemberDraft = await awaitingApproval(decemberRun);
    const lines = await prisma.invoiceLine.findMany({ where: { invoiceId: decemberDraft.invoiceId! }, orderBy: { position: 'asc' } });
    expect(lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([
      ['base_fee', '30.00'],
      ['usage', '0.00'],
      ['late_usage', '26.00'], // 100 × 0.10 + 200 × 0.08
    ]);
    await decemberRun.terminate('test over');
    await recordHistory('billing-run-written-off', handle);
  });

  it('writing off a draft gives back the late events of earlier periods it carried: the next close bills them', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('billing-write-off-late');
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date(october.periodStart), anchorDay: 1 });
    await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-10-05T00:00:00Z', quantity: '100' }]);
    const octoberRun = await startRun(organizationId, catalog, october);
    await awaitingApproval(octoberRun);
    await octoberRun.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
    await expect(octoberRun.result()).resolves.toMatchObject({ status: 'paid' });
    // A late October event lands on November's draft, which finance rejects and writes off.
    const [lateOctober] = await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-10-30T00:00:00Z', quantity: '100' }]);
    const novemberRun = await startRun(organizationId, catalog, november);
    const novemberDraft = await awaitingApproval(novemberRun);
    const carried = await prisma.invoiceLine.findFirstOrThrow({ where: { invoiceId: novemberDraft.invoiceId!, kind: 'late_usage' } });
    expect(await lineOfEvent(organizationId, lateOctober!)).toBe(carried.id);
    await novemberRun.executeUpdate(rejectUpdate, { args: [{ approver: 'fiona@finance', reason: 'disputed' }] });
    await novemberRun.executeUpdate(writeOffUpdate, { args: [{ approver: 'fiona@finance', reason: 'goodwill' }] });
    // November is forgiven; October's late event is not November's to forgive.
    expect(await lineOfEvent(organizationId, lateOctober!)).toBeNull();
    const decemberRun = await startRun(organizationId, catalog, december);
    const decemberDraft = await awaitingApproval(decemberRun);
    const lines = await prisma.invoiceLine.findMany({ where: { invoiceId: decemberDraft.invoiceId!, kind: 'late_usage' } });
    // October now has 200 units (100 × 0.10 + 100 × 0.08 = 18.00), billed 10.00.
    expect(lines.map((l) => [l.description, l.amount.toFixed(2)])).toEqual([['API calls: adjustment for 2024-10-01 – 2024-11-01, 1 event received after that period closed', '8.00']]);
    await decemberRun.terminate('test over');
  });

  it('settles a zero-amount invoice without calling Stripe', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('billing-zero');
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z'), anchorDay: 1, basicFee: '0' });
    const before = fake.requests.length;
    const handle = await startRun(organizationId, catalog, november);
    await awaitingApproval(handle);
    await handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
    expect(await handle.result()).toMatchObject({ status: 'settled_zero', total: '0.00' });
    expect(fake.requests.length).toBe(before);
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    expect(invoice).toMatchObject({ status: 'paid', stripeInvoiceId: null, number: 'INV-000001' });
    await recordHistory('billing-run-zero', handle);
  });
});

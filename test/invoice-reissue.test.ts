import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { readBilledUsage } from '../prisma/billing-reads';
import { approveUpdate, billingRunStateQuery, BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from '../temporal/billing-messages';
import { billingRunWorkflowId, reissueRunWorkflowId } from '../temporal/workflow-ids';
import { createBillingCatalog, eventIdsOfLine, insertUsage } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { recordHistory } from './harness/histories';
import { useBillingStack } from './harness/billing-stack';
import { waitFor } from './harness/ingest-worker';

/*
 * Re-issue after the billing run ended (issue 12, point 2): a paid invoice
 * credited in full, or an uncollectible one (voided in Stripe first), is
 * re-drafted through POST /invoices/:id/redraft as the period's next
 * revision by a re-issue run, approved, finalized as a new Stripe invoice and
 * collected. The invoice it replaces stays for the record and no longer
 * counts as billed.
 */

jest.setTimeout(120_000);

const stack = useBillingStack('invoice-reissue');
const { fake } = stack;

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };

/** November (30.00 base fee + 22.00 for 250 calls = 52.00) billed; its run has ended, paid or uncollectible. */
async function endedRun(name: string, options: { declineFirstCharge?: boolean } = {}) {
  const prisma = testPrisma();
  const org = await createTestOrganization(name);
  // No retries: a declined charge makes the invoice uncollectible at once.
  if (options.declineFirstCharge) await prisma.organization.update({ where: { id: org.organizationId }, data: { paymentRetryDays: [] } });
  const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
  const events = await insertUsage(prisma, org.organizationId, catalog.customerExternalId, [{ at: '2024-11-12T09:00:00Z', quantity: '250' }]);
  const input: BillingRunInput = { organizationId: org.organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 };
  const handle = await stack.worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: billingRunWorkflowId(catalog.subscriptionId, november.periodStart), taskQueue: stack.worker.taskQueue, args: [input] });
  await waitFor('the draft', async () => ((await handle.query(billingRunStateQuery)).status === 'awaiting_approval' ? true : undefined));
  if (options.declineFirstCharge) fake.declineCharges(1);
  await handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
  const done = await handle.result();
  expect(done).toMatchObject({ status: options.declineFirstCharge ? 'uncollectible' : 'paid', total: '52.00' });
  return { org, catalog, events, invoiceId: done.invoiceId! };
}

const post = (org: { apiKey: string }, path: string, body: unknown) => stack.api.post(`/api/v1${path}`, org.apiKey, body);

it('a paid invoice credited in full is re-issued: a new revision, approved and paid; the credited one no longer counts as billed', async () => {
  const prisma = testPrisma();
  const { org, catalog, events, invoiceId } = await endedRun('reissue-credited');

  // Not while something is still owed: a paid invoice credited in part is refused, with what to do.
  expect((await post(org, `/invoices/${invoiceId}/credit-notes`, { request_key: 'part', reason: 'outage', amount: '12.00' })).status).toBe(201);
  const early = await post(org, `/invoices/${invoiceId}/redraft`, { reason: 'wrong plan' });
  expect(early.status).toBe(409);
  expect(early.body).toMatchObject({ code: 'INVALID_STATE', error: `invoice ${invoiceId} is paid and credited 12 of 52; credit it in full first (a credit note), then re-issue` });
  expect(await prisma.invoice.count({ where: { subscriptionId: catalog.subscriptionId } })).toBe(1);

  expect((await post(org, `/invoices/${invoiceId}/credit-notes`, { request_key: 'rest', reason: 'wrong plan' })).status).toBe(201);
  const reissued = await post(org, `/invoices/${invoiceId}/redraft`, { reason: 'billed on the wrong plan' });
  expect(reissued.status).toBe(200);
  const workflowId = reissueRunWorkflowId(catalog.subscriptionId, november.periodStart, invoiceId);
  expect(reissued.body).toMatchObject({ status: 'awaiting_approval', total: '52.00', workflow_id: workflowId });
  const secondId = (reissued.body as { invoice_id: string }).invoice_id;
  expect(secondId).not.toBe(invoiceId);
  // Asked again: the first invoice was replaced already; nothing new starts.
  const twice = await post(org, `/invoices/${invoiceId}/redraft`, { reason: 'again' });
  expect(twice.status).toBe(409);
  expect((twice.body as { error: string }).error).toContain(`re-drafted already, as invoice ${secondId}`);

  // The corrected invoice goes through approval (sent to the re-issue run), Stripe and collection.
  const approved = await post(org, `/invoices/${secondId}/approve`, {});
  expect(approved.status).toBe(200);
  const handle = stack.worker.client.workflow.getHandle(workflowId);
  expect(await handle.result()).toMatchObject({ status: 'paid', invoiceId: secondId, total: '52.00' });

  const revisions = await prisma.invoice.findMany({ where: { subscriptionId: catalog.subscriptionId }, orderBy: { revision: 'asc' }, include: { lines: true } });
  expect(revisions.map((i) => [i.revision, i.status, i.total.toFixed(2), i.supersededById])).toEqual([
    [1, 'paid', '52.00', secondId],
    [2, 'paid', '52.00', null],
  ]);
  expect(revisions[1]!.stripeInvoiceId).not.toBe(revisions[0]!.stripeInvoiceId);
  expect(revisions[1]!.workflowId).toBe(workflowId);
  // The usage is billed by the corrected invoice; the credited one keeps its lines for the record.
  expect(await eventIdsOfLine(org.organizationId, revisions[1]!.lines.find((l) => l.kind === 'usage')!.id)).toEqual(events);
  expect(await eventIdsOfLine(org.organizationId, revisions[0]!.lines.find((l) => l.kind === 'usage')!.id)).toEqual([]);
  // What late usage subtracts as billed for November: the corrected invoice's 22.00 once, not twice.
  const billed = await readBilledUsage(prisma, { organizationId: org.organizationId, subscriptionId: catalog.subscriptionId, periodStart: new Date(november.periodStart) });
  expect(billed.map((b) => [b._sum.quantity?.toFixed(), b._sum.amount?.toFixed(2)])).toEqual([['250', '22.00']]);
  const audit = await prisma.auditLog.findMany({ where: { organizationId: org.organizationId, entityType: 'invoice', entityId: invoiceId, action: 'invoice.redrafted' } });
  expect(audit).toHaveLength(1);
  expect(audit[0]).toMatchObject({ actorType: 'api_key', actorId: org.apiKeyId, after: expect.objectContaining({ reason: 'billed on the wrong plan', redraftedAs: secondId, revision: 2, workflowId }) });
  expect((await stack.api.get(`/api/v1/invoices/${invoiceId}`, org.apiKey)).body).toMatchObject({ revision: 1, superseded_by: secondId, credited: '52.00' });

  // Ops reset the period's first, ended run to its start: it keeps to the invoice it drafted (paid) and
  // leaves the corrected one to the re-issue run; nothing is charged again.
  const charges = fake.charges.length;
  const original = stack.worker.client.workflow.getHandle(billingRunWorkflowId(catalog.subscriptionId, november.periodStart));
  const firstTask = (await original.fetchHistory()).events!.find((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)!;
  const { runId } = await stack.worker.client.workflowService.resetWorkflowExecution({
    namespace: stack.worker.client.options.namespace,
    workflowExecution: { workflowId: original.workflowId },
    reason: 'test: replay the period after its re-issue',
    workflowTaskFinishEventId: Long.fromValue(firstTask.eventId!),
    requestId: randomUUID(),
  });
  expect(await stack.worker.client.workflow.getHandle(original.workflowId, runId!).result()).toMatchObject({ status: 'paid', invoiceId });
  expect(fake.charges.length).toBe(charges);
  expect((await prisma.invoice.findMany({ where: { subscriptionId: catalog.subscriptionId }, orderBy: { revision: 'asc' } })).map((i) => [i.status, i.workflowId])).toEqual([
    ['paid', original.workflowId],
    ['paid', workflowId],
  ]);
  await recordHistory('billing-run-reissued-after-credit', handle);
});

it('an uncollectible invoice whose run ended is voided in Stripe and re-issued; the corrected invoice is paid', async () => {
  const prisma = testPrisma();
  const { org, catalog, invoiceId } = await endedRun('reissue-uncollectible', { declineFirstCharge: true });
  const first = await prisma.invoice.findUniqueOrThrow({ where: { id: invoiceId } });
  // Its run has ended, so a void alone is refused, pointing at the re-issue.
  const voidAlone = await post(org, `/invoices/${invoiceId}/void`, { reason: 'x' });
  expect(voidAlone.status).toBe(409);
  expect(voidAlone.body).toMatchObject({ code: 'WORKFLOW_NOT_RUNNING', error: expect.stringContaining('re-draft it: POST /api/v1/invoices/:id/redraft (a re-issue)') });

  const reissued = await post(org, `/invoices/${invoiceId}/redraft`, { reason: 'card replaced; usage re-checked' });
  expect(reissued.status).toBe(200);
  const secondId = (reissued.body as { invoice_id: string }).invoice_id;
  // Voided in Stripe once, with our idempotency key, and here, with who and why.
  const voids = fake.requests.filter((r) => r.method === 'POST' && r.path === `/v1/invoices/${first.stripeInvoiceId}/void`);
  expect(voids.map((r) => [r.status, r.idempotencyKey])).toEqual([[200, `ledgerflow-void-${invoiceId}`]]);
  expect(fake.invoice(first.stripeInvoiceId!)?.status).toBe('void');
  expect(await prisma.invoice.findUniqueOrThrow({ where: { id: invoiceId } })).toMatchObject({ status: 'void', voidedBy: `api_key:${org.apiKeyId}`, voidReason: 'card replaced; usage re-checked', supersededById: secondId });

  expect((await post(org, `/invoices/${secondId}/approve`, {})).status).toBe(200);
  const handle = stack.worker.client.workflow.getHandle(reissueRunWorkflowId(catalog.subscriptionId, november.periodStart, invoiceId));
  expect(await handle.result()).toMatchObject({ status: 'paid', invoiceId: secondId });
  const audit = await prisma.auditLog.findMany({ where: { organizationId: org.organizationId, entityType: 'invoice', entityId: invoiceId }, orderBy: { id: 'asc' } });
  expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['invoice.uncollectible', 'invoice.voided', 'invoice.redrafted']));
  expect(audit.find((a) => a.action === 'invoice.voided')?.before).toMatchObject({ status: 'uncollectible' });
});

it('a re-issued invoice that carried late usage of an earlier period bills it again in full, not net of itself', async () => {
  const prisma = testPrisma();
  const org = await createTestOrganization('reissue-late');
  const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: new Date('2024-10-01T00:00:00Z'), anchorDay: 1 });
  const run = async (period: { periodStart: string; periodEnd: string }) => {
    const input: BillingRunInput = { organizationId: org.organizationId, subscriptionId: catalog.subscriptionId, ...period, lateEventGraceSeconds: 0 };
    const handle = await stack.worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: billingRunWorkflowId(catalog.subscriptionId, period.periodStart), taskQueue: stack.worker.taskQueue, args: [input] });
    await waitFor('the draft', async () => ((await handle.query(billingRunStateQuery)).status === 'awaiting_approval' ? true : undefined));
    await handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
    return handle.result();
  };
  // October: 250 calls (22.00 of usage). Then 50 more October calls arrive late: November bills them (50 × 0.08 = 4.00).
  await insertUsage(prisma, org.organizationId, catalog.customerExternalId, [{ at: '2024-10-12T09:00:00Z', quantity: '250' }]);
  expect(await run({ periodStart: '2024-10-01T00:00:00.000Z', periodEnd: november.periodStart })).toMatchObject({ status: 'paid', total: '52.00' });
  await insertUsage(prisma, org.organizationId, catalog.customerExternalId, [{ at: '2024-10-30T09:00:00Z', quantity: '50' }]);
  const first = await run(november);
  expect(first).toMatchObject({ status: 'paid', total: '34.00' });
  const lines = async (invoiceId: string) => (await prisma.invoiceLine.findMany({ where: { invoiceId }, orderBy: { position: 'asc' } })).map((l) => [l.kind, l.amount.toFixed(2)]);
  expect(await lines(first.invoiceId!)).toEqual([
    ['base_fee', '30.00'],
    ['usage', '0.00'],
    ['late_usage', '4.00'],
  ]);

  // November credited in full and re-issued: the late October calls move to the new revision at the same 4.00
  // (the replaced invoice's own late line no longer counts as October's billed usage).
  expect((await post(org, `/invoices/${first.invoiceId}/credit-notes`, { request_key: 'all', reason: 'wrong address' })).status).toBe(201);
  const reissued = await post(org, `/invoices/${first.invoiceId}/redraft`, { reason: 'address corrected' });
  expect(reissued.status).toBe(200);
  expect(reissued.body).toMatchObject({ total: '34.00' });
  expect(await lines((reissued.body as { invoice_id: string }).invoice_id)).toEqual([
    ['base_fee', '30.00'],
    ['usage', '0.00'],
    ['late_usage', '4.00'],
  ]);
});

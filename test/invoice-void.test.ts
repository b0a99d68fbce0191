import { approveUpdate, billingRunStateQuery, BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/names';
import { createBillingCatalog, eventIdsOfLine, insertUsage } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { recordHistory } from './harness/histories';
import { useBillingStack } from './harness/billing-stack';
import { waitFor } from './harness/ingest-worker';

/*
 * Void and re-issue (issue 12, point 2): an invoice being collected is
 * voided through its billing run (in Stripe too, with our idempotency key);
 * collecting stops; finance re-drafts the period into a corrected invoice,
 * which is approved, finalized and collected anew. The void one bills
 * nothing and keeps its lines for the record.
 */

jest.setTimeout(90_000);

const stack = useBillingStack('invoice-void');
const { fake } = stack;

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };

it('an invoice being collected is voided, then re-drafted, approved and paid as a corrected invoice; the void one bills nothing', async () => {
  const prisma = testPrisma();
  const org = await createTestOrganization('invoice-void');
  const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
  const events = await insertUsage(prisma, org.organizationId, catalog.customerExternalId, [{ at: '2024-11-12T09:00:00Z', quantity: '250' }]);
  const input: BillingRunInput = { organizationId: org.organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 };
  const handle = await stack.worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: billingRunWorkflowId(catalog.subscriptionId, november.periodStart), taskQueue: stack.worker.taskQueue, args: [input] });
  await waitFor('the draft', async () => ((await handle.query(billingRunStateQuery)).status === 'awaiting_approval' ? true : undefined));

  // The first charge is declined: the run waits for the next attempt on its retry schedule.
  fake.declineCharges(1);
  await handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
  const waiting = await waitFor('the retry schedule', async () => {
    const s = await handle.query(billingRunStateQuery);
    return s.status === 'collecting' && s.nextPaymentAt ? s : undefined;
  });
  const first = await prisma.invoice.findUniqueOrThrow({ where: { id: waiting.invoiceId! } });

  // A paid-only action is refused while collecting; a void goes through.
  const voided = await stack.api.post(`/api/v1/invoices/${first.id}/void`, org.apiKey, { reason: 'billed on the wrong plan' });
  expect(voided.status).toBe(200);
  expect(voided.body).toMatchObject({ invoice_id: first.id, status: 'void', total: '52.00' });
  const afterVoid = await prisma.invoice.findUniqueOrThrow({ where: { id: first.id } });
  expect(afterVoid).toMatchObject({ status: 'void', voidedBy: `api_key:${org.apiKeyId}`, voidReason: 'billed on the wrong plan' });
  const voidCalls = fake.requests.filter((r) => r.method === 'POST' && r.path === `/v1/invoices/${first.stripeInvoiceId}/void`);
  expect(voidCalls.map((r) => [r.status, r.idempotencyKey])).toEqual([[200, `ledgerflow-void-${first.id}`]]);
  // Voided once: a second void is refused by the run, with its reason.
  const again = await stack.api.post(`/api/v1/invoices/${first.id}/void`, org.apiKey, { reason: 'again' });
  expect(again.status).toBe(409);
  expect(JSON.stringify(again.body)).toContain('only an invoice being collected can be voided');

  // Re-issued: the period drafted again as revision 2, approved, finalized as a new Stripe invoice and paid.
  const redrafted = await stack.api.post(`/api/v1/invoices/${first.id}/redraft`, org.apiKey, { reason: 'corrected plan' });
  expect(redrafted.status).toBe(200);
  const secondId = (redrafted.body as { invoice_id: string }).invoice_id;
  expect(secondId).not.toBe(first.id);
  expect(redrafted.body).toMatchObject({ status: 'awaiting_approval', total: '52.00' });
  const approved = await stack.api.post(`/api/v1/invoices/${secondId}/approve`, org.apiKey, {});
  expect(approved.status).toBe(200);
  expect(await handle.result()).toMatchObject({ status: 'paid', invoiceId: secondId, total: '52.00', paymentAttempts: 1 });

  const revisions = await prisma.invoice.findMany({ where: { subscriptionId: catalog.subscriptionId }, orderBy: { revision: 'asc' }, include: { lines: true } });
  expect(revisions.map((i) => [i.revision, i.status, i.total.toFixed(2)])).toEqual([
    [1, 'void', '52.00'],
    [2, 'paid', '52.00'],
  ]);
  expect(revisions[1]!.stripeInvoiceId).not.toBe(first.stripeInvoiceId);
  // One declined charge on the void invoice, one successful charge on the corrected one: the customer paid once.
  expect(fake.charges.map((c) => [c.invoice, c.outcome])).toEqual(
    expect.arrayContaining([
      [first.stripeInvoiceId, 'declined'],
      [revisions[1]!.stripeInvoiceId, 'succeeded'],
    ]),
  );
  expect(fake.charges.filter((c) => c.outcome === 'succeeded' && (c.invoice === first.stripeInvoiceId || c.invoice === revisions[1]!.stripeInvoiceId))).toHaveLength(1);
  // The usage is billed by the corrected invoice's usage line; the void one keeps its lines for the record.
  const usage = revisions[1]!.lines.find((l) => l.kind === 'usage')!;
  expect(await eventIdsOfLine(org.organizationId, usage.id)).toEqual(events);
  expect(revisions[0]!.lines.map((l) => l.kind).sort()).toEqual(['base_fee', 'usage']);
  const audit = await prisma.auditLog.findMany({ where: { organizationId: org.organizationId, entityType: 'invoice', entityId: first.id }, orderBy: { id: 'asc' } });
  expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['invoice.voided', 'invoice.redrafted']));
  await recordHistory('billing-run-voided-reissued-paid', handle);
});

it('a paid invoice is not voided: its billing run has ended (409) and the invoice stays paid', async () => {
  const prisma = testPrisma();
  const org = await createTestOrganization('invoice-void-paid');
  const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
  const input: BillingRunInput = { organizationId: org.organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 };
  const handle = await stack.worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: billingRunWorkflowId(catalog.subscriptionId, november.periodStart), taskQueue: stack.worker.taskQueue, args: [input] });
  await waitFor('the draft', async () => ((await handle.query(billingRunStateQuery)).status === 'awaiting_approval' ? true : undefined));
  await handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
  const done = await handle.result();
  expect(done.status).toBe('paid');
  const res = await stack.api.post(`/api/v1/invoices/${done.invoiceId}/void`, org.apiKey, { reason: 'x' });
  expect(res.status).toBe(409);
  expect(res.body).toMatchObject({ code: 'WORKFLOW_NOT_RUNNING' });
  expect((await prisma.invoice.findUniqueOrThrow({ where: { id: done.invoiceId! } })).status).toBe('paid');
});

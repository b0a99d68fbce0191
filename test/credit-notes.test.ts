import { approveUpdate, billingRunStateQuery, BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/names';
import { createBillingCatalog, insertUsage } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { recordHistory } from './harness/histories';
import { useBillingStack } from './harness/billing-stack';
import { waitFor } from './harness/ingest-worker';

/*
 * Credit notes (issue 12, point 2): full or partial credit on a finalized
 * invoice, with a reason, through the API → the note's workflow → the
 * stateful Stripe fake. Real PostgreSQL, real Temporal, real billing runs.
 */

jest.setTimeout(90_000);

const stack = useBillingStack('credit-notes');
const { fake } = stack;

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };

/** November billed and paid: 30.00 base fee + 22.00 usage (250 calls graduated) = 52.00. */
async function paidInvoice() {
  const prisma = testPrisma();
  const org = await createTestOrganization('credit-notes');
  const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
  await insertUsage(prisma, org.organizationId, catalog.customerExternalId, [{ at: '2024-11-12T09:00:00Z', quantity: '250' }]);
  const input: BillingRunInput = { organizationId: org.organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 };
  const handle = await stack.worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: billingRunWorkflowId(catalog.subscriptionId, november.periodStart), taskQueue: stack.worker.taskQueue, args: [input] });
  await waitFor('the draft', async () => ((await handle.query(billingRunStateQuery)).status === 'awaiting_approval' ? true : undefined));
  await handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
  const done = await handle.result();
  expect(done).toMatchObject({ status: 'paid', total: '52.00' });
  return { org, invoiceId: done.invoiceId! };
}

const credit = (org: { apiKey: string }, invoiceId: string, body: unknown) => stack.api.post(`/api/v1/invoices/${invoiceId}/credit-notes`, org.apiKey, body);

it('a partial, then a full credit note on a paid invoice: issued in Stripe once each, numbered, audited, never more than the total', async () => {
  const { org, invoiceId } = await paidInvoice();
  const invoice = await testPrisma().invoice.findUniqueOrThrow({ where: { id: invoiceId } });

  const first = await credit(org, invoiceId, { request_key: 'outage-nov', reason: 'outage on Nov 3', amount: '12.50' });
  expect(first.status).toBe(201);
  expect(first.body).toMatchObject({ status: 'issued', number: 'INV-CN-000001', amount: '12.50', currency: 'usd', reason: 'outage on Nov 3', refund: false, requested_by: `api_key:${org.apiKeyId}` });
  // In Stripe: one note on our invoice, 1,250 cents, credited to the customer's balance (the invoice was paid).
  expect(fake.creditNotes.filter((n) => n.metadata.ledgerflow_invoice_id === invoiceId)).toEqual([
    expect.objectContaining({ invoice: invoice.stripeInvoiceId, amount: 1250, creditAmount: 1250, refundAmount: 0, memo: 'outage on Nov 3' }),
  ]);
  const posts = fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/credit_notes');
  expect(new Set(posts.map((r) => r.idempotencyKey))).toEqual(new Set([`ledgerflow-credit-note-${(first.body as { id: string }).id}`]));

  // The same request again: the same note, nothing new in Stripe.
  const again = await credit(org, invoiceId, { request_key: 'outage-nov', reason: 'outage on Nov 3', amount: '12.50' });
  expect(again.status).toBe(200);
  expect((again.body as { id: string }).id).toBe((first.body as { id: string }).id);

  // More than is left (52.00 − 12.50 = 39.50) is a 400 naming the amount; so is a fraction of a cent.
  const tooMuch = await credit(org, invoiceId, { request_key: 'too-much', reason: 'x', amount: '39.51' });
  expect(tooMuch.status).toBe(400);
  expect(tooMuch.body).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'amount' } });
  expect(JSON.stringify(tooMuch.body)).toContain('39.50 left to credit');
  expect((await credit(org, invoiceId, { request_key: 'cents', reason: 'x', amount: '1.005' })).status).toBe(400);

  // The rest, as a refund: a full note (no amount) credits what is left.
  const rest = await credit(org, invoiceId, { request_key: 'rest', reason: 'customer left', refund: true });
  expect(rest.status).toBe(201);
  expect(rest.body).toMatchObject({ status: 'issued', number: 'INV-CN-000002', amount: '39.50', refund: true });
  expect(fake.creditNotes.filter((n) => n.metadata.ledgerflow_invoice_id === invoiceId).map((n) => [n.amount, n.creditAmount, n.refundAmount])).toEqual([
    [1250, 1250, 0],
    [3950, 0, 3950],
  ]);
  const nothingLeft = await credit(org, invoiceId, { request_key: 'more', reason: 'x' });
  expect(nothingLeft.status).toBe(409);

  // The invoice shows its notes and what they credit; its audit trail names who asked and what Stripe issued.
  const shown = await stack.api.get(`/api/v1/invoices/${invoiceId}`, org.apiKey);
  expect(shown.body).toMatchObject({ total: '52.00', credited: '52.00', credit_notes: [{ number: 'INV-CN-000001' }, { number: 'INV-CN-000002' }] });
  const actions = (shown.body as { history: { action: string }[] }).history.map((h) => h.action);
  expect(actions.filter((a) => a.startsWith('credit_note.'))).toEqual(['credit_note.requested', 'credit_note.issued', 'credit_note.requested', 'credit_note.issued']);
  await recordHistory('credit-note-issued', stack.worker.client.workflow.getHandle((rest.body as { workflow_id: string }).workflow_id));
});

it('a credit note on a draft is refused with 409, and nothing reaches Stripe', async () => {
  const org = await createTestOrganization('credit-notes-draft');
  const catalog = await createBillingCatalog(testPrisma(), org.organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
  const input: BillingRunInput = { organizationId: org.organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 };
  const handle = await stack.worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: billingRunWorkflowId(catalog.subscriptionId, november.periodStart), taskQueue: stack.worker.taskQueue, args: [input] });
  const state = await waitFor('the draft', async () => {
    const s = await handle.query(billingRunStateQuery);
    return s.status === 'awaiting_approval' ? s : undefined;
  });
  const before = fake.requests.length;
  const res = await credit(org, state.invoiceId!, { request_key: 'draft', reason: 'x', amount: '1.00' });
  expect(res.status).toBe(409);
  expect(res.body).toMatchObject({ code: 'INVALID_STATE' });
  expect(JSON.stringify(res.body)).toContain('is draft');
  expect(fake.requests.length).toBe(before);
  await handle.terminate('test over');
});

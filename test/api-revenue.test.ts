import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';

/*
 * Revenue from rows the billing side writes (subscriptions, paid invoices)
 * and Stripe events delivered through the real, signed webhook. Two
 * organizations share every kind of row; neither may see the other's.
 */

const SECRET = 'whsec_revenue_test_secret';

let api: TestApi;
let orgA: Awaited<ReturnType<typeof createTestOrganization>>;
let orgB: Awaited<ReturnType<typeof createTestOrganization>>;

type Org = typeof orgA;
type Interval = 'month' | 'quarter' | 'year';

const uid = () => randomUUID().replace(/-/g, '').slice(0, 12);

async function customer(org: Org, stripeCustomerId: string | null = null) {
  return testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId: `c-${uid()}`, stripeCustomerId } });
}

async function plan(org: Org, currency: string, interval: Interval, baseFee: string) {
  return testPrisma().plan.create({ data: { organizationId: org.organizationId, key: `p-${uid()}`, name: 'P', currency, interval, baseFee } });
}

async function subscribe(org: Org, customerId: string, planId: string, startDate = '2024-01-01', status: 'active' | 'canceled' = 'active') {
  return testPrisma().subscription.create({
    data: { organizationId: org.organizationId, customerId, planId, startDate: new Date(startDate), billingAnchorDay: 1, status, canceledAt: status === 'canceled' ? new Date('2024-02-01') : null },
  });
}

let invoicePeriod = 0;
async function invoice(org: Org, sub: { id: string; customerId: string }, currency: string, total: string, status: 'paid' | 'finalized', stripeInvoiceId: string | null = null) {
  // One invoice per subscription and period: give each its own period.
  const periodStart = new Date(Date.UTC(2024, invoicePeriod++, 1));
  return testPrisma().invoice.create({
    data: {
      organizationId: org.organizationId,
      subscriptionId: sub.id,
      customerId: sub.customerId,
      periodStart,
      periodEnd: new Date(Date.UTC(2024, invoicePeriod, 1)),
      currency,
      total,
      status,
      paidAt: status === 'paid' ? new Date('2024-03-05') : null,
      workflowId: `billing-run:${sub.id}:${periodStart.toISOString().slice(0, 10)}`,
      workflowRunId: 'r',
      stripeInvoiceId,
    },
  });
}

async function deliver(type: string, object: Record<string, unknown>): Promise<void> {
  const payload = JSON.stringify({ id: `evt_${uid()}`, object: 'event', created: Math.floor(Date.now() / 1000), type, data: { object } });
  const res = await api.post('/webhooks/stripe', null, payload, { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) });
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${JSON.stringify(res.body)}`);
}

const charge = (fields: Record<string, unknown>) => ({ id: `ch_${uid()}`, object: 'charge', ...fields });

const revenue = (org: Org, query = '') => api.get(`/api/v1/revenue${query}`, org.apiKey);

beforeAll(async () => {
  api = await startTestApi({ stripeWebhookSecret: SECRET });
  orgA = await createTestOrganization('revenue-a');
  orgB = await createTestOrganization('revenue-b');
  const a = { organization: { ledgerflow_organization_id: orgA.organizationId } };

  // ── organization A ──
  const stripeCustomer = `cus_${uid()}`;
  const [c1, c2, c3, c4, c5] = await Promise.all([customer(orgA, stripeCustomer), customer(orgA), customer(orgA), customer(orgA), customer(orgA)]);
  const [monthly, quarterly, yearly, yen, yenMonthly] = await Promise.all([
    plan(orgA, 'usd', 'month', '49'),
    plan(orgA, 'usd', 'quarter', '90'),
    plan(orgA, 'usd', 'year', '1000'),
    plan(orgA, 'jpy', 'year', '10000'),
    plan(orgA, 'jpy', 'month', '980'),
  ]);
  const s1 = await subscribe(orgA, c1!.id, monthly.id);
  await subscribe(orgA, c2!.id, quarterly.id);
  await subscribe(orgA, c2!.id, yearly.id); // the same customer twice: one active customer
  await subscribe(orgA, c3!.id, yen.id);
  await subscribe(orgA, c4!.id, monthly.id, '2024-01-01', 'canceled'); // not active
  await subscribe(orgA, c5!.id, yenMonthly.id, '2099-01-01'); // not started yet

  await invoice(orgA, s1, 'usd', '120.50', 'paid');
  await invoice(orgA, s1, 'usd', '999', 'finalized'); // not paid: not collected
  const s3 = await testPrisma().subscription.findFirstOrThrow({ where: { customerId: c3!.id } });
  await invoice(orgA, s3, 'jpy', '5000', 'paid');
  const paidInStripe = await invoice(orgA, s1, 'usd', '30', 'paid', `in_${uid()}`);
  // Paid, then credited in full to the customer's Stripe balance (owed back, not collected); a refunding note
  // counts through its charge.refunded instead, and a failed note credits nothing: this invoice adds nothing.
  const credited = await invoice(orgA, s1, 'usd', '40', 'paid', `in_${uid()}`);
  const note = (amount: string, refund: boolean, status: 'issued' | 'failed') =>
    testPrisma().creditNote.create({
      data: { id: randomUUID(), organizationId: orgA.organizationId, invoiceId: credited.id, requestKey: uid(), amount, currency: 'usd', reason: 'test', refund, status, requestedBy: 'fiona@finance', issuedAt: status === 'issued' ? new Date('2024-04-01') : null },
    });
  await note('35', false, 'issued');
  await note('5', true, 'issued');
  await note('7', false, 'failed');
  // The 5.00 refund reached Stripe as a refund of the invoice's charge.
  await deliver('charge.refunded', charge({ amount: 4000, amount_refunded: 500, currency: 'usd', metadata: { ...a.organization, ledgerflow_invoice_id: credited.id } }));

  // A charge outside our invoices counts; refunds count by the charge's latest running total.
  const refunded = charge({ amount: 1999, currency: 'usd', metadata: a.organization });
  await deliver('charge.succeeded', refunded);
  await deliver('charge.refunded', { ...refunded, amount_refunded: 500 });
  await deliver('charge.refunded', { ...refunded, amount_refunded: 800 });
  // JPY amounts are already whole yen.
  await deliver('charge.succeeded', charge({ amount: 3000, currency: 'jpy', metadata: a.organization }));
  // Charges that paid our invoices are in the invoice totals already: named in metadata…
  await deliver('charge.succeeded', charge({ amount: 12050, currency: 'usd', metadata: { ...a.organization, ledgerflow_invoice_id: randomUUID() } }));
  // …or the payment of a Stripe invoice of ours; this one is only tied to A through its Stripe customer.
  await deliver('invoice.paid', {
    id: paidInStripe.stripeInvoiceId,
    object: 'invoice',
    currency: 'usd',
    metadata: { ledgerflow_invoice_id: paidInStripe.id },
    payments: { object: 'list', data: [{ object: 'invoice_payment', payment: { type: 'payment_intent', payment_intent: 'pi_paid_our_invoice' } }] },
  });
  await deliver('charge.succeeded', charge({ amount: 3000, currency: 'usd', customer: stripeCustomer, payment_intent: 'pi_paid_our_invoice' }));
  // A charge of A's Stripe customer that paid nothing of ours counts.
  await deliver('charge.succeeded', charge({ amount: 250, currency: 'usd', customer: stripeCustomer, payment_intent: 'pi_other' }));

  // ── organization B: the same kinds of rows, larger numbers ──
  const b1 = await customer(orgB);
  const bPlan = await plan(orgB, 'usd', 'month', '5000');
  const bSub = await subscribe(orgB, b1.id, bPlan.id);
  await invoice(orgB, bSub, 'usd', '7777', 'paid');
  await deliver('charge.succeeded', charge({ amount: 100000, currency: 'usd', metadata: { ledgerflow_organization_id: orgB.organizationId } }));
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

test('MRR, ARR, active customers and collected money per currency, for the caller only', async () => {
  const res = await revenue(orgA);
  expect(res.status).toBe(200);
  // usd MRR: 49 + 90/3 + 1000/12 = 162.333… → 162.33; ARR 1948.00.
  // usd collected: invoices 120.50 + 30 + (40 − 35 credited to the balance) (the 999 is unpaid), charges 19.99 + 2.50,
  // refunded 8.00 + the 5.00 credit note's refund → 164.99.
  // jpy MRR: 10000/12 = 833.33… → 833; collected 5000 + 3000.
  expect(res.body.data).toEqual([
    { currency: 'jpy', mrr: '833', arr: '10000', active_customers: 1, total_collected: '8000' },
    { currency: 'usd', mrr: '162.33', arr: '1948.00', active_customers: 2, total_collected: '164.99' },
  ]);
  expect(Date.parse(res.body.as_of)).not.toBeNaN();
});

test('another organization\'s subscriptions, invoices and charges are never counted', async () => {
  const res = await revenue(orgB);
  expect(res.body.data).toEqual([{ currency: 'usd', mrr: '5000.00', arr: '60000.00', active_customers: 1, total_collected: '8777.00' }]);
});

test('as_of: a subscription counts from its start; Stripe money from the event\'s time; invoices from when they were paid', async () => {
  const future = await revenue(orgA, '?as_of=2099-06-01');
  expect(future.body.as_of).toBe('2099-06-01T00:00:00.000Z');
  // The 2099 jpy 980/month subscription has started: 833.33… + 980 → 1813, a second customer.
  expect(future.body.data[0]).toEqual({ currency: 'jpy', mrr: '1813', arr: '21760', active_customers: 2, total_collected: '8000' });

  // Before the Stripe events were sent (now) but after the invoices were paid (2024-03-05) and credited (2024-04-01):
  // 120.50 + 30 + (40 − the 35.00 balance credit); the 5.00 refund comes with its charge.refunded, not yet.
  const past = await revenue(orgA, '?as_of=2024-06-30T12:00:00Z');
  expect(past.body.data).toEqual([
    { currency: 'jpy', mrr: '833', arr: '10000', active_customers: 1, total_collected: '5000' },
    { currency: 'usd', mrr: '162.33', arr: '1948.00', active_customers: 2, total_collected: '155.50' },
  ]);

  // Before anything started: no subscriptions, nothing paid yet.
  expect((await revenue(orgA, '?as_of=2023-12-31')).body.data).toEqual([]);
});

test.each([
  ['not a date', '?as_of=yesterday', 'as_of'],
  ['an impossible date', '?as_of=2024-02-30', 'as_of'],
  ['an unknown parameter', '?currency=usd', 'currency'],
])('%s → 400 naming the field', async (_name, query, field) => {
  const res = await revenue(orgA, query);
  expect(res.status).toBe(400);
  expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', details: { field } });
  expect(res.body.error).toContain(field);
});

test('a plan change recorded for later counts from when it takes effect (a move at the period end is not MRR before it)', async () => {
  const org = await createTestOrganization('revenue-scheduled');
  const [basic, pro] = await Promise.all([plan(org, 'usd', 'month', '10'), plan(org, 'usd', 'month', '30')]);
  const c = await customer(org);
  // Recorded now for 2030-01-01, as the workflow records one: the subscription's plan_id moves at once.
  const sub = await subscribe(org, c.id, pro.id);
  await testPrisma().subscriptionPlanChange.create({
    data: { organizationId: org.organizationId, subscriptionId: sub.id, fromPlanId: basic.id, toPlanId: pro.id, effectiveAt: new Date('2030-01-01T00:00:00Z'), requestKey: uid() },
  });
  expect((await revenue(org, '?as_of=2029-12-31T23:59:59Z')).body.data).toMatchObject([{ currency: 'usd', mrr: '10.00' }]);
  expect((await revenue(org, '?as_of=2030-01-01T00:00:00Z')).body.data).toMatchObject([{ currency: 'usd', mrr: '30.00' }]);
});

test('needs an API key', async () => {
  expect((await api.get('/api/v1/revenue', null)).status).toBe(401);
});

test('the OpenAPI document describes GET /api/v1/revenue and its as_of parameter', async () => {
  const doc = (await api.get('/api/openapi.json', null)).body;
  const op = doc.paths['/api/v1/revenue'].get;
  expect(op.parameters).toEqual([expect.objectContaining({ name: 'as_of', in: 'query' })]);
  expect(op.parameters[0].required).not.toBe(true);
  expect(op.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Revenue' });
  expect(Object.keys(doc.components.schemas.RevenueFigures.properties)).toEqual(['currency', 'mrr', 'arr', 'active_customers', 'total_collected']);
});

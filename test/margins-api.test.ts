import { randomUUID } from 'node:crypto';
import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { insertRatedEvents, insertStripeInvoiceEvent } from './harness/margin-fixtures';

/*
 * GET /api/v1/margins over a seeded organization, as of 2026-11-22 12:00 UTC:
 * current_period = Nov 1 – Nov 23 (22 days), trailing_30d = Oct 24 – Nov 23.
 * Every figure below is worked out by hand in the comments.
 */

const AS_OF = '2026-11-22T12:00:00Z';
let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;
const ids = { a: '', b: '', c: '' };
const uid = () => randomUUID().slice(0, 8);

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('margins-api');
  const prisma = testPrisma();
  const organizationId = org.organizationId;
  const stripeA = `cus_${uid()}`;
  const [a, b, c] = await Promise.all([
    prisma.customer.create({ data: { organizationId, externalId: 'acme', stripeCustomerId: stripeA } }),
    prisma.customer.create({ data: { organizationId, externalId: 'bolt' } }),
    prisma.customer.create({ data: { organizationId, externalId: 'crux' } }),
  ]);
  Object.assign(ids, { a: a.id, b: b.id, c: c.id });

  await insertRatedEvents(prisma, organizationId, a, [
    { at: '2026-11-05T10:00:00Z', feature: 'chat', revenue: '10.00', currency: 'usd', cost: '2.5' },
    { at: '2026-11-20T10:00:00Z', feature: 'search', revenue: '5.00', currency: 'usd', cost: '4.25' },
    { at: '2026-10-25T10:00:00Z', feature: 'chat', revenue: '7.00', currency: 'usd', cost: '1' }, // trailing_30d only
    { at: '2026-10-10T10:00:00Z', feature: 'chat', revenue: '100.00', currency: 'usd', cost: '1' }, // in neither window
    { at: '2026-11-23T00:00:00Z', feature: 'chat', revenue: '100.00', currency: 'usd', cost: '1' }, // window end is exclusive
    { at: '2026-11-06T10:00:00Z', feature: 'chat', revenue: '1000.00', currency: 'usd', cost: '0', pending: true }, // not rated
  ]);
  // Cost without revenue: margin −3.00, margin_bps null.
  await insertRatedEvents(prisma, organizationId, b, [{ at: '2026-11-10T10:00:00Z', feature: 'chat', cost: '3' }]);
  // Another currency stays apart.
  await insertRatedEvents(prisma, organizationId, c, [{ at: '2026-11-03T10:00:00Z', feature: 'chat', revenue: '1.00', currency: 'eur', cost: '0.333333' }]);

  // Ledgerflow invoices: a paid one for Oct 15 – Nov 15 (31 days), 93.00 less an issued 31.00 credit note = 62.00
  // (a failed note credits nothing); the revision it re-issued (500.00, credited in full) and a draft do not count.
  const plan = await prisma.plan.create({ data: { organizationId, key: `p-${uid()}`, name: 'P', currency: 'usd', interval: 'month', baseFee: '62' } });
  const sub = await prisma.subscription.create({ data: { organizationId, customerId: a.id, planId: plan.id, startDate: new Date('2026-10-15'), billingAnchorDay: 15 } });
  const invoice = (periodStart: string, periodEnd: string, total: string, status: 'paid' | 'draft', stripeInvoiceId: string | null = null, revision = 1) =>
    prisma.invoice.create({
      data: { organizationId, subscriptionId: sub.id, customerId: a.id, periodStart: new Date(periodStart), periodEnd: new Date(periodEnd), currency: 'usd', total, status, revision, workflowId: `billing-run:${sub.id}:${periodStart}`, workflowRunId: 'r', stripeInvoiceId },
    });
  const creditNote = (invoiceId: string, amount: string, status: 'issued' | 'failed') =>
    prisma.creditNote.create({ data: { id: randomUUID(), organizationId, invoiceId, requestKey: uid(), amount, currency: 'usd', reason: 'test', status, requestedBy: 'fiona@finance' } });
  const ours = `in_${uid()}`;
  const replaced = await invoice('2026-10-15', '2026-11-15', '500.00', 'paid', `in_${uid()}`);
  await creditNote(replaced.id, '500.00', 'issued');
  const counted = await invoice('2026-10-15', '2026-11-15', '93.00', 'paid', ours, 2);
  await prisma.invoice.update({ where: { id: replaced.id }, data: { supersededById: counted.id } });
  await creditNote(counted.id, '31.00', 'issued');
  await creditNote(counted.id, '10.00', 'failed');
  await invoice('2026-11-15', '2026-12-15', '999.00', 'draft');

  // Stripe invoices from stored webhooks.
  const sameInvoice = `in_${uid()}`;
  const period = { period_start: '2026-10-22T00:00:00Z', period_end: '2026-11-21T00:00:00Z' }; // 30 days
  await insertStripeInvoiceEvent(prisma, organizationId, 'invoice.finalized', { id: sameInvoice, customer: stripeA, currency: 'usd', ...period, amount_paid: 0, amount_due: 3000 });
  await insertStripeInvoiceEvent(prisma, organizationId, 'invoice.paid', { id: sameInvoice, customer: stripeA, currency: 'usd', ...period, amount_paid: 3000, amount_due: 3000 });
  // Finalized, not paid yet: amount_due 90.00 for Nov 22 – Dec 22, one day of it (Nov 22) in either window.
  await insertStripeInvoiceEvent(prisma, organizationId, 'invoice.finalized', {
    id: `in_${uid()}`, customer: stripeA, currency: 'usd', period_start: '2026-11-22T00:00:00Z', period_end: '2026-12-22T00:00:00Z', amount_paid: 0, amount_due: 9000,
  });
  // Not counted: Ledgerflow's own invoice finalized in Stripe (by id and by metadata), and a Stripe customer we do not know.
  await insertStripeInvoiceEvent(prisma, organizationId, 'invoice.paid', { id: ours, customer: stripeA, currency: 'usd', ...period, amount_paid: 6200, amount_due: 6200 });
  await insertStripeInvoiceEvent(prisma, organizationId, 'invoice.paid', { id: `in_${uid()}`, customer: stripeA, currency: 'usd', ...period, amount_paid: 6200, amount_due: 6200, metadata: { ledgerflow_invoice_id: randomUUID() } });
  await insertStripeInvoiceEvent(prisma, organizationId, 'invoice.paid', { id: `in_${uid()}`, customer: `cus_${uid()}`, currency: 'usd', ...period, amount_paid: 5000, amount_due: 5000 });
});

afterAll(async () => {
  await api?.close();
  await closeTestPrisma();
});

const margins = (query: string) => api.get(`/api/v1/margins?as_of=${AS_OF}&${query}`, org.apiKey);

test('per customer, current period: events + prorated Ledgerflow and Stripe invoices − cost', async () => {
  const res = await margins('window=current_period&group_by=customer');
  expect(res.status).toBe(200);
  expect(res.body.window).toEqual({ kind: 'current_period', start: '2026-11-01T00:00:00.000Z', end: '2026-11-23T00:00:00.000Z' });
  expect(res.body.threshold_bps).toBe(2000);
  const byCustomer = Object.fromEntries(res.body.data.map((r: { customer_external_id: string }) => [r.customer_external_id, r]));
  expect(res.body.data).toHaveLength(3);
  // acme: events 10 + 5 = 15; invoice 62 × 14/31 (Nov 1–15) = 28; Stripe 30 × 20/30 (Nov 1–21) + 90 × 1/30 (Nov 22) = 23;
  // revenue 66, cost 6.75, margin 59.25, bps 592,500 / 66 = 8977.27 → 8977.
  expect(byCustomer.acme).toEqual({
    customer_id: ids.a,
    customer_external_id: 'acme',
    currency: 'usd',
    revenue: '66.00',
    event_revenue: '15.00',
    invoice_revenue: '28.00',
    stripe_invoice_revenue: '23.00',
    credit_revenue: '0.00',
    cost: '6.75',
    margin: '59.25',
    margin_bps: 8977,
  });
  expect(byCustomer.bolt).toMatchObject({ customer_id: ids.b, currency: 'usd', revenue: '0.00', cost: '3.00', margin: '-3.00', margin_bps: null });
  // 1.00 − 0.333333 = 0.666667 → 6666.67 bps → 6667; amounts rounded to cents one by one.
  expect(byCustomer.crux).toMatchObject({ customer_id: ids.c, currency: 'eur', revenue: '1.00', cost: '0.33', margin: '0.67', margin_bps: 6667 });
});

test('trailing 30 days: the invoice overlapping the window start counts only its days inside it', async () => {
  const res = await margins('window=trailing_30d&group_by=customer');
  expect(res.status).toBe(200);
  expect(res.body.window).toEqual({ kind: 'trailing_30d', start: '2026-10-24T00:00:00.000Z', end: '2026-11-23T00:00:00.000Z' });
  const acme = res.body.data.find((r: { customer_external_id: string }) => r.customer_external_id === 'acme');
  // events 10 + 5 + 7 = 22; invoice 62 × 22/31 (Oct 24 – Nov 15) = 44; Stripe 30 × 28/30 (Oct 24 – Nov 21) + 3 = 31;
  // revenue 97, cost 7.75, margin 89.25, bps 892,500 / 97 = 9201.03 → 9201.
  expect(acme).toMatchObject({ revenue: '97.00', event_revenue: '22.00', invoice_revenue: '44.00', stripe_invoice_revenue: '31.00', cost: '7.75', margin: '89.25', margin_bps: 9201 });
});

test('per feature: invoice revenue, which belongs to no feature, is its own row (feature null)', async () => {
  const res = await margins('window=current_period&group_by=feature');
  expect(res.status).toBe(200);
  const rows = res.body.data.map((r: Record<string, unknown>) => [r.feature, r.currency, r.revenue, r.cost, r.margin, r.margin_bps]);
  expect(rows).toEqual([
    [null, 'usd', '51.00', '0.00', '51.00', 10000], // 28 + 23 of invoices
    ['chat', 'eur', '1.00', '0.33', '0.67', 6667],
    ['chat', 'usd', '10.00', '5.50', '4.50', 4500], // acme 10 / 2.5 and bolt 0 / 3
    ['search', 'usd', '5.00', '4.25', '0.75', 1500],
  ]);
  expect(res.body.data[0]).not.toHaveProperty('customer_id');
});

test('another organization sees none of it; a bad query names the field', async () => {
  const other = await createTestOrganization('margins-api-other');
  const empty = await api.get(`/api/v1/margins?as_of=${AS_OF}`, other.apiKey);
  expect(empty.status).toBe(200);
  expect(empty.body.data).toEqual([]);
  const bad = await margins('window=last_week');
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toContain('window');
  const unauthenticated = await api.get('/api/v1/margins', null);
  expect(unauthenticated.status).toBe(401);
});

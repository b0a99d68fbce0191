import { createStripeClient } from '../activities/stripe/client';
import { createApiKey } from '../prisma/api-keys';
import { startTestApi, type TestApi } from './api-test-app';
import { createBillingCatalog } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { recordHistory } from './harness/histories';
import { startTestWorker, type TestWorker } from './harness/ingest-worker';
import { StripeFake } from './harness/stripe-fake';

// Issue 14, point 3 (customers): finance edits a customer's name and billing email and links a customer that already
// exists in Stripe, checked there by the worker first; a customer already invoiced in Stripe is not moved; audited.

const fake = new StripeFake();
let worker: TestWorker;
let api: TestApi;

beforeAll(async () => {
  const port = await fake.start();
  worker = await startTestWorker('customers-edit', { stripe: createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${port}` }) });
  api = await startTestApi({}, worker.taskQueue);
}, 120_000);

afterAll(async () => {
  await api?.close();
  await worker?.close();
  await fake.stop();
  await closeTestPrisma();
});

test('name and billing email are edited and audited; a Stripe customer that exists is linked, one that does not or was deleted is refused naming the field', async () => {
  const org = await createTestOrganization('customers-edit');
  const prisma = testPrisma();
  expect((await api.post('/api/v1/customers', org.apiKey, { external_id: 'acme', name: 'Acme' })).status).toBe(201);
  const path = '/api/v1/customers/acme';

  const edited = await api.patch(path, org.apiKey, { name: 'Acme Inc.', email: 'billing@acme.test' });
  expect(edited.status).toBe(200);
  expect(edited.body).toMatchObject({ external_id: 'acme', name: 'Acme Inc.', email: 'billing@acme.test', stripe_customer_id: null });
  expect((await api.patch(path, org.apiKey, { email: null })).body.email).toBeNull();

  const missing = await api.patch(path, org.apiKey, { stripe_customer_id: 'cus_DoesNotExist' });
  expect(missing.status).toBe(400);
  expect(missing.body).toMatchObject({ code: 'STRIPE_CUSTOMER_REFUSED', details: { field: 'stripe_customer_id' } });
  expect(missing.body.error).toMatch(/No such customer: 'cus_DoesNotExist'/);
  // The test worker's Stripe account is the one organizations share: a customer there is linkable when it was made for this one.
  const ours = { ledgerflow_organization_id: org.organizationId };
  const deleted = fake.addCustomer({ name: 'Gone', metadata: ours });
  fake.deleteCustomer(deleted);
  const refused = await api.patch(path, org.apiKey, { stripe_customer_id: deleted });
  expect([refused.status, refused.body.error]).toEqual([400, `stripe_customer_id: Stripe customer ${deleted} is deleted; link a customer that exists`]);

  const foreign = fake.addCustomer({ name: 'Someone else' });
  const notOurs = await api.patch(path, org.apiKey, { stripe_customer_id: foreign });
  expect([notOurs.status, notOurs.body.code, notOurs.body.error]).toEqual([
    400,
    'STRIPE_CUSTOMER_REFUSED',
    expect.stringContaining(`Stripe customer ${foreign} is in the Stripe account organizations share and was not made for yours`),
  ]);

  const existing = fake.addCustomer({ name: 'Acme (Stripe)', email: 'ap@acme.test', metadata: ours });
  const linked = await api.patch(path, org.apiKey, { stripe_customer_id: existing });
  expect(linked.status).toBe(200);
  expect(linked.body).toMatchObject({ stripe_customer_id: existing, workflow_id: expect.stringMatching(/^stripe-link:/) });
  expect((await api.get(path, org.apiKey)).body.stripe_customer_id).toBe(existing);
  await recordHistory('link-stripe-customer', worker.client.workflow.getHandle(linked.body.workflow_id as string));
  // The same link again changes nothing and writes no audit row.
  const again = await api.patch(path, org.apiKey, { stripe_customer_id: existing });
  expect([again.status, again.body.workflow_id]).toEqual([200, undefined]);
  // One Stripe customer bills one customer.
  expect((await api.post('/api/v1/customers', org.apiKey, { external_id: 'globex' })).status).toBe(201);
  const taken = await api.patch('/api/v1/customers/globex', org.apiKey, { stripe_customer_id: existing, name: 'Globex' });
  expect([taken.status, taken.body.code, taken.body.error]).toEqual([409, 'STRIPE_CUSTOMER_IN_USE', `stripe_customer_id: Stripe customer ${existing} is linked to customer acme already; one Stripe customer bills one customer`]);
  // Refused, so its name did not change either.
  expect((await api.get('/api/v1/customers/globex', org.apiKey)).body.name).toBeNull();

  const customerId = linked.body.id as string;
  const audit = await prisma.auditLog.findMany({ where: { organizationId: org.organizationId, entityType: 'customer', entityId: customerId }, orderBy: { id: 'asc' } });
  expect(audit.map((a) => [a.action, a.actorType, a.before, a.after])).toEqual([
    ['customer.created', 'api_key', null, expect.objectContaining({ name: 'Acme' })],
    ['customer.updated', 'api_key', { name: 'Acme', email: null }, { name: 'Acme Inc.', email: 'billing@acme.test' }],
    ['customer.updated', 'api_key', { name: 'Acme Inc.', email: 'billing@acme.test' }, { name: 'Acme Inc.', email: null }],
    ['customer.stripe_linked', 'api_key', { stripe_customer_id: null }, { stripe_customer_id: existing }],
  ]);

  // A customer invoiced in Stripe under its Stripe customer is not moved to another one.
  const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: new Date('2026-10-01T00:00:00Z'), anchorDay: 1 });
  const billedUnder = fake.addCustomer({ name: 'Billed', metadata: ours });
  await prisma.customer.update({ where: { id: catalog.customerId }, data: { stripeCustomerId: billedUnder } });
  await prisma.invoice.create({
    data: {
      organizationId: org.organizationId,
      customerId: catalog.customerId,
      subscriptionId: catalog.subscriptionId,
      periodStart: new Date('2026-10-01T00:00:00Z'),
      periodEnd: new Date('2026-11-01T00:00:00Z'),
      currency: 'usd',
      status: 'finalized',
      total: '10',
      workflowId: `billing-run:${catalog.subscriptionId}:2026-10-01`,
      workflowRunId: 'run',
      stripeInvoiceId: 'in_test_customers_edit',
    },
  });
  const moved = await api.patch(`/api/v1/customers/${catalog.customerExternalId}`, org.apiKey, { stripe_customer_id: fake.addCustomer({ name: 'Other', metadata: ours }) });
  expect(moved.status).toBe(409);
  expect(moved.body).toMatchObject({ code: 'STRIPE_CUSTOMER_IN_USE', details: { field: 'stripe_customer_id' } });
  expect(moved.body.error).toContain(`the customer has 1 invoice in Stripe (or approved, about to be) under ${billedUnder}`);
  expect((await prisma.customer.findUniqueOrThrow({ where: { id: catalog.customerId } })).stripeCustomerId).toBe(billedUnder);

  const bad: [object, string][] = [
    [{ stripe_customer_id: 'acct_123' }, 'stripe_customer_id'],
    [{ email: 'not-an-address' }, 'email'],
    [{ name: 'x\u0000y' }, 'name'],
    [{ external_id: 'other' }, 'external_id'],
  ];
  for (const [body, field] of bad) {
    const res = await api.patch(path, org.apiKey, body);
    expect([JSON.stringify(body), res.status, res.body.details?.field]).toEqual([JSON.stringify(body), 400, field]);
  }
  expect((await api.patch('/api/v1/customers/nobody', org.apiKey, { name: 'x' })).status).toBe(404);
  const reader = await createApiKey(prisma, org.organizationId, 'reader', { type: 'system', id: 'test' }, ['read']);
  expect((await api.patch(path, reader.key, { name: 'x' })).status).toBe(403);
}, 120_000);

test('a card setup link: a hosted Stripe Checkout page in setup mode, in the currency of the customer\'s subscription, audited; bad input names the field', async () => {
  const org = await createTestOrganization('customers-card-setup');
  const prisma = testPrisma();
  const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: new Date('2026-10-01T00:00:00Z'), anchorDay: 1, currency: 'gbp' });
  const path = `/api/v1/customers/${catalog.customerExternalId}/payment-setup`;

  const opened = await api.post(path, org.apiKey, { success_url: 'https://app.example.test/card-saved', cancel_url: 'https://app.example.test/billing' });
  expect(opened.status).toBe(201);
  const stripeCustomerId = (await prisma.customer.findUniqueOrThrow({ where: { id: catalog.customerId } })).stripeCustomerId;
  expect(stripeCustomerId).toMatch(/^cus_/);
  expect(opened.body).toEqual({
    checkout_session_id: expect.stringMatching(/^cs_/),
    url: expect.stringMatching(/^https:\/\/checkout\.stripe\.test\//),
    expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    stripe_customer_id: stripeCustomerId,
    workflow_id: expect.stringMatching(new RegExp(`^payment-setup:${catalog.customerId}:`)),
  });
  const sent = fake.requestsTo('POST', /^\/v1\/checkout\/sessions$/).find((r) => r.body.customer === stripeCustomerId);
  expect(sent!.body).toMatchObject({ mode: 'setup', currency: 'gbp', success_url: 'https://app.example.test/card-saved', cancel_url: 'https://app.example.test/billing' });
  const audit = await prisma.auditLog.findMany({ where: { organizationId: org.organizationId, entityId: catalog.customerId, action: 'customer.payment_setup_started' } });
  expect(audit.map((a) => [a.actorType, a.after])).toEqual([['api_key', { checkout_session_id: opened.body.checkout_session_id, stripe_customer_id: stripeCustomerId, expires_at: opened.body.expires_at }]]);
  // A second link (the first expired, another contact) is a new page.
  const second = await api.post(path, org.apiKey, { success_url: 'https://app.example.test/card-saved', currency: 'EUR' });
  expect([second.status, second.body.checkout_session_id === opened.body.checkout_session_id]).toEqual([201, false]);

  // Sent again with its request_key (a 202, a lost answer): the same page, not a second one; the key with another body is refused.
  const keyed = { success_url: 'https://app.example.test/card-saved', request_key: 'card-acme-1' };
  const firstKeyed = await api.post(path, org.apiKey, keyed);
  const againKeyed = await api.post(path, org.apiKey, keyed);
  expect([firstKeyed.status, againKeyed.status, againKeyed.body.checkout_session_id]).toEqual([201, 201, firstKeyed.body.checkout_session_id]);
  const reused = await api.post(path, org.apiKey, { ...keyed, success_url: 'https://app.example.test/other' });
  expect([reused.status, reused.body.code, reused.body.details?.field]).toEqual([409, 'REQUEST_KEY_REUSED', 'request_key']);
  const sessions = await prisma.auditLog.count({ where: { organizationId: org.organizationId, entityId: catalog.customerId, action: 'customer.payment_setup_started' } });
  expect(sessions).toBe(3);

  // A customer with no subscription needs the currency said.
  expect((await api.post('/api/v1/customers', org.apiKey, { external_id: 'walk-in' })).status).toBe(201);
  const noCurrency = await api.post('/api/v1/customers/walk-in/payment-setup', org.apiKey, { success_url: 'https://app.example.test/ok' });
  expect([noCurrency.status, noCurrency.body.details?.field, noCurrency.body.error]).toEqual([400, 'currency', 'Invalid request: currency: customer walk-in has no subscription to take it from; say which currency the card will pay']);
  expect((await api.post('/api/v1/customers/walk-in/payment-setup', org.apiKey, { success_url: 'https://app.example.test/ok', currency: 'usd' })).status).toBe(201);

  const bad: [object, string][] = [
    [{}, 'success_url'],
    [{ success_url: 'ftp://app.example.test/x' }, 'success_url'],
    [{ success_url: '/relative' }, 'success_url'],
    [{ success_url: 'https://app.example.test/ok', cancel_url: 'javascript:alert(1)' }, 'cancel_url'],
    [{ success_url: 'https://app.example.test/ok', currency: 'xyz' }, 'currency'],
    [{ success_url: 'https://app.example.test/ok', mode: 'payment' }, 'mode'],
  ];
  for (const [body, field] of bad) {
    const res = await api.post(path, org.apiKey, body);
    expect([JSON.stringify(body), res.status, res.body.details?.field]).toEqual([JSON.stringify(body), 400, field]);
  }
  expect((await api.post('/api/v1/customers/nobody/payment-setup', org.apiKey, { success_url: 'https://app.example.test/ok', currency: 'usd' })).status).toBe(404);
  const reader = await createApiKey(prisma, org.organizationId, 'reader', { type: 'system', id: 'test' }, ['read']);
  expect((await api.post(path, reader.key, { success_url: 'https://app.example.test/ok' })).status).toBe(403);
}, 120_000);

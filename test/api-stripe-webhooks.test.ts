import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import Stripe from 'stripe';
import { BILLING_RUN_WORKFLOW_TYPE, paymentEventSignal, type BillingRunInput, type PaymentEvent } from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/names';
import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization, testPrisma, uniqueTaskQueue } from './harness/fixtures';

/*
 * The real path: signed bytes → API → PostgreSQL (stripe_events, audit_logs)
 * → a Temporal signal to the invoice's billing run. Each invoice's billing run
 * is a real `billingRun` execution under its deterministic id, started on a
 * task queue no worker polls: it stays running and unexecuted, so its history
 * shows exactly the signals the webhook sent, whatever the run would do next.
 */

const SECRET = 'whsec_ledgerflow_test_secret';

let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;
const taskQueue = uniqueTaskQueue('stripe-webhooks-no-worker');
const startedWorkflowIds: string[] = [];

interface TestInvoice {
  id: string;
  workflowId: string;
  stripeInvoiceId: string;
  runInput: BillingRunInput;
}
let invoice: TestInvoice;

/** A customer on a monthly plan with one finalized invoice whose billing run is (or was) `workflowId`. */
async function createInvoice(periodStart: string): Promise<TestInvoice> {
  const prisma = testPrisma();
  const suffix = randomUUID().slice(0, 8);
  const customer = await prisma.customer.create({ data: { organizationId: org.organizationId, externalId: `cust-${suffix}` } });
  const plan = await prisma.plan.create({
    data: { organizationId: org.organizationId, key: `plan-${suffix}`, name: 'Pro', currency: 'usd', interval: 'month', baseFee: '49' },
  });
  const subscription = await prisma.subscription.create({
    data: { organizationId: org.organizationId, customerId: customer.id, planId: plan.id, startDate: new Date(periodStart), billingAnchorDay: 1 },
  });
  const workflowId = billingRunWorkflowId(subscription.id, periodStart);
  const stripeInvoiceId = `in_${randomUUID().replace(/-/g, '')}`;
  const row = await prisma.invoice.create({
    data: {
      organizationId: org.organizationId,
      subscriptionId: subscription.id,
      customerId: customer.id,
      periodStart: new Date(periodStart),
      periodEnd: new Date(Date.parse(periodStart) + 31 * 86_400_000),
      currency: 'usd',
      status: 'finalized',
      total: '49',
      workflowId,
      workflowRunId: 'not-relevant-here',
      stripeInvoiceId,
    },
  });
  const runInput = { organizationId: org.organizationId, subscriptionId: subscription.id, periodStart: row.periodStart.toISOString(), periodEnd: row.periodEnd.toISOString() };
  return { id: row.id, workflowId, stripeInvoiceId, runInput };
}

const temporal = () => api.temporal.client;

async function startBillingRun(inv: TestInvoice): Promise<void> {
  await temporal().workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: inv.workflowId, taskQueue, args: [inv.runInput] });
  startedWorkflowIds.push(inv.workflowId);
}

/** The stripePayment signals recorded in the run's history for one Stripe event. */
async function signalsFor(workflowId: string, stripeEventId: string): Promise<PaymentEvent[]> {
  const history = await temporal().workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const signaled = e.workflowExecutionSignaledEventAttributes;
    const payload = signaled?.input?.payloads?.[0];
    if (signaled?.signalName !== paymentEventSignal.name || !payload) return [];
    const event = defaultPayloadConverter.fromPayload<PaymentEvent>(payload as Payload);
    return event.stripeEventId === stripeEventId ? [event] : [];
  });
}

function stripeEvent(type: string, object: Record<string, unknown>): Record<string, unknown> {
  return {
    id: `evt_${randomUUID().replace(/-/g, '')}`,
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  };
}

const invoiceObject = (inv: TestInvoice, metadata: Record<string, string>) => ({
  id: inv.stripeInvoiceId,
  object: 'invoice',
  currency: 'usd',
  amount_paid: 4900,
  metadata,
});

/** POSTs the exact bytes that were signed (or not) to the webhook. */
function deliver(payload: string, signature: string | null, target: TestApi = api) {
  return target.post('/webhooks/stripe', null, payload, signature === null ? {} : { 'stripe-signature': signature });
}

const signed = (payload: string, secret = SECRET) => Stripe.webhooks.generateTestHeaderString({ payload, secret });

beforeAll(async () => {
  api = await startTestApi({ stripeWebhookSecret: SECRET });
  org = await createTestOrganization('stripe-webhooks');
  invoice = await createInvoice('2026-10-01');
  await startBillingRun(invoice);
});

afterAll(async () => {
  await Promise.allSettled(startedWorkflowIds.map((id) => temporal().workflow.getHandle(id).terminate('test done')));
  await api.close();
  await closeTestPrisma();
});

const storedEvent = (id: string) => testPrisma().stripeEvent.findUnique({ where: { id } });

describe('signature', () => {
  const payload = JSON.stringify(stripeEvent('charge.succeeded', { id: 'ch_unsigned', object: 'charge', amount: 100, currency: 'usd' }));

  test('no Stripe-Signature header → 400 INVALID_SIGNATURE, nothing stored', async () => {
    const res = await deliver(payload, null);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'INVALID_SIGNATURE' });
    expect(res.body.error).toMatch(/Stripe-Signature/);
    expect(await storedEvent(JSON.parse(payload).id)).toBeNull();
  });

  test('signed with another secret, or a body changed after signing → 400 INVALID_SIGNATURE', async () => {
    const forged = await deliver(payload, signed(payload, 'whsec_not_ours'));
    expect(forged.status).toBe(400);
    expect(forged.body.code).toBe('INVALID_SIGNATURE');

    const tampered = payload.replace('"amount":100', '"amount":100000');
    const altered = await deliver(tampered, signed(payload));
    expect(altered.status).toBe(400);
    expect(altered.body.code).toBe('INVALID_SIGNATURE');
    expect(await storedEvent(JSON.parse(payload).id)).toBeNull();
  });

  test('without a configured secret the endpoint says so with a 503, not a 500', async () => {
    const unconfigured = await startTestApi();
    try {
      const res = await deliver(payload, signed(payload), unconfigured);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('WEBHOOK_NOT_CONFIGURED');
      expect(res.body.error).toContain('STRIPE_WEBHOOK_SECRET');
    } finally {
      await unconfigured.close();
    }
  });
});

describe('invoice payment events', () => {
  test('invoice.paid is stored raw, signals the billing run once, and is audited', async () => {
    const event = stripeEvent('invoice.paid', invoiceObject(invoice, { ledgerflow_invoice_id: invoice.id }));
    // Stripe's own formatting: the signature must hold on these exact bytes, whitespace included.
    const payload = JSON.stringify(event, null, 2);
    const res = await deliver(payload, signed(payload));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, duplicate: false });

    const stored = await storedEvent(event.id as string);
    expect(stored).toMatchObject({ type: 'invoice.paid', organizationId: org.organizationId, outcome: 'signaled', payload: event });
    expect(stored?.processedAt).toBeInstanceOf(Date);

    expect(await signalsFor(invoice.workflowId, event.id as string)).toEqual([
      { outcome: 'paid', stripeEventId: event.id, stripeInvoiceId: invoice.stripeInvoiceId },
    ]);

    const audit = await testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, entityId: event.id as string } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: 'stripe_event.received',
      entityType: 'stripe_event',
      actorType: 'system',
      after: { type: 'invoice.paid', outcome: 'signaled', invoice_id: invoice.id, workflow_id: invoice.workflowId },
    });
  });

  test('10 parallel deliveries of one event: all 200, processed once, one signal, one audit row', async () => {
    // No metadata: the invoice is found by the Stripe invoice id we stored.
    const event = stripeEvent('invoice.payment_failed', invoiceObject(invoice, {}));
    const payload = JSON.stringify(event);
    const responses = await Promise.all(Array.from({ length: 10 }, () => deliver(payload, signed(payload))));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(responses.filter((r) => r.body.duplicate === false)).toHaveLength(1);
    expect(responses.filter((r) => r.body.duplicate === true)).toHaveLength(9);

    // Every delivery has answered, so any second signal would be in the history by now.
    expect(await signalsFor(invoice.workflowId, event.id as string)).toEqual([
      { outcome: 'failed', stripeEventId: event.id, stripeInvoiceId: invoice.stripeInvoiceId },
    ]);
    expect(await testPrisma().stripeEvent.count({ where: { id: event.id as string } })).toBe(1);
    expect(await testPrisma().auditLog.count({ where: { entityId: event.id as string } })).toBe(1);

    // A later redelivery is a duplicate too.
    const again = await deliver(payload, signed(payload));
    expect(again.body).toEqual({ received: true, duplicate: true });
  });

  test('Temporal unreachable → 503 and nothing kept, so Stripe\'s retry processes the event afresh', async () => {
    const logged: string[] = [];
    const cutOff = await startTestApi({ stripeWebhookSecret: SECRET, log: (message) => logged.push(message) });
    const event = stripeEvent('invoice.paid', invoiceObject(invoice, { ledgerflow_invoice_id: invoice.id }));
    const payload = JSON.stringify(event);
    try {
      await cutOff.temporal.connection.close();
      const res = await deliver(payload, signed(payload), cutOff);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('TEMPORAL_UNAVAILABLE');
      expect(logged).toEqual([expect.stringContaining(`could not signal ${invoice.workflowId}`)]);
      expect(await storedEvent(event.id as string)).toBeNull();
      expect(await testPrisma().auditLog.count({ where: { entityId: event.id as string } })).toBe(0);
    } finally {
      await cutOff.close().catch(() => undefined);
    }

    const retry = await deliver(payload, signed(payload));
    expect(retry.body).toEqual({ received: true, duplicate: false });
    expect(await storedEvent(event.id as string)).toMatchObject({ outcome: 'signaled' });
    expect(await signalsFor(invoice.workflowId, event.id as string)).toHaveLength(1);
  });

  test('an invoice we do not know → 200, stored with outcome invoice_not_found', async () => {
    const event = stripeEvent('invoice.payment_succeeded', { id: 'in_not_ours', object: 'invoice', currency: 'usd', metadata: {} });
    const payload = JSON.stringify(event);
    const res = await deliver(payload, signed(payload));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, duplicate: false });
    expect(await storedEvent(event.id as string)).toMatchObject({ organizationId: null, outcome: 'invoice_not_found', payload: event });
  });

  test('a payment after the billing run ended (the invoice written off as uncollectible) is recorded, once, and counts in revenue', async () => {
    const ended = await createInvoice('2026-09-01');
    await startBillingRun(ended);
    await temporal().workflow.getHandle(ended.workflowId).terminate('period settled');
    await testPrisma().invoice.update({ where: { id: ended.id }, data: { status: 'uncollectible', uncollectibleAt: new Date() } });
    const collected = async () => Number((await api.get('/api/v1/revenue', org.apiKey)).body.data.find((r: { currency: string }) => r.currency === 'usd')?.total_collected ?? 0);
    const before = await collected();

    // A failed payment changes nothing; the payment that follows is money received.
    const failed = stripeEvent('invoice.payment_failed', invoiceObject(ended, { ledgerflow_invoice_id: ended.id }));
    expect((await deliver(JSON.stringify(failed), signed(JSON.stringify(failed)))).status).toBe(200);
    expect(await storedEvent(failed.id as string)).toMatchObject({ outcome: 'workflow_not_found' });
    const event = stripeEvent('invoice.paid', invoiceObject(ended, { ledgerflow_invoice_id: ended.id }));
    const payload = JSON.stringify(event);
    const res = await deliver(payload, signed(payload));
    expect(res.status).toBe(200);
    expect(await storedEvent(event.id as string)).toMatchObject({ organizationId: org.organizationId, outcome: 'paid_after_run' });
    const paid = await testPrisma().invoice.findUniqueOrThrow({ where: { id: ended.id } });
    expect(paid).toMatchObject({ status: 'paid', paidAt: new Date((event.created as number) * 1000) });
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, entityId: ended.id, action: 'invoice.paid' } });
    expect(audit).toEqual([expect.objectContaining({ actorType: 'system', actorId: 'stripe-webhook', after: expect.objectContaining({ source: 'webhook_after_run', stripeEventId: event.id, status: 'paid' }) })]);
    expect(await collected()).toBeCloseTo(before + 49, 2);

    // Stripe's companion event for the same payment records nothing more.
    const companion = stripeEvent('invoice.payment_succeeded', invoiceObject(ended, { ledgerflow_invoice_id: ended.id }));
    expect((await deliver(JSON.stringify(companion), signed(JSON.stringify(companion)))).status).toBe(200);
    expect(await storedEvent(companion.id as string)).toMatchObject({ outcome: 'workflow_not_found' });
    expect(await testPrisma().auditLog.count({ where: { organizationId: org.organizationId, entityId: ended.id, action: 'invoice.paid' } })).toBe(1);
    expect(await collected()).toBeCloseTo(before + 49, 2);
  });
});

describe('revenue events', () => {
  test('charge.succeeded is stored under the organization its metadata names, without signalling anything', async () => {
    const event = stripeEvent('charge.succeeded', {
      id: `ch_${randomUUID().slice(0, 8)}`,
      object: 'charge',
      amount: 1999,
      currency: 'usd',
      metadata: { ledgerflow_organization_id: org.organizationId },
    });
    const payload = JSON.stringify(event);
    const res = await deliver(payload, signed(payload));
    expect(res.body).toEqual({ received: true, duplicate: false });
    expect(await storedEvent(event.id as string)).toMatchObject({ type: 'charge.succeeded', organizationId: org.organizationId, outcome: 'stored', payload: event });
  });

  test('metadata naming an organization that does not exist is stored without one', async () => {
    const event = stripeEvent('customer.subscription.updated', { id: 'sub_x', object: 'subscription', metadata: { ledgerflow_organization_id: randomUUID() } });
    const payload = JSON.stringify(event);
    expect((await deliver(payload, signed(payload))).status).toBe(200);
    expect(await storedEvent(event.id as string)).toMatchObject({ organizationId: null, outcome: 'stored' });
  });
});

test('the OpenAPI document describes the webhook: a Stripe event in, {received, duplicate} out, no API key', async () => {
  const doc = (await api.get('/api/openapi.json', null)).body;
  const op = doc.paths['/webhooks/stripe'].post;
  expect(op.security).toEqual([]);
  expect(op.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/StripeEvent' });
  expect(doc.components.schemas.StripeWebhookResponse.required).toEqual(['received', 'duplicate']);
  expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '503']));
});

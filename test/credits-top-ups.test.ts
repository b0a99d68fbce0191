import { randomUUID } from 'node:crypto';
import Long from 'long';
import Stripe from 'stripe';
import { temporal } from '@temporalio/proto';
import { creditTopUpWorkflowId } from '../temporal/credit-top-up';
import type { ActivityDeps } from '../activities/deps';
import { MockActivityEnvironment } from '@temporalio/testing';
import { failCreditTopUp } from '../activities/credit-top-ups';
import { startOrphanTopUps } from '../activities/sweeper';
import { STRIPE_UNREACHABLE } from '../temporal/top-up-failure';
import { dec } from '../billing/decimal';
import { insertTopUp } from '../prisma/credit-top-ups';
import { useBillingStack } from './harness/billing-stack';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { recordHistory } from './harness/histories';
import { waitFor } from './harness/ingest-worker';
import { insertBatch, startBatchWorkflow } from './harness/insert-batch';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Credit top-ups (issue 15, point 6): credits bought through a Stripe
 * invoice charged to the customer's card; the grant is made when the payment
 * succeeds, exactly once (the workflow, a reset of it, a late invoice.paid
 * webhook); an automatic top-up when a burn leaves the wallet below its
 * threshold, never two at once; a failed charge alerts. The stateful Stripe
 * fake stands in for Stripe (stripe-mock keeps no state: one charge, not
 * two, needs one that does).
 */

jest.setTimeout(180_000);

const stack = useBillingStack('credits-top-ups');
const SECRET = 'whsec_top_ups';
const { EventType } = temporal.api.enums.v1;
let webhooks: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

const post = (path: string, body: unknown) => stack.api.post(`/api/v1${path}`, org.apiKey, body);
const get = (path: string) => stack.api.get(`/api/v1${path}`, org.apiKey);

beforeAll(async () => {
  webhooks = await startTestApi({ stripeWebhookSecret: SECRET });
  org = await createTestOrganization('credits-top-ups');
  expect((await post('/meters', { key: 'tokens', name: 'Tokens', event_type: 'llm_call', aggregation: 'sum' })).status).toBe(201);
  expect((await post('/credit-burn-rates', { meter: 'tokens', credits: '1', per_units: '1000', effective_from: '2024-01-01T00:00:00Z' })).status).toBe(201);
});

afterAll(async () => {
  await webhooks.close();
  await closeTestPrisma();
});

async function customer(): Promise<string> {
  const externalId = `cust-${randomUUID().slice(0, 8)}`;
  await testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId, email: `${externalId}@example.com` } });
  return externalId;
}

const topUp = (who: string, extra: Record<string, unknown> = {}) => post('/credits/top-ups', { customer_external_id: who, credits: '100', price_per_credit: '0.05', currency: 'usd', ...extra });
const settled = async (id: string) => {
  await stack.worker.client.workflow.getHandle(creditTopUpWorkflowId(id)).result();
  return (await get(`/credits/top-ups/${id}`)).body;
};
const balance = async (who: string) => (await get(`/customers/${who}/wallet`)).body.balance as string;
const chargesOf = (stripeInvoiceId: string) => stack.fake.charges.filter((c) => c.invoice === stripeInvoiceId);

/** Stripe's invoice.paid for an invoice of a top-up, signed, to the webhook endpoint. */
async function deliverPaid(invoiceId: string, topUpId: string, stripeCustomer: string | null): Promise<void> {
  const payload = JSON.stringify({
    id: `evt_${randomUUID()}`,
    object: 'event',
    type: 'invoice.paid',
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: invoiceId,
        object: 'invoice',
        customer: stripeCustomer,
        status: 'paid',
        amount_paid: 500,
        currency: 'usd',
        period_start: Math.floor(Date.now() / 1000),
        period_end: Math.floor(Date.now() / 1000),
        metadata: { ledgerflow_top_up_id: topUpId, ledgerflow_organization_id: org.organizationId },
      },
    },
  });
  const res = await webhooks.post('/webhooks/stripe', null, payload, { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) });
  expect(res.status).toBe(200);
}

describe('a top-up', () => {
  test('charges the card on file and grants the credits once the payment succeeds', async () => {
    const who = await customer();
    const asked = await topUp(who, { idempotency_key: `order-${who}` });
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({ status: 'pending', credits: '100', amount: '5', automatic: false, workflow_id: `credit-top-up:${asked.body.id}` });
    const done = await settled(asked.body.id);
    expect(done).toMatchObject({ status: 'paid', failure: null });
    expect(chargesOf(done.stripe_invoice_id)).toEqual([{ invoice: done.stripe_invoice_id, amount: 500, currency: 'usd', outcome: 'succeeded' }]);
    expect(await balance(who)).toBe('100');
    const grant = (await get(`/customers/${who}/wallet`)).body.grants[0];
    expect(grant).toMatchObject({ id: done.grant_id, kind: 'purchased', credits: '100', price_per_credit: '0.05', idempotency_key: `top-up:${asked.body.id}` });

    // The same request again answers the first top-up; on other terms it is refused.
    const again = await topUp(who, { idempotency_key: `order-${who}` });
    expect([again.status, again.body.id, again.body.status]).toEqual([200, asked.body.id, 'paid']);
    expect((await topUp(who, { idempotency_key: `order-${who}`, credits: '101' })).status).toBe(409);

    // A reset of the workflow after it granted charges nothing more and grants nothing more.
    const workflowId = creditTopUpWorkflowId(asked.body.id);
    const history = await stack.worker.client.workflow.getHandle(workflowId).fetchHistory();
    const firstTask = (history.events ?? []).find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)!;
    const { runId } = (await stack.worker.client.workflowService.resetWorkflowExecution({
      namespace: stack.worker.client.options.namespace,
      workflowExecution: { workflowId },
      reason: 'test: run the top-up again',
      workflowTaskFinishEventId: Long.fromValue(firstTask.eventId!),
      requestId: randomUUID(),
    })) as temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse;
    expect(await stack.worker.client.workflow.getHandle(workflowId, runId!).result()).toEqual({ status: 'paid' });
    expect(chargesOf(done.stripe_invoice_id)).toHaveLength(1);
    expect(await testPrisma().creditGrant.count({ where: { organizationId: org.organizationId, idempotencyKey: `top-up:${asked.body.id}` } })).toBe(1);
    expect(await balance(who)).toBe('100');
    await recordHistory('credit-top-up-paid', stack.worker.client.workflow.getHandle(workflowId));
  });

  test('a declined card grants nothing, alerts, and voids its Stripe invoice', async () => {
    const who = await customer();
    stack.fake.declineCharges(1);
    const asked = await topUp(who);
    const done = await settled(asked.body.id);
    expect(done.status).toBe('failed');
    expect(done.failure).toContain('the card was declined (insufficient_funds)');
    expect(await balance(who)).toBe('0');
    expect(chargesOf(done.stripe_invoice_id).map((c) => c.outcome)).toEqual(['declined']);
    // Stripe shows no receivable that Ledgerflow calls failed.
    expect(stack.fake.invoice(done.stripe_invoice_id)?.status).toBe('void');
    const alert = await testPrisma().notification.findFirstOrThrow({ where: { organizationId: org.organizationId, dedupeKey: `credits.top_up_failed:${asked.body.id}` } });
    expect(alert.payload).toMatchObject({ customerExternalId: who, credits: '100', amount: '5', currency: 'usd', automatic: false });
    // A manual top-up's failure pauses nothing.
    expect((await get(`/customers/${who}/wallet`)).body.auto_top_up_paused).toBeNull();
    await recordHistory('credit-top-up-declined', stack.worker.client.workflow.getHandle(creditTopUpWorkflowId(asked.body.id)));
  });

  test('one whose invoice Stripe would not void, paid later, is granted by its own invoice.paid webhook, once', async () => {
    const who = await customer();
    stack.fake.declineCharges(1);
    stack.fake.refuseOnce('POST', /^\/v1\/invoices\/[^/]+\/void$/);
    const asked = await topUp(who);
    const done = await settled(asked.body.id);
    expect(done.status).toBe('failed');
    expect(stack.fake.invoice(done.stripe_invoice_id)?.status).toBe('open');

    // The customer pays the open Stripe invoice later: Stripe's invoice.paid grants the credits.
    stack.fake.payHostedInvoice(done.stripe_invoice_id);
    const { stripeCustomerId: stripeCustomer } = await testPrisma().customer.findFirstOrThrow({ where: { organizationId: org.organizationId, externalId: who } });
    const deliver = (invoiceId: string, topUpId: string) => deliverPaid(invoiceId, topUpId, stripeCustomer);
    // Another invoice carrying the top-up's id in its metadata grants nothing; nor does a top-up id that does not exist.
    await deliver('in_not_the_top_ups', asked.body.id);
    await deliver(done.stripe_invoice_id, randomUUID());
    expect(await balance(who)).toBe('0');
    await deliver(done.stripe_invoice_id, asked.body.id);
    await deliver(done.stripe_invoice_id, asked.body.id);
    const outcomes = await testPrisma().stripeEvent.findMany({ where: { organizationId: org.organizationId, type: 'invoice.paid' }, orderBy: { receivedAt: 'asc' }, select: { outcome: true } });
    expect(outcomes.map((o) => o.outcome)).toEqual(['top_up_other_invoice', 'top_up_not_found', 'top_up_granted', 'top_up_granted_before']);
    expect((await get(`/credits/top-ups/${asked.body.id}`)).body).toMatchObject({ status: 'paid', failure: null });
    expect(await balance(who)).toBe('100');
    // The top-up's invoice sold credits: margins count them as they burn, not as Stripe invoice revenue when bought
    // (no row at all: nothing burned, no cost).
    const margins = (await get('/margins?window=current_period&group_by=customer')).body.data.find((r: { customer_external_id: string }) => r.customer_external_id === who);
    expect(margins).toBeUndefined();
  });

  test('paid by invoice: sent to the customer to pay online; paid, its webhook grants it once and the workflow ends before the due date', async () => {
    const who = await customer();
    const payBy = new Date(Date.now() + 3_600_000);
    const asked = await topUp(who, { pay_by: payBy.toISOString() });
    expect([asked.status, asked.body.pay_by]).toEqual([202, payBy.toISOString()]);
    const sent = await waitFor('the invoice to be sent', async () => {
      const t = (await get(`/credits/top-ups/${asked.body.id}`)).body;
      return t.hosted_invoice_url ? t : undefined;
    });
    expect(sent).toMatchObject({ status: 'pending', hosted_invoice_url: `https://invoice.stripe.test/i/${sent.stripe_invoice_id}` });
    // Sent by Stripe to the customer, due at pay_by; nothing charged to a card.
    expect(stack.fake.invoice(sent.stripe_invoice_id)).toMatchObject({ status: 'open', collectionMethod: 'send_invoice', dueDate: Math.ceil(payBy.getTime() / 1000), sent: true });
    expect(chargesOf(sent.stripe_invoice_id)).toEqual([]);

    stack.fake.payHostedInvoice(sent.stripe_invoice_id);
    const { stripeCustomerId } = await testPrisma().customer.findFirstOrThrow({ where: { organizationId: org.organizationId, externalId: who } });
    await deliverPaid(sent.stripe_invoice_id, asked.body.id, stripeCustomerId);
    // The webhook's signal ends the wait (the due date is an hour away).
    const done = await settled(asked.body.id);
    expect(done).toMatchObject({ status: 'paid', failure: null });
    expect(await balance(who)).toBe('100');
    expect(await testPrisma().creditGrant.count({ where: { organizationId: org.organizationId, idempotencyKey: `top-up:${asked.body.id}` } })).toBe(1);
    await recordHistory('credit-top-up-paid-by-invoice', stack.worker.client.workflow.getHandle(creditTopUpWorkflowId(asked.body.id)));
  });

  test('paid by invoice and not paid by pay_by: its invoice is voided, the top-up fails and alerts', async () => {
    const who = await customer();
    const asked = await topUp(who, { pay_by: new Date(Date.now() + 3_000).toISOString() });
    const done = await settled(asked.body.id);
    expect(done).toMatchObject({ status: 'failed', failure: `its invoice was not paid by ${asked.body.pay_by}` });
    expect(stack.fake.invoice(done.stripe_invoice_id)?.status).toBe('void');
    expect(await balance(who)).toBe('0');
    expect(await testPrisma().notification.count({ where: { organizationId: org.organizationId, dedupeKey: `credits.top_up_failed:${asked.body.id}` } })).toBe(1);
  });

  test('a retry after Stripe forgot its idempotency keys continues from the stored invoice: paid there meanwhile, it charges nothing more', async () => {
    const who = await customer();
    // The first charge attempt fails (HTTP 500) and, by the retry, a day has passed: Stripe has forgotten every key,
    // and the customer has paid the invoice on its own.
    stack.fake.beforeNext('POST', /^\/v1\/invoices\/[^/]+\/pay$/, () => {
      const finalized = stack.fake.requestsTo('POST', /^\/v1\/invoices\/[^/]+\/finalize$/).at(-1)!;
      stack.fake.payHostedInvoice(finalized.path.split('/')[3]!);
      stack.fake.forgetIdempotencyKeys();
    });
    stack.fake.failOnce('POST', /^\/v1\/invoices\/[^/]+\/pay$/);
    const asked = await topUp(who);
    const done = await settled(asked.body.id);
    expect(done.status).toBe('paid');
    const invoicesMade = stack.fake.requestsTo('POST', /^\/v1\/invoices$/).filter((r) => (r.body.metadata as Record<string, string> | undefined)?.ledgerflow_top_up_id === asked.body.id && r.status === 200);
    expect(invoicesMade).toHaveLength(1);
    expect(chargesOf(done.stripe_invoice_id).map((c) => [c.amount, c.outcome])).toEqual([[500, 'succeeded']]);
    expect(await balance(who)).toBe('100');
  });

  test('one recorded while its workflow could not start is started by the sweeper', async () => {
    const who = await customer();
    const row = await testPrisma().customer.findFirstOrThrow({ where: { organizationId: org.organizationId, externalId: who } });
    // What the API leaves behind when Temporal does not answer after the commit: the row, no workflow.
    const { topUp } = await testPrisma().$transaction((tx) =>
      insertTopUp(tx, { organizationId: org.organizationId, customerId: row.id, credits: dec(7), pricePerCredit: dec('0.5'), currency: 'usd', idempotencyKey: randomUUID(), createdBy: 'test' }),
    );
    await testPrisma().creditTopUp.update({ where: { id: topUp.id }, data: { createdAt: new Date(Date.now() - 10 * 60_000) } });
    const sweep = startOrphanTopUps({ prisma: testPrisma(), temporal: stack.worker.client, taskQueue: stack.worker.taskQueue } as unknown as ActivityDeps);
    expect(await sweep({ olderThanSeconds: 60, organizationId: org.organizationId })).toEqual({ started: 1 });
    expect(await settled(topUp.id)).toMatchObject({ status: 'paid', amount: '3.5' });
    expect(await balance(who)).toBe('7');
  });

  test('bad requests are 4xx naming the field', async () => {
    const who = await customer();
    // Not numbers at all: 400 naming them (the fuzzer once got a 500 here, from the check on their product).
    const garbage = await post('/credits/top-ups', { customer_external_id: who, credits: 'AAA', price_per_credit: 'BBB', currency: 'usd' });
    expect([garbage.status, garbage.body.details.issues.map((i: { field: string }) => i.field)]).toEqual([400, ['credits', 'price_per_credit']]);
    const garbageAuto = await stack.api.patch(`/api/v1/customers/${who}/wallet`, org.apiKey, { auto_top_up: { below: '1', credits: 'AAA', price_per_credit: '1', currency: 'usd' } });
    expect([garbageAuto.status, garbageAuto.body.details.issues.map((i: { field: string }) => i.field)]).toEqual([400, ['auto_top_up.credits']]);
    // 1 credit at 0.001 USD charges 0 cents: credits for nothing.
    const free = await post('/credits/top-ups', { customer_external_id: who, credits: '1', price_per_credit: '0.001', currency: 'usd' });
    expect([free.status, free.body.details.issues.map((i: { field: string }) => i.field)]).toEqual([400, ['price_per_credit']]);
    expect(free.body.details.issues[0].message).toContain('rounds to 0');
    // A balance is never below 0: a threshold of 0 would never buy.
    const never = await stack.api.patch(`/api/v1/customers/${who}/wallet`, org.apiKey, { auto_top_up: { below: '0', credits: '20', price_per_credit: '0.10', currency: 'usd' } });
    expect([never.status, never.body.details.issues.map((i: { field: string }) => i.field)]).toEqual([400, ['auto_top_up.below']]);
    const freeAuto = await stack.api.patch(`/api/v1/customers/${who}/wallet`, org.apiKey, { auto_top_up: { below: '1', credits: '1', price_per_credit: '0.004', currency: 'usd' } });
    expect([freeAuto.status, freeAuto.body.details.issues.map((i: { field: string }) => i.field)]).toEqual([400, ['auto_top_up.price_per_credit']]);
    const bad = await post('/credits/top-ups', { customer_external_id: who, credits: '0', price_per_credit: '0.05', currency: 'usd' });
    expect(bad.status).toBe(400);
    expect(bad.body.details.issues.map((i: { field: string }) => i.field)).toEqual(['credits']);
    for (const payBy of ['2020-01-01T00:00:00Z', new Date(Date.now() + 91 * 86_400_000).toISOString(), 'tomorrow']) {
      const late = await post('/credits/top-ups', { customer_external_id: who, credits: '1', price_per_credit: '1', currency: 'usd', pay_by: payBy });
      expect([late.status, late.body.details.issues.map((i: { field: string }) => i.field)]).toEqual([400, ['pay_by']]);
    }
    expect((await post('/credits/top-ups', { customer_external_id: 'nobody', credits: '1', price_per_credit: '1', currency: 'usd' })).status).toBe(404);
    expect((await get(`/credits/top-ups/${randomUUID()}`)).status).toBe(404);
  });
});

describe('automatic top-up', () => {
  test('a burn below the threshold buys the configured credits, one top-up at a time', async () => {
    const who = await customer();
    const set = await stack.api.patch(`/api/v1/customers/${who}/wallet`, org.apiKey, { auto_top_up: { below: '5', credits: '20', price_per_credit: '0.10', currency: 'usd' } });
    expect(set.status).toBe(200);
    expect(set.body.auto_top_up).toEqual({ below: '5', credits: '20', price_per_credit: '0.1', currency: 'usd' });
    expect((await post(`/customers/${who}/credit-grants`, { credits: '10', kind: 'promotional' })).status).toBe(201);

    // Five batches at once, each burning 2 credits: the wallet falls below 5 and (before the top-up lands) stays there.
    const batches = await Promise.all(
      Array.from({ length: 5 }, () => insertBatch(testPrisma(), org.organizationId, [{ customerExternalId: who, timestamp: new Date().toISOString(), quantity: '2000', eventType: 'llm_call' }])),
    );
    await Promise.all(batches.map(async (b) => stack.worker.client.workflow.getHandle(await startBatchWorkflow(testPrisma(), stack.worker.client, b, stack.worker.taskQueue)).result()));
    const automatic = () => testPrisma().creditTopUp.findMany({ where: { organizationId: org.organizationId, automatic: true, wallet: { customer: { externalId: who } } } });
    const paid = await waitFor('the automatic top-up to be paid', async () => {
      const rows = await automatic();
      return rows.length > 0 && rows.every((r) => r.status !== 'pending') ? rows : undefined;
    });
    expect(paid.map((r) => [r.status, r.credits.toFixed()])).toEqual([['paid', '20']]);
    // 10 - 5 × 2 + 20, whatever order the batches and the top-up took.
    expect(await balance(who)).toBe('20');
    expect(await automatic()).toHaveLength(1);
  });

  test('a declined one pauses automatic top-ups (no charge and no alert on every later batch) until they are set again', async () => {
    const who = await customer();
    const auto = { below: '5', credits: '20', price_per_credit: '0.10', currency: 'usd' };
    expect((await stack.api.patch(`/api/v1/customers/${who}/wallet`, org.apiKey, { auto_top_up: auto })).status).toBe(200);
    expect((await post(`/customers/${who}/credit-grants`, { credits: '10', kind: 'promotional' })).status).toBe(201);
    const burn = async (credits: number) => {
      const batch = await insertBatch(testPrisma(), org.organizationId, [{ customerExternalId: who, timestamp: new Date().toISOString(), quantity: String(credits * 1000), eventType: 'llm_call' }]);
      await stack.worker.client.workflow.getHandle(await startBatchWorkflow(testPrisma(), stack.worker.client, batch, stack.worker.taskQueue)).result();
    };
    const automatic = () => testPrisma().creditTopUp.findMany({ where: { organizationId: org.organizationId, automatic: true, wallet: { customer: { externalId: who } } }, orderBy: { createdAt: 'asc' } });
    const settledAll = (n: number) =>
      waitFor(`${n} automatic top-ups to settle`, async () => {
        const rows = await automatic();
        return rows.length === n && rows.every((r) => r.status !== 'pending') ? rows : undefined;
      });

    stack.fake.declineCharges(1);
    await burn(6);
    const [failed] = await settledAll(1);
    expect(failed!.status).toBe('failed');
    expect(stack.fake.invoice(failed!.stripeInvoiceId!)?.status).toBe('void');
    const paused = (await get(`/customers/${who}/wallet`)).body.auto_top_up_paused;
    expect(paused.reason).toContain('the card was declined');

    // Two more batches below the threshold: no new top-up, no new charge, no new alert.
    await burn(1);
    await burn(1);
    expect(await automatic()).toHaveLength(1);
    expect(stack.fake.charges.filter((c) => c.invoice === failed!.stripeInvoiceId)).toHaveLength(1);
    const failedAlerts = () => testPrisma().notification.count({ where: { organizationId: org.organizationId, kind: 'credits.top_up_failed', payload: { path: ['customerExternalId'], equals: who } } });
    expect(await failedAlerts()).toBe(1);

    // Set again (the card was fixed): the next batch below the threshold buys.
    const resumed = await stack.api.patch(`/api/v1/customers/${who}/wallet`, org.apiKey, { auto_top_up: auto });
    expect(resumed.body.auto_top_up_paused).toBeNull();
    await burn(1);
    const rows = await settledAll(2);
    expect(rows.map((r) => r.status)).toEqual(['failed', 'paid']);
    expect(await balance(who)).toBe(String(10 - 6 - 1 - 1 - 1 + 20));
    expect(await failedAlerts()).toBe(1);
  });

  test('Stripe unreachable for the whole retry schedule fails it and alerts, but pauses nothing (not the card\'s fault)', async () => {
    const who = await customer();
    expect((await stack.api.patch(`/api/v1/customers/${who}/wallet`, org.apiKey, { auto_top_up: { below: '5', credits: '20', price_per_credit: '0.10', currency: 'usd' } })).status).toBe(200);
    const row = await testPrisma().customer.findFirstOrThrow({ where: { organizationId: org.organizationId, externalId: who } });
    const { topUp } = await testPrisma().$transaction((tx) =>
      insertTopUp(tx, { organizationId: org.organizationId, customerId: row.id, credits: dec(20), pricePerCredit: dec('0.1'), currency: 'usd', idempotencyKey: randomUUID(), createdBy: 'test' }),
    );
    await testPrisma().creditTopUp.update({ where: { id: topUp.id }, data: { automatic: true } });
    // What the workflow does after its charge step failed an hour's worth of retries.
    const fail = failCreditTopUp({ prisma: testPrisma() } as unknown as ActivityDeps);
    expect(await new MockActivityEnvironment().run(fail, { organizationId: org.organizationId, topUpId: topUp.id, reason: `${STRIPE_UNREACHABLE}connect ECONNREFUSED` })).toEqual({ status: 'failed' });
    expect((await get(`/credits/top-ups/${topUp.id}`)).body).toMatchObject({ status: 'failed', failure: `${STRIPE_UNREACHABLE}connect ECONNREFUSED` });
    expect((await get(`/customers/${who}/wallet`)).body.auto_top_up_paused).toBeNull();
  });
});

import { randomUUID } from 'node:crypto';
import { closeToDraft, reconcilePeriod } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { insertBatch, startBatchWorkflow, type InsertedBatch, type TestEvent } from './harness/insert-batch';
import { billingRunWorkflowId } from '../temporal/names';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Prepaid credits on invoices (issue 15, points 4 and 7): usage that credits
 * covered is not billed again. A plan prices calls and tokens; tokens also
 * burn credits (1 per 1,000). The customer's wallet covers what it can as
 * ingest rates the events; the close bills the rest as overage, says on each
 * line what credits covered, and leak detection agrees. Real ingest and
 * billing-run workflows, real database, catalog and grants over HTTP.
 */

jest.setTimeout(120_000);

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let worker: TestWorker;
let org: Org;
let subscriptionId: string;
const customer = `cust-${randomUUID().slice(0, 8)}`;

const post = (path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);
const get = (path: string) => api.get(`/api/v1${path}`, org.apiKey);

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };
const december = { periodStart: '2024-12-01T00:00:00.000Z', periodEnd: '2025-01-01T00:00:00.000Z' };

beforeAll(async () => {
  worker = await startTestWorker('credits-invoice');
  api = await startTestApi({}, worker.taskQueue);
  org = await createTestOrganization('credits-invoice');
  expect((await post('/meters', { key: 'calls', name: 'Calls', event_type: 'llm_call', aggregation: 'count' })).status).toBe(201);
  expect((await post('/meters', { key: 'tokens', name: 'Tokens', event_type: 'llm_call', aggregation: 'sum' })).status).toBe(201);
  const plan = await post('/plans', {
    key: 'ai',
    name: 'AI',
    currency: 'usd',
    interval: 'month',
    prices: [
      { meter: 'calls', model: 'per_unit', unit_amount: '0.01' },
      { meter: 'tokens', model: 'per_unit', unit_amount: '0.001' },
    ],
  });
  expect(plan.status).toBe(201);
  // Tokens burn credits from before the first event (the meter had no rate, so the rate may start in the past); calls do not.
  expect((await post('/credit-burn-rates', { meter: 'tokens', credits: '1', per_units: '1000', effective_from: '2024-01-01T00:00:00Z' })).status).toBe(201);
  const row = await testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId: customer } });
  subscriptionId = (
    await testPrisma().subscription.create({ data: { organizationId: org.organizationId, customerId: row.id, planId: plan.body.id, startDate: new Date(november.periodStart), billingAnchorDay: 1 } })
  ).id;
});

afterAll(async () => {
  await api.close();
  await worker.close();
  await closeTestPrisma();
});

const llmCalls = (events: [string, string][]): TestEvent[] => events.map(([timestamp, quantity]) => ({ customerExternalId: customer, timestamp, quantity, eventType: 'llm_call' }));

/** Events through the real ingest batch workflow, which rates them and burns their credits. */
async function ingest(events: TestEvent[]): Promise<string[]> {
  const batch = await insertBatch(testPrisma(), org.organizationId, events);
  await runIngest(batch);
  return batch.eventIds;
}

/** Runs (or runs again) a stored batch's ingest workflow to its end. */
async function runIngest(batch: InsertedBatch): Promise<void> {
  await worker.client.workflow.getHandle(await startBatchWorkflow(testPrisma(), worker.client, batch, worker.taskQueue)).result();
}

const usageLines = (lines: Awaited<ReturnType<typeof closeToDraft>>, kind = 'usage') =>
  lines.filter((l) => l.kind === kind).map((l) => [l.description, l.quantity?.toFixed() ?? null, l.creditedQuantity?.toFixed() ?? null, l.amount.toFixed(2)]);

/** The message of the period's close while it waits for events ingest has not processed (the Temporal UI shows it). */
async function closeWaiting(period: { periodStart: string }): Promise<string> {
  const handle = worker.client.workflow.getHandle(billingRunWorkflowId(subscriptionId, period.periodStart));
  return waitFor('the close to wait', async () => {
    const pending = (await handle.describe().catch(() => null))?.raw.pendingActivities ?? [];
    return pending.map((a) => a.lastFailure?.message ?? '').find((m) => m.includes('ingest has not processed yet'));
  });
}

describe('a period of usage partly paid with prepaid credits', () => {
  test('the close bills only what credits did not cover, and each line says what they covered', async () => {
    expect((await post(`/customers/${customer}/credit-grants`, { credits: '3', kind: 'purchased', price_per_credit: '1.00' })).status).toBe(201);
    // 4.5 credits of tokens against 3: the wallet covers the first two calls and 1,000 tokens of the third; 1,500 are left.
    await ingest(llmCalls([
      ['2024-11-03T10:00:00Z', '1000'],
      ['2024-11-04T10:00:00Z', '1500'],
      ['2024-11-05T10:00:00Z', '2000'],
    ]));
    expect((await get(`/customers/${customer}/wallet`)).body.balance).toBe('0');

    const lines = await closeToDraft(worker, org.organizationId, subscriptionId, november);
    expect(usageLines(lines)).toEqual([
      // calls burn no credits: billed in full
      ['Calls: usage', '3', null, '0.03'],
      ['Tokens: usage (4500 used, 3000 covered by prepaid credits)', '1500', '3000', '1.50'],
    ]);
    const invoice = await testPrisma().invoice.findFirstOrThrow({ where: { subscriptionId, periodStart: new Date(november.periodStart) } });
    expect(invoice.total.toFixed(2)).toBe('1.53');
    const read = await get(`/invoices/${invoice.id}`);
    expect(read.status).toBe(200);
    const tokens = read.body.lines.find((l: { meter: string | null }) => l.meter === 'tokens');
    expect(tokens).toMatchObject({ quantity: '1500', credited_quantity: '3000', amount: '1.50' });
    // The snapshots behind the line still show what was used.
    const snapshots = await testPrisma().usageSnapshot.findMany({ where: { id: { in: lines.find((l) => l.description.startsWith('Tokens'))!.snapshotIds } } });
    expect(snapshots.reduce((sum, s) => sum + Number(s.quantity), 0)).toBe(4500);

    // Leak detection sees no unbilled usage and no missed overage in what credits covered.
    expect(await reconcilePeriod(worker, org.organizationId, november)).toMatchObject({ findings: 0 });
  });

  test('margins count the credits burned at the price they were sold at: the revenue the net invoice does not carry', async () => {
    // The 3 purchased credits (1.00 each) burned this month; the invoice, for 2024, is outside the window.
    const res = await get('/margins?window=current_period&group_by=customer');
    expect(res.status).toBe(200);
    expect(res.body.data.find((r: { customer_external_id: string }) => r.customer_external_id === customer)).toMatchObject({
      revenue: '3.00',
      credit_revenue: '3.00',
      invoice_revenue: '0.00',
      cost: '0.00',
      margin: '3.00',
    });
  });

  test('late usage is billed net of credits too: covered, it adds only the calls', async () => {
    expect((await post(`/customers/${customer}/credit-grants`, { credits: '10', kind: 'promotional' })).status).toBe(201);
    await ingest(llmCalls([['2024-11-20T10:00:00Z', '1000']]));
    expect((await get(`/customers/${customer}/wallet`)).body.balance).toBe('9');

    // The upcoming invoice previews the adjustments before the close.
    const preview = (await get(`/customers/${customer}/upcoming-invoice`)).body.subscriptions[0].lines.filter((l: { kind: string }) => l.kind === 'late_usage');
    expect(preview.map((l: { meter: string; quantity: string; credited_quantity: string | null; amount: string }) => [l.meter, l.quantity, l.credited_quantity, l.amount])).toEqual([
      ['calls', '1', null, '0.01'],
      ['tokens', '0', '1000', '0.00'],
    ]);
    const lines = await closeToDraft(worker, org.organizationId, subscriptionId, december);
    expect(usageLines(lines, 'late_usage')).toEqual([
      ['Calls: adjustment for 2024-11-01 – 2024-12-01, 1 event received after that period closed', '1', null, '0.01'],
      ['Tokens: adjustment for 2024-11-01 – 2024-12-01, 1 event received after that period closed; prepaid credits covered 1000 more', '0', '1000', '0.00'],
    ]);
    expect(await reconcilePeriod(worker, org.organizationId, november, { rerunFinished: true })).toMatchObject({ findings: 0 });
  });

  test('a close waits for the wallet customer\'s events that ingest has not processed yet', async () => {
    const january = { periodStart: '2025-01-01T00:00:00.000Z', periodEnd: '2025-02-01T00:00:00.000Z' };
    // Stored but not processed: it has not burned its credits yet.
    const batch = await insertBatch(testPrisma(), org.organizationId, llmCalls([['2025-01-10T10:00:00Z', '4000']]));
    const closing = closeToDraft(worker, org.organizationId, subscriptionId, january);
    const failure = await closeWaiting(january);
    expect(failure).toContain(`customer ${customer} has a credit wallet and 1 events before 2025-02-01T00:00:00.000Z`);
    await runIngest(batch);
    // 4 credits of the 9 left: covered in full.
    expect(usageLines(await closing)).toEqual([
      ['Calls: usage', '1', null, '0.01'],
      ['Tokens: usage (4000 used, all covered by prepaid credits)', '0', '4000', '0.00'],
    ]);
  });

  test('a batch whose ingest workflow ended without processing it holds the close, named, until ops run it again', async () => {
    const february = { periodStart: '2025-02-01T00:00:00.000Z', periodEnd: '2025-03-01T00:00:00.000Z' };
    const batch = await insertBatch(testPrisma(), org.organizationId, llmCalls([['2025-02-10T10:00:00Z', '1000']]));
    // What the sweeper does when an operator terminated ingest:<id> before it processed anything.
    await testPrisma().processingBatch.update({ where: { id: batch.batchId }, data: { status: 'failed', workflowId: `ingest:${batch.batchId}` } });
    const closing = closeToDraft(worker, org.organizationId, subscriptionId, february);
    const failure = await closeWaiting(february);
    expect(failure).toContain(`marked failed): ingest:${batch.batchId} (1 events); reset or start them again in the Temporal UI`);
    // Run again, it burns the event's credit (5 left of 9 after January), and the close bills it as covered.
    await runIngest(batch);
    expect(usageLines(await closing)).toEqual([
      ['Calls: usage', '1', null, '0.01'],
      ['Tokens: usage (1000 used, all covered by prepaid credits)', '0', '1000', '0.00'],
    ]);
  });

  test('usage whose credits round to nothing is invoiced in full, whatever the wallet holds', async () => {
    const march = { periodStart: '2025-03-01T00:00:00.000Z', periodEnd: '2025-04-01T00:00:00.000Z' };
    // 0.0004 tokens at 1 credit per 1,000: 0.0000004 credits, 0 at the ledger's 6 decimals. Nothing is drawn,
    // so nothing covers it: with an empty wallet it would otherwise never be billed at all.
    const [id] = await ingest(llmCalls([['2025-03-10T10:00:00Z', '0.0004']]));
    expect(await testPrisma().usageEventCredit.findUnique({ where: { eventId: id! } })).toBeNull();
    expect((await get(`/customers/${customer}/wallet`)).body.balance).toBe('4');
    expect(usageLines(await closeToDraft(worker, org.organizationId, subscriptionId, march))).toEqual([
      ['Calls: usage', '1', null, '0.01'],
      ['Tokens: usage', '0.0004', null, '0.00'],
    ]);
  });

  test('the upcoming invoice previews the current period net of credits', async () => {
    const other = `cust-${randomUUID().slice(0, 8)}`;
    const now = new Date();
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const row = await testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId: other } });
    const plan = await testPrisma().plan.findFirstOrThrow({ where: { organizationId: org.organizationId, key: 'ai' } });
    await testPrisma().subscription.create({ data: { organizationId: org.organizationId, customerId: row.id, planId: plan.id, startDate: monthStart, billingAnchorDay: 1 } });
    expect((await post(`/customers/${other}/credit-grants`, { credits: '1', kind: 'promotional' })).status).toBe(201);
    await ingest([{ customerExternalId: other, timestamp: now.toISOString(), quantity: '2500', eventType: 'llm_call' }]);
    const lines = (await get(`/customers/${other}/upcoming-invoice`)).body.subscriptions[0].lines.filter((l: { kind: string }) => l.kind === 'usage');
    expect(lines.map((l: { description: string; quantity: string; credited_quantity: string | null; amount: string }) => [l.description, l.quantity, l.credited_quantity, l.amount])).toEqual([
      ['Calls: usage', '1', null, '0.01'],
      ['Tokens: usage (2500 used, 1000 covered by prepaid credits)', '1500', '1000', '1.50'],
    ]);
  });
});

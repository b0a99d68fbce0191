import { randomUUID } from 'node:crypto';
import { closeToDraft, countUnbilledEvents, linesOfEvent, reconcilePeriod } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, type TestWorker } from './harness/ingest-worker';
import { insertBatch } from './harness/insert-batch';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Two meters reading one event type, as AI products meter an `llm_call`: a
 * `calls` meter counts the events and a `tokens` meter sums their quantity.
 * Each meter bills every event once: in its period, and, when the event
 * arrives after that period closed, as late usage on a line of each meter.
 * (Before late claims were per meter, the first meter's late line took the
 * event and the tokens of late calls were never billed, nor found as a leak.)
 * Catalog through the HTTP API; closes and leak detection through the real
 * billing-run and reconcile workflows on the real database.
 */

jest.setTimeout(90_000);

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let worker: TestWorker;
let org: Org;
let subscriptionId: string;
let customerExternalId: string;

const post = (path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);
const get = (path: string) => api.get(`/api/v1${path}`, org.apiKey);

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };
const december = { periodStart: '2024-12-01T00:00:00.000Z', periodEnd: '2025-01-01T00:00:00.000Z' };

beforeAll(async () => {
  worker = await startTestWorker('billing-shared-event-type');
  api = await startTestApi({}, worker.taskQueue);
  org = await createTestOrganization('billing-shared-event-type');
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
  const prisma = testPrisma();
  customerExternalId = `cust-${randomUUID().slice(0, 8)}`;
  const customer = await prisma.customer.create({ data: { organizationId: org.organizationId, externalId: customerExternalId } });
  subscriptionId = (
    await prisma.subscription.create({ data: { organizationId: org.organizationId, customerId: customer.id, planId: plan.body.id, startDate: new Date(november.periodStart), billingAnchorDay: 1 } })
  ).id;
});

afterAll(async () => {
  await api.close();
  await worker.close();
  await closeTestPrisma();
});

/** `llm_call` events of the customer: [timestamp, tokens]. */
async function calls(events: [string, string][]): Promise<string[]> {
  const batch = await insertBatch(
    testPrisma(),
    org.organizationId,
    events.map(([timestamp, quantity]) => ({ customerExternalId, timestamp, quantity, eventType: 'llm_call' })),
  );
  return batch.eventIds;
}

/** A billing run for the period, up to its draft (then terminated): the draft's lines. */
const close = (period: { periodStart: string; periodEnd: string }) => closeToDraft(worker, org.organizationId, subscriptionId, period);

const reconcile = (period: { periodStart: string; periodEnd: string }, options: { rerunFinished?: boolean } = {}) => reconcilePeriod(worker, org.organizationId, period, options);

const sorted = (ids: string[]) => [...ids].sort();

describe('two meters on one event type', () => {
  let novemberEvents: string[];

  test('a close bills each event on both meters\' lines', async () => {
    novemberEvents = await calls([
      ['2024-11-03T10:00:00Z', '1000'],
      ['2024-11-04T10:00:00Z', '500'],
    ]);
    const lines = (await close(november)).filter((l) => l.kind === 'usage');
    expect(lines.map((l) => [l.kind, l.description, l.quantity?.toString(), l.amount.toFixed(2)])).toEqual([
      ['usage', 'Calls: usage', '2', '0.02'],
      ['usage', 'Tokens: usage', '1500', '1.50'],
    ]);
    for (const id of novemberEvents) expect(sorted(await linesOfEvent(org.organizationId, id))).toEqual(sorted(lines.map((l) => l.id)));
    expect(await countUnbilledEvents(org.organizationId)).toBe(0);
    expect(await reconcile(november)).toMatchObject({ findings: 0 });
  });

  test('a late event is a leak of both meters, previewed and then billed by a late line of each, once', async () => {
    const [late] = await calls([['2024-11-20T10:00:00Z', '2000']]);
    expect(await countUnbilledEvents(org.organizationId)).toBe(1);

    await reconcile(november, { rerunFinished: true });
    const findings = await testPrisma().leakFinding.findMany({ where: { organizationId: org.organizationId, kind: 'unbilled_usage' }, orderBy: { subject: 'asc' } });
    expect(findings.map((f) => [f.subject, f.leakAmount.toFixed(2)])).toEqual([
      ['calls', '0.01'],
      ['tokens', '2.00'],
    ]);

    // The upcoming invoice already shows both adjustments.
    const upcoming = await get(`/customers/${customerExternalId}/upcoming-invoice`);
    expect(upcoming.status).toBe(200);
    const preview = upcoming.body.subscriptions[0].lines.filter((l: { kind: string }) => l.kind === 'late_usage');
    expect(preview.map((l: { meter: string; quantity: string; amount: string }) => [l.meter, l.quantity, l.amount])).toEqual([
      ['calls', '1', '0.01'],
      ['tokens', '2000', '2.00'],
    ]);

    const lines = (await close(december)).filter((l) => l.kind === 'late_usage');
    expect(lines.map((l) => [l.description, l.quantity?.toString(), l.amount.toFixed(2)])).toEqual([
      ['Calls: adjustment for 2024-11-01 – 2024-12-01, 1 event received after that period closed', '1', '0.01'],
      ['Tokens: adjustment for 2024-11-01 – 2024-12-01, 1 event received after that period closed', '2000', '2.00'],
    ]);
    expect(sorted(await linesOfEvent(org.organizationId, late!))).toEqual(sorted(lines.map((l) => l.id)));
    expect(await countUnbilledEvents(org.organizationId)).toBe(0);
    // The November events stay on November's lines only.
    for (const id of novemberEvents) expect(await linesOfEvent(org.organizationId, id)).toHaveLength(2);

    // Nothing is left to find, and the next invoice bills no late usage again.
    await reconcile(november, { rerunFinished: true });
    const open = await testPrisma().leakFinding.findMany({ where: { organizationId: org.organizationId, kind: 'unbilled_usage', status: 'open' } });
    expect(open).toEqual([]);
    const january = { periodStart: '2025-01-01T00:00:00.000Z', periodEnd: '2025-02-01T00:00:00.000Z' };
    expect((await close(january)).filter((l) => l.kind === 'late_usage')).toEqual([]);
  });
});

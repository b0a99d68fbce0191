import { randomUUID } from 'node:crypto';
import { renderNotification } from '../billing/notification-messages';
import { createWebhookEndpoint } from '../services/webhook-endpoints';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, type TestWorker } from './harness/ingest-worker';
import { insertBatch, startBatchWorkflow, type TestEvent } from './harness/insert-batch';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Credit balance alerts (issue 15, point 8): a burn that leaves a wallet at
 * or below its low-balance threshold raises credits.low_balance, and one
 * that empties it credits.exhausted — each once per wallet and episode (until
 * the next grant), in the same outbox as quota and margin alerts (Slack,
 * email, outbound webhook). Real ingest workflows burn the credits.
 */

jest.setTimeout(120_000);

let api: TestApi;
let worker: TestWorker;
let org: Awaited<ReturnType<typeof createTestOrganization>>;
const customer = `cust-${randomUUID().slice(0, 8)}`;

const post = (path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);

beforeAll(async () => {
  worker = await startTestWorker('credits-alerts');
  api = await startTestApi({}, worker.taskQueue);
  org = await createTestOrganization('credits-alerts');
  expect((await post('/meters', { key: 'tokens', name: 'Tokens', event_type: 'llm_call', aggregation: 'sum' })).status).toBe(201);
  expect((await post('/credit-burn-rates', { meter: 'tokens', credits: '1', per_units: '1000', effective_from: '2024-01-01T00:00:00Z' })).status).toBe(201);
  await testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId: customer } });
  // An endpoint that takes the alerts: their webhook events are recorded (this test runs no dispatcher, so nothing is sent).
  await createWebhookEndpoint(testPrisma(), org.organizationId, { url: 'https://127.0.0.1:9/credits', description: 'alerts', event_types: ['credits.low_balance', 'credits.exhausted'], enabled: true }, { type: 'system', id: 'credits-alerts' });
});

afterAll(async () => {
  await api.close();
  await worker.close();
  await closeTestPrisma();
});

/** Tokens through the real ingest batch workflow, which burns their credits and raises the alerts. */
async function use(tokens: string, who = customer): Promise<void> {
  const events: TestEvent[] = [{ customerExternalId: who, timestamp: new Date().toISOString(), quantity: tokens, eventType: 'llm_call' }];
  const batch = await insertBatch(testPrisma(), org.organizationId, events);
  await worker.client.workflow.getHandle(await startBatchWorkflow(testPrisma(), worker.client, batch, worker.taskQueue)).result();
}

const alerts = async () =>
  (await testPrisma().notification.findMany({ where: { organizationId: org.organizationId, kind: { startsWith: 'credits.' } }, orderBy: { createdAt: 'asc' } })).map((n) => {
    const p = n.payload as { balance: string; threshold: string | null; uncovered: string };
    return [n.kind, p.balance, p.threshold, p.uncovered];
  });

describe('credit balance alerts', () => {
  test('the wallet\'s threshold is set over the API, validated, and shown on the wallet', async () => {
    const bad = await api.patch(`/api/v1/customers/${customer}/wallet`, org.apiKey, { low_balance_threshold: '-1' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('low_balance_threshold');
    const set = await api.patch(`/api/v1/customers/${customer}/wallet`, org.apiKey, { low_balance_threshold: '5' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ customer_external_id: customer, balance: '0', low_balance_threshold: '5' });
    expect((await api.get(`/api/v1/customers/${customer}/wallet`, org.apiKey)).body.low_balance_threshold).toBe('5');
    const audit = await testPrisma().auditLog.findFirst({ where: { organizationId: org.organizationId, action: 'credits.wallet_updated' } });
    expect(audit?.after).toMatchObject({ customer, lowBalanceThreshold: '5' });
  });

  test('low at the threshold, once; exhausted when it runs out, once; a new grant starts over', async () => {
    expect((await post(`/customers/${customer}/credit-grants`, { credits: '10', kind: 'purchased', price_per_credit: '0.10' })).status).toBe(201);
    await use('3000'); // 7 left: above 5
    expect(await alerts()).toEqual([]);
    await use('2000'); // 5 left: at the threshold
    expect(await alerts()).toEqual([['credits.low_balance', '5', '5', '0']]);
    await use('1000'); // 4 left: still low, already told
    expect(await alerts()).toHaveLength(1);
    await use('5000'); // 0 left, 1 credit not covered
    expect(await alerts()).toEqual([
      ['credits.low_balance', '5', '5', '0'],
      ['credits.exhausted', '0', '5', '1'],
    ]);
    await use('1000'); // still empty: told already
    expect(await alerts()).toHaveLength(2);

    // A top-up ends the episode: falling low again alerts again.
    expect((await post(`/customers/${customer}/credit-grants`, { credits: '3', kind: 'purchased', price_per_credit: '0.10' })).status).toBe(201);
    await use('1000'); // 2 left
    expect((await alerts()).slice(2)).toEqual([['credits.low_balance', '2', '5', '0']]);

    // Each went out as an outbound webhook event and an audit row too, and reads as a person would want it.
    const events = await testPrisma().webhookEvent.findMany({ where: { organizationId: org.organizationId, type: { startsWith: 'credits.' } } });
    expect(events.map((e) => e.type).sort()).toEqual(['credits.exhausted', 'credits.low_balance', 'credits.low_balance']);
    expect(events.find((e) => e.type === 'credits.exhausted')!.payload).toMatchObject({ customer_external_id: customer, balance: '0', uncovered: '1' });
    expect(await testPrisma().auditLog.count({ where: { organizationId: org.organizationId, action: { in: ['credits.low_balance', 'credits.exhausted'] } } })).toBe(3);
    const exhausted = await testPrisma().notification.findFirstOrThrow({ where: { organizationId: org.organizationId, kind: 'credits.exhausted' } });
    const rendered = renderNotification({ ...exhausted, payload: exhausted.payload });
    expect(rendered.title).toBe(`Credits exhausted: ${customer} has no credits left`);
    expect(rendered.lines).toContain('Not covered by this batch: 1 credits');
  });

  test('a wallet without a threshold alerts only when it runs out', async () => {
    const other = `cust-${randomUUID().slice(0, 8)}`;
    await testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId: other } });
    expect((await post(`/customers/${other}/credit-grants`, { credits: '2', kind: 'promotional' })).status).toBe(201);
    const before = (await alerts()).length;
    await use('1000', other);
    expect((await alerts()).length).toBe(before);
    await use('1000', other);
    expect((await alerts()).slice(before)).toEqual([['credits.exhausted', '0', null, '0']]);
  });

  test('credits that expire alert as a burn would: low when the expiry leaves the wallet at its threshold, exhausted when it empties it', async () => {
    const [low, empty] = [`cust-${randomUUID().slice(0, 8)}`, `cust-${randomUUID().slice(0, 8)}`];
    await testPrisma().customer.createMany({ data: [low, empty].map((externalId) => ({ organizationId: org.organizationId, externalId })) });
    expect((await api.patch(`/api/v1/customers/${low}/wallet`, org.apiKey, { low_balance_threshold: '5' })).status).toBe(200);
    const expiresAt = new Date(Date.now() + 1_500).toISOString();
    const grant = async (who: string, credits: string, expires: boolean) => {
      const res = await post(`/customers/${who}/credit-grants`, { credits, kind: 'promotional', ...(expires ? { expires_at: expiresAt } : {}) });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    await grant(low, '3', false);
    const lowExpiring = await grant(low, '10', true);
    const emptyExpiring = await grant(empty, '4', true);
    const before = (await alerts()).length;
    for (const id of [lowExpiring, emptyExpiring]) await worker.client.workflow.getHandle(`credit-expiry:${id}`).result();

    const raised = await testPrisma().notification.findMany({ where: { organizationId: org.organizationId, kind: { startsWith: 'credits.' } }, orderBy: { createdAt: 'asc' }, skip: before });
    expect(raised.map((n) => [n.kind, n.payload]).sort()).toEqual(
      [
        ['credits.exhausted', { customerExternalId: empty, walletId: expect.any(String), level: 'exhausted', balance: '0', threshold: null, expired: '4', expiredGrantId: emptyExpiring }],
        ['credits.low_balance', { customerExternalId: low, walletId: expect.any(String), level: 'low_balance', balance: '3', threshold: '5', expired: '10', expiredGrantId: lowExpiring }],
      ].sort(),
    );
    const rendered = renderNotification({ ...raised.find((n) => n.kind === 'credits.low_balance')!, payload: raised.find((n) => n.kind === 'credits.low_balance')!.payload });
    expect(rendered.lines).toContain(`Expired: 10 credits of grant ${lowExpiring}`);
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId: org.organizationId, action: 'credits.low_balance', entityId: raised.find((n) => n.kind === 'credits.low_balance')!.payload!['walletId' as never] } });
    expect(audit.after).toMatchObject({ grantId: lowExpiring, expired: '10' });

    // A burn after it, still low: told already (the same episode).
    await use('1000', low);
    expect(await testPrisma().notification.count({ where: { organizationId: org.organizationId, kind: 'credits.low_balance', payload: { path: ['customerExternalId'], equals: low } } })).toBe(1);
  });
});

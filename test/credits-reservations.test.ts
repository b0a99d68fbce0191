import { randomUUID } from 'node:crypto';
import type { ActivityDeps } from '../activities/deps';
import { startOverdueHoldTimers } from '../activities/sweeper';
import { dec } from '../billing/decimal';
import { reserveCredits } from '../prisma/credit-ledger';
import { creditReservationWorkflowId } from '../temporal/credit-reservation';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { recordHistory } from './harness/histories';
import { startTestWorker, type TestWorker } from './harness/ingest-worker';
import { insertBatch, startBatchWorkflow, type TestEvent } from './harness/insert-batch';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Credit reservations (issue 15, point 5): an app holds credits before an
 * expensive call; the event that follows, sent with the reservation's id,
 * commits what it used and gives the rest back; a reservation never
 * committed expires on its Temporal timer. Real API, real ingest workflows,
 * real timers, real PostgreSQL.
 */

jest.setTimeout(180_000);

let api: TestApi;
let worker: TestWorker;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

const post = (path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);
const get = (path: string) => api.get(`/api/v1${path}`, org.apiKey);

beforeAll(async () => {
  worker = await startTestWorker('credits-reservations');
  api = await startTestApi({}, worker.taskQueue);
  org = await createTestOrganization('credits-reservations');
  expect((await post('/meters', { key: 'tokens', name: 'Tokens', event_type: 'llm_call', aggregation: 'sum', dimension: 'model' })).status).toBe(201);
  expect((await post('/credit-burn-rates', { meter: 'tokens', credits: '1', per_units: '1000', effective_from: '2024-01-01T00:00:00Z' })).status).toBe(201);
  expect((await post('/credit-burn-rates', { meter: 'tokens', dimension_value: 'gpt-4o', credits: '5', per_units: '1000', effective_from: '2024-01-01T00:00:00Z' })).status).toBe(201);
});

afterAll(async () => {
  await api.close();
  await worker.close();
  await closeTestPrisma();
});

/** A customer with a wallet of `credits`. */
async function walletOf(credits: string): Promise<string> {
  const customer = `cust-${randomUUID().slice(0, 8)}`;
  await testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId: customer } });
  expect((await post(`/customers/${customer}/credit-grants`, { credits, kind: 'purchased', price_per_credit: '0.10' })).status).toBe(201);
  return customer;
}

/** Events through the real ingest batch workflow, which burns their credits and commits their reservations. */
async function ingest(events: TestEvent[]): Promise<string[]> {
  const batch = await insertBatch(testPrisma(), org.organizationId, events);
  await worker.client.workflow.getHandle(await startBatchWorkflow(testPrisma(), worker.client, batch, worker.taskQueue)).result();
  return batch.eventIds;
}
const call = (customer: string, tokens: string, reservationId?: string): TestEvent => ({ customerExternalId: customer, timestamp: new Date().toISOString(), quantity: tokens, eventType: 'llm_call', ...(reservationId ? { reservationId } : {}) });
const wallet = async (customer: string) => (await get(`/customers/${customer}/wallet`)).body as { balance: string; reserved: string };

describe('a reservation before an expensive call', () => {
  test('holds the estimate; the event commits what it used and the rest goes back', async () => {
    const customer = await walletOf('10');
    const held = await post('/credits/reservations', { customer_external_id: customer, credits: '4' });
    expect(held.status).toBe(201);
    expect(held.body).toMatchObject({ customer_external_id: customer, credits: '4', status: 'held', committed: null, workflow_id: `credit-reservation:${held.body.id}` });
    expect(await wallet(customer)).toMatchObject({ balance: '6', reserved: '4' });

    const [eventId] = await ingest([call(customer, '2500', held.body.id)]);
    expect((await get(`/credits/reservations/${held.body.id}`)).body).toMatchObject({ status: 'committed', committed: '2.5', event_id: eventId });
    expect(await wallet(customer)).toMatchObject({ balance: '7.5', reserved: '0' });
    // The event burned 2.5 credits, all covered: nothing of it is invoiced.
    expect((await testPrisma().usageEvent.findUniqueOrThrow({ where: { id: eventId! } })).creditsCovered).toBe(true);
    // The events API shows both: the reservation the event committed and what it burned.
    const listed = (await get(`/events?customer=${customer}`)).body.data;
    expect(listed.map((e: { id: string; reservation_id: string | null; credits: unknown }) => [e.id, e.reservation_id, e.credits])).toEqual([[eventId, held.body.id, { burned: '2.5', uncovered: '0' }]]);
    // The ledger: the hold, then its settlement (every held credit back, then what the event used).
    const entries = (await get(`/customers/${customer}/wallet/entries?kind=settle`)).body.data.map((e: { debit: string; credit: string; amount: string }) => [e.debit, e.credit, e.amount]);
    expect(entries).toEqual([
      ['reserved', 'grant', '4'],
      ['grant', 'usage', '2.5'],
    ]);
    // A repeated request with its key answers the first reservation, as it stands now.
    const again = await post('/credits/reservations', { customer_external_id: customer, credits: '4', idempotency_key: held.body.idempotency_key });
    expect([again.status, again.body.id, again.body.status]).toEqual([200, held.body.id, 'committed']);
  });

  test('an event that uses more than the hold burns the rest from the wallet; the estimate can come from the burn rates', async () => {
    const customer = await walletOf('20');
    // 2,000 gpt-4o tokens at 5 credits per 1,000.
    const held = await post('/credits/reservations', { customer_external_id: customer, event_type: 'llm_call', quantity: '2000', properties: { model: 'gpt-4o' } });
    expect([held.status, held.body.credits]).toEqual([201, '10']);
    const [eventId] = await ingest([{ ...call(customer, '3000', held.body.id), properties: { model: 'gpt-4o' } }]);
    expect((await get(`/credits/reservations/${held.body.id}`)).body).toMatchObject({ status: 'committed', committed: '10', event_id: eventId });
    expect(await wallet(customer)).toMatchObject({ balance: '5', reserved: '0' });
  });

  test('a wallet that cannot cover the hold holds nothing, and says what it has', async () => {
    const customer = await walletOf('3');
    const refused = await post('/credits/reservations', { customer_external_id: customer, credits: '3.000001' });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'INSUFFICIENT_CREDITS', details: { balance: '3', required: '3.000001' } });
    expect(refused.body.error).toContain('nothing is held');
    expect(await wallet(customer)).toMatchObject({ balance: '3', reserved: '0' });
  });

  test('bad requests are 4xx naming the field', async () => {
    const customer = await walletOf('1');
    const both = await post('/credits/reservations', { customer_external_id: customer, credits: '1', event_type: 'llm_call', quantity: '5' });
    expect(both.status).toBe(400);
    expect(both.body.details.issues.map((i: { field: string }) => i.field)).toContain('credits');
    const free = await post('/credits/reservations', { customer_external_id: customer, event_type: 'image', quantity: '1' });
    expect([free.status, free.body.error]).toEqual([400, 'Invalid request: event_type: 1 image burns no credits at the burn rates in effect; there is nothing to hold']);
    expect((await post('/credits/reservations', { customer_external_id: 'nobody', credits: '1' })).status).toBe(404);
    expect((await post('/credits/reservations', { customer_external_id: customer, credits: '1', expires_in_seconds: 86_401 })).status).toBe(400);
    expect((await get(`/credits/reservations/${randomUUID()}`)).status).toBe(404);
    const event = await post('/events', { idempotency_key: randomUUID(), customer_external_id: customer, event_type: 'llm_call', timestamp: new Date().toISOString(), reservation_id: 'r-1' });
    expect(event.status).toBe(400);
    expect(JSON.stringify(event.body)).toContain('reservation_id');
  });

  test('a released reservation gives everything back; an event sent with it afterwards burns from the wallet', async () => {
    const customer = await walletOf('5');
    const held = await post('/credits/reservations', { customer_external_id: customer, credits: '2' });
    const released = await post(`/credits/reservations/${held.body.id}/release`, {});
    expect([released.status, released.body.status]).toEqual([200, 'released']);
    expect((await post(`/credits/reservations/${held.body.id}/release`, {})).status).toBe(200);
    expect(await wallet(customer)).toMatchObject({ balance: '5', reserved: '0' });
    await ingest([call(customer, '1000', held.body.id)]);
    expect((await get(`/credits/reservations/${held.body.id}`)).body).toMatchObject({ status: 'released', committed: null });
    expect(await wallet(customer)).toMatchObject({ balance: '4' });
    // Committed is final.
    const other = await post('/credits/reservations', { customer_external_id: customer, credits: '1' });
    await ingest([call(customer, '1000', other.body.id)]);
    const late = await post(`/credits/reservations/${other.body.id}/release`, {});
    expect([late.status, late.body.code]).toEqual([409, 'RESERVATION_SETTLED']);
  });

  test('a reservation never committed expires on its timer, and its credits go back', async () => {
    const customer = await walletOf('5');
    const held = await post('/credits/reservations', { customer_external_id: customer, credits: '2', expires_in_seconds: 2 });
    expect(await wallet(customer)).toMatchObject({ balance: '3', reserved: '2' });
    const handle = worker.client.workflow.getHandle(creditReservationWorkflowId(held.body.id));
    expect(await handle.result()).toEqual({ status: 'expired' });
    const expired = (await get(`/credits/reservations/${held.body.id}`)).body;
    expect(expired.status).toBe('expired');
    expect(Date.parse(expired.settled_at)).toBeGreaterThanOrEqual(Date.parse(expired.expires_at));
    expect(await wallet(customer)).toMatchObject({ balance: '5', reserved: '0' });
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, entityId: held.body.id }, orderBy: { createdAt: 'asc' } });
    expect(audit.map((a) => [a.action, a.actorType])).toEqual([
      ['credits.reserved', 'api_key'],
      ['credits.reservation_expired', 'workflow'],
    ]);
    await recordHistory('credit-reservation-expired', handle);
  });
});

describe('the idempotency key', () => {
  test('a repeat is the request as sent: answered with the first hold after the burn rates changed; another request under the key is 409', async () => {
    expect((await post('/meters', { key: 'images', name: 'Images', event_type: 'image_gen', aggregation: 'count' })).status).toBe(201);
    expect((await post('/credit-burn-rates', { meter: 'images', credits: '2', effective_from: '2024-01-01T00:00:00Z' })).status).toBe(201);
    const customer = await walletOf('10');
    const request = { customer_external_id: customer, event_type: 'image_gen', quantity: '1', properties: { size: 'large', style: 'photo' }, idempotency_key: `img-${randomUUID()}` };
    const held = await post('/credits/reservations', request);
    expect([held.status, held.body.credits]).toEqual([201, '2']);
    // The image rate goes up: the same request would now estimate 3 credits, but it is a repeat.
    expect((await post('/credit-burn-rates', { meter: 'images', credits: '3', effective_from: new Date().toISOString() })).status).toBe(201);
    const repeat = await post('/credits/reservations', { ...request, properties: { style: 'photo', size: 'large' } });
    expect([repeat.status, repeat.body.id, repeat.body.credits]).toEqual([200, held.body.id, '2']);
    for (const other of [{ ...request, quantity: '2' }, { ...request, properties: { size: 'small', style: 'photo' } }, { ...request, expires_in_seconds: 60 }]) {
      const reused = await post('/credits/reservations', other);
      expect([reused.status, reused.body.code, reused.body.details?.reservation_id]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED', held.body.id]);
    }
    expect(await wallet(customer)).toMatchObject({ balance: '8', reserved: '2' });
  });

  test('on other terms is 409 naming it; racing on two wallets, one hold is made and nothing answers 500', async () => {
    const customer = await walletOf('10');
    const other = await walletOf('10');
    const key = `hold-${randomUUID()}`;
    const held = await post('/credits/reservations', { customer_external_id: customer, credits: '2', idempotency_key: key });
    expect(held.status).toBe(201);
    for (const body of [
      { customer_external_id: customer, credits: '3', idempotency_key: key },
      { customer_external_id: other, credits: '2', idempotency_key: key },
    ]) {
      const reused = await post('/credits/reservations', body);
      expect([reused.status, reused.body.code, reused.body.details?.reservation_id]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED', held.body.id]);
      expect(reused.body.error).toContain('idempotency_key');
    }
    expect(await wallet(other)).toMatchObject({ balance: '10', reserved: '0' });

    // Ten requests at once with one new key, alternating between the two customers.
    const raced = `race-${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => post('/credits/reservations', { customer_external_id: i % 2 === 0 ? customer : other, credits: '1', idempotency_key: raced })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.every((a) => [200, 201, 409].includes(a.status))).toBe(true);
    expect(await testPrisma().creditReservation.count({ where: { organizationId: org.organizationId, idempotencyKey: raced } })).toBe(1);
    // Only the winner's wallet holds the raced credit (the first customer also holds its first 2).
    const winner = answers.find((a) => a.status === 201)!.body.customer_external_id;
    expect([(await wallet(customer)).reserved, (await wallet(other)).reserved]).toEqual(winner === customer ? ['3', '0'] : ['2', '1']);
  });

  test('a repeat that cannot reach Temporal answers 503 and leaves the first hold standing; the sweeper ends a hold whose timer never started', async () => {
    const customer = await walletOf('10');
    const key = `hold-${randomUUID()}`;
    const held = await post('/credits/reservations', { customer_external_id: customer, credits: '4', idempotency_key: key });
    expect(held.status).toBe(201);
    const cutOff = await startTestApi({}, worker.taskQueue);
    try {
      await cutOff.temporal.connection.close();
      const repeat = await cutOff.post('/api/v1/credits/reservations', org.apiKey, { customer_external_id: customer, credits: '4', idempotency_key: key });
      expect([repeat.status, repeat.body.code]).toEqual([503, 'TEMPORAL_UNAVAILABLE']);
      expect(repeat.body.error).toContain(`reservation ${held.body.id} stands`);
    } finally {
      await cutOff.close().catch(() => undefined);
    }
    expect((await get(`/credits/reservations/${held.body.id}`)).body.status).toBe('held');
    expect(await wallet(customer)).toMatchObject({ balance: '6', reserved: '4' });

    // A hold whose timer never started (what a crash between the commit and the timer leaves), past its expiry.
    const orphan = await walletOf('5');
    const walletId = (await testPrisma().creditWallet.findFirstOrThrow({ where: { customer: { organizationId: org.organizationId, externalId: orphan } } })).id;
    const id = randomUUID();
    await testPrisma().$transaction((tx) =>
      reserveCredits(tx, { organizationId: org.organizationId, walletId, id, credits: dec(5), expiresAt: new Date(Date.now() - 10 * 60_000), idempotencyKey: randomUUID(), requestHash: 'test', createdBy: 'test', now: new Date() }),
    );
    expect(await wallet(orphan)).toMatchObject({ balance: '0', reserved: '5' });
    const sweep = startOverdueHoldTimers({ prisma: testPrisma(), temporal: worker.client, taskQueue: worker.taskQueue } as unknown as ActivityDeps);
    expect(await sweep({ olderThanSeconds: 60, organizationId: org.organizationId })).toEqual({ started: 1 });
    await worker.client.workflow.getHandle(creditReservationWorkflowId(id)).result();
    expect((await get(`/credits/reservations/${id}`)).body.status).toBe('expired');
    expect(await wallet(orphan)).toMatchObject({ balance: '5', reserved: '0' });
  });
});

describe('concurrency', () => {
  test('50 reservations and batches at once against one wallet spend each credit once', async () => {
    const customer = await walletOf('40');
    // 25 holds of 1 credit and 25 batches burning 1 credit each, all at once: 50 credits asked of 40.
    const [holds] = await Promise.all([
      Promise.all(Array.from({ length: 25 }, () => post('/credits/reservations', { customer_external_id: customer, credits: '1' }))),
      Promise.all(Array.from({ length: 25 }, () => ingest([call(customer, '1000')]))),
    ]);
    const taken = holds.filter((h) => h.status === 201);
    expect(holds.every((h) => h.status === 201 || (h.status === 409 && h.body.code === 'INSUFFICIENT_CREDITS'))).toBe(true);
    const burns = await testPrisma().creditTransaction.findMany({ where: { organizationId: org.organizationId, wallet: { customer: { externalId: customer } }, kind: 'burn' } });
    const burned = burns.reduce((sum, b) => sum.plus(b.credits).minus(b.uncovered), dec(0));
    const w = await wallet(customer);
    // Every credit is in exactly one place: still spendable, on hold, or burned; none twice, none lost.
    expect(dec(w.balance).plus(w.reserved).plus(burned).toFixed()).toBe('40');
    expect(w.reserved).toBe(String(taken.length));
    expect(taken.length + burned.toNumber()).toBe(40);

    // Now 25 batches at once each commit one of the holds (0.5 credits used): each settles once, half comes back.
    await Promise.all(taken.map((h) => ingest([call(customer, '500', h.body.id)])));
    const settles = await testPrisma().creditTransaction.findMany({ where: { organizationId: org.organizationId, key: { in: taken.map((h) => `settle:${h.body.id}`) } } });
    expect(settles).toHaveLength(taken.length);
    expect(await wallet(customer)).toMatchObject({ balance: String(taken.length * 0.5), reserved: '0' });
    // Every entry's balance_after is the running sum of its grant's entries.
    const [drift] = await testPrisma().$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM (
        SELECT balance_after, sum(CASE WHEN credit = 'grant' THEN amount ELSE -amount END) OVER (PARTITION BY grant_id ORDER BY seq) AS running
        FROM credit_ledger_entries x JOIN credit_wallets w ON w.id = x.wallet_id JOIN customers c ON c.id = w.customer_id WHERE c.external_id = ${customer}) s
      WHERE balance_after <> running`;
    expect(drift!.n).toBe(0);
  });
});

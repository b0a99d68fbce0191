import { randomUUID } from 'node:crypto';
import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, type TestWorker } from './harness/ingest-worker';
import { insertBatch, startBatchWorkflow, type TestEvent } from './harness/insert-batch';

/*
 * Team pools (issue 15, point 2): child customers draw on their parent's
 * credit wallet. Set through PATCH /customers/{id}, checked under row locks,
 * and burned by the real ingest batch workflow from the one shared wallet.
 */

jest.setTimeout(120_000);

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let worker: TestWorker;
let org: Org;
const tag = randomUUID().slice(0, 8);
const [team, alice, bob, carol, loner] = ['team', 'alice', 'bob', 'carol', 'loner'].map((n) => `${n}-${tag}`) as [string, string, string, string, string];

const post = (path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);
const patch = (path: string, body: unknown) => api.patch(`/api/v1${path}`, org.apiKey, body);
const get = (path: string) => api.get(`/api/v1${path}`, org.apiKey);
const join = (child: string, parent: string | null) => patch(`/customers/${child}`, { parent_external_id: parent });

beforeAll(async () => {
  worker = await startTestWorker('credits-pools');
  api = await startTestApi({}, worker.taskQueue);
  org = await createTestOrganization('credits-pools');
  expect((await post('/meters', { key: 'calls', name: 'Calls', event_type: 'llm_call', aggregation: 'count' })).status).toBe(201);
  expect((await post('/credit-burn-rates', { meter: 'calls', credits: '1', effective_from: '2026-01-01T00:00:00Z' })).status).toBe(201);
  for (const external_id of [team, alice, bob, carol, loner]) expect((await post('/customers', { external_id })).status).toBe(201);
});

afterAll(async () => {
  await api.close();
  await worker.close();
  await closeTestPrisma();
});

async function ingest(events: TestEvent[]): Promise<string[]> {
  const batch = await insertBatch(testPrisma(), org.organizationId, events);
  const workflowId = await startBatchWorkflow(testPrisma(), worker.client, batch, worker.taskQueue);
  await worker.client.workflow.getHandle(workflowId).result();
  return batch.eventIds;
}

const calls = (customerExternalId: string, n: number): TestEvent[] =>
  Array.from({ length: n }, (_, i) => ({ customerExternalId, timestamp: new Date(Date.now() - 60_000 + i).toISOString(), quantity: '1' }));
const balance = async (customer: string) => (await get(`/customers/${customer}/wallet`)).body.balance as string;

describe('joining a pool', () => {
  test('a child joins its parent\'s pool: the customer names its parent, both see the one shared wallet, the change is audited', async () => {
    const res = await join(alice, team);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ external_id: alice, parent_external_id: team });
    expect((await get(`/customers/${alice}`)).body.parent_external_id).toBe(team);
    expect((await get(`/customers/${team}`)).body.parent_external_id).toBeNull();
    expect((await join(bob, team)).status).toBe(200);

    // A grant to a member goes to the pool.
    expect((await post(`/customers/${bob}/credit-grants`, { credits: '10', kind: 'promotional' })).status).toBe(201);
    const parentWallet = (await get(`/customers/${team}/wallet`)).body;
    expect(parentWallet).toMatchObject({ customer_external_id: team, balance: '10', pool: { parent_external_id: team, members: [alice, bob], member_count: 2 } });
    expect((await get(`/customers/${alice}/wallet`)).body).toMatchObject({ customer_external_id: alice, balance: '10', pool: { parent_external_id: team } });
    expect(await testPrisma().creditWallet.count({ where: { organizationId: org.organizationId } })).toBe(1);

    const audit = await testPrisma().auditLog.findFirst({ where: { organizationId: org.organizationId, action: 'customer.updated', entityType: 'customer' }, orderBy: { id: 'asc' } });
    expect(audit).toMatchObject({ before: expect.objectContaining({ parent_external_id: null }), after: expect.objectContaining({ parent_external_id: team }) });
  });

  test('refused, naming the field: an unknown parent, itself, a nested pool, a customer with a used wallet; an unused wallet is dropped', async () => {
    const refused = async (child: string, parent: string, status: number, code: string) => {
      const res = await join(child, parent);
      expect(res.status).toBe(status);
      expect([res.body.code, res.body.details?.field]).toEqual([code, 'parent_external_id']);
      return res.body.error as string;
    };
    await refused(carol, `nobody-${tag}`, 400, 'VALIDATION_ERROR');
    await refused(carol, carol, 400, 'VALIDATION_ERROR');
    // alice is in team's pool: carol cannot join alice's, and team cannot join anyone's.
    expect(await refused(carol, alice, 409, 'POOL_NESTED')).toContain(`name ${team}`);
    expect(await refused(team, carol, 409, 'POOL_NESTED')).toContain('parent of a pool of 2');

    // A wallet with history keeps its customer out of pools.
    expect((await post(`/customers/${loner}/credit-grants`, { credits: '1', kind: 'promotional' })).status).toBe(201);
    expect(await refused(loner, team, 409, 'CUSTOMER_HAS_WALLET')).toContain(loner);
    // A wallet only configured (never granted, burned or topped up) is dropped on joining.
    expect((await patch(`/customers/${carol}/wallet`, { low_balance_threshold: '5' })).status).toBe(200);
    expect((await join(carol, team)).status).toBe(200);
    expect(await testPrisma().creditWallet.count({ where: { customer: { externalId: carol } } })).toBe(0);
    expect((await join(carol, null)).body.parent_external_id).toBeNull();
  });

  test('racing a grant to the child with its joining a pool never leaves it both in a pool and with a wallet of its own', async () => {
    const [racer, pool] = [`racer-${tag}`, `race-pool-${tag}`];
    for (const external_id of [racer, pool]) expect((await post('/customers', { external_id })).status).toBe(201);
    const [joined, granted] = await Promise.all([join(racer, pool), post(`/customers/${racer}/credit-grants`, { credits: '2', kind: 'promotional', idempotency_key: `race-${tag}` })]);
    expect(granted.status).toBe(201);
    const child = await testPrisma().customer.findFirstOrThrow({ where: { organizationId: org.organizationId, externalId: racer }, include: { creditWallet: true } });
    if (joined.status === 200) {
      // joined first: the grant went to the pool
      expect(child.parentCustomerId).not.toBeNull();
      expect(child.creditWallet).toBeNull();
    } else {
      // granted first: its own wallet has history, so joining was refused
      expect(joined.body.code).toBe('CUSTOMER_HAS_WALLET');
      expect(child.parentCustomerId).toBeNull();
      expect(child.creditWallet).not.toBeNull();
    }
  });
  test('racing joins never nest a pool nor answer 500: two customers joining each other\'s pools, a chain joined from both ends', async () => {
    for (let i = 0; i < 5; i++) {
      const [x, y, z] = ['x', 'y', 'z'].map((n) => `${n}${i}-${tag}`) as [string, string, string];
      for (const external_id of [x, y, z]) expect((await post('/customers', { external_id })).status).toBe(201);
      const mutual = await Promise.all([join(x, y), join(y, x)]);
      expect(mutual.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(mutual.find((r) => r.status === 409)!.body.code).toBe('POOL_NESTED');
      // A chain joined from both ends at once: the child into z's pool while z joins the child's old parent's.
      const child = mutual.find((r) => r.status === 200)!.body.external_id as string;
      const parentOfChild = mutual.find((r) => r.status === 200)!.body.parent_external_id as string;
      expect((await join(child, null)).status).toBe(200);
      const chain = await Promise.all([join(child, z), join(z, parentOfChild)]);
      expect(chain.every((r) => r.status === 200 || (r.status === 409 && r.body.code === 'POOL_NESTED'))).toBe(true);
      const rows = await testPrisma().customer.findMany({ where: { organizationId: org.organizationId, externalId: { in: [x, y, z] } }, include: { parent: true } });
      // one level: no parent is itself a member of a pool
      expect(rows.filter((r) => r.parent?.parentCustomerId)).toEqual([]);
    }
  });
});

describe('burning from a pool', () => {
  test("members' and the parent's events in one batch burn the one wallet once; what it cannot cover is each event's overage", async () => {
    const before = await balance(team);
    expect(before).toBe('10');
    const ids = await ingest([...calls(alice, 4), ...calls(bob, 3), ...calls(team, 2), ...calls(loner, 1)]);
    expect(await balance(team)).toBe('1');
    expect(await balance(alice)).toBe('1');
    const burns = await testPrisma().creditTransaction.findMany({ where: { organizationId: org.organizationId, kind: 'burn' }, include: { wallet: { include: { customer: true } } } });
    // one burn for the pool (9 credits), one for loner's own wallet
    expect(burns.map((b) => [b.wallet.customer.externalId, b.credits.toFixed()]).sort()).toEqual([[loner, '1'], [team, '9']].sort());
    const rated = await testPrisma().usageEvent.findMany({ where: { id: { in: ids } }, select: { creditsCovered: true } });
    expect(rated.filter((e) => e.creditsCovered)).toHaveLength(10);

    // 3 more calls against 1 credit left: two are uncovered (the last ones), invoiced as overage.
    const more = await ingest(calls(bob, 3));
    expect(await balance(team)).toBe('0');
    const short = await testPrisma().usageEventCredit.findMany({ where: { eventId: { in: more } } });
    expect(short.map((c) => c.uncovered.toFixed()).sort()).toEqual(['1', '1']);
    expect(await testPrisma().usageEvent.count({ where: { id: { in: more }, creditsCovered: true } })).toBe(1);
  });

  test('a member reserves from the pool; a customer that left the pool burns nothing', async () => {
    expect((await post(`/customers/${team}/credit-grants`, { credits: '5', kind: 'promotional' })).status).toBe(201);
    const held = await post('/credits/reservations', { customer_external_id: alice, credits: '4' });
    expect(held.status).toBe(201);
    expect((await get(`/customers/${team}/wallet`)).body).toMatchObject({ balance: '1', reserved: '4' });
    expect((await post(`/credits/reservations/${held.body.id}/release`, {})).status).toBe(200);

    expect((await join(bob, null)).status).toBe(200);
    const ids = await ingest(calls(bob, 2));
    expect(await balance(team)).toBe('5');
    expect(await testPrisma().usageEventCredit.count({ where: { eventId: { in: ids } } })).toBe(0);
    expect(await testPrisma().usageEvent.count({ where: { id: { in: ids }, creditsCovered: true } })).toBe(0);
    expect((await get(`/customers/${team}/wallet`)).body.pool).toMatchObject({ members: [alice], member_count: 1 });
  });
});

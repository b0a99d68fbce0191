import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { planBatchBurn } from '../activities/ingest-steps';
import { loadBurnRates } from '../prisma/burn-rates';
import { dec } from '../billing/decimal';
import { inTransaction } from '../prisma/pg';
import { creditedSql, EVENT_CREDITS_JOIN } from '../prisma/usage-aggregates';
import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma } from './harness/fixtures';
import { startTestWorker, type TestWorker } from './harness/ingest-worker';
import { insertBatch, startBatchWorkflow, type InsertedBatch, type TestEvent } from './harness/insert-batch';
import { recordHistory } from './harness/histories';
import { creditExpiryWorkflowId } from '../temporal/credit-expiry';

/*
 * Burning prepaid credits as usage is rated (issue 15, points 3 and 4): burn
 * rates per meter and model through the HTTP API, events processed by the
 * real ingest batch workflow, the wallet's ledger on the real database. The
 * same batch burns once, whether its step runs again or ops reset its
 * workflow.
 */

jest.setTimeout(120_000);

const EventType = temporal.api.enums.v1.EventType;
type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let worker: TestWorker;
let org: Org;
const walletOwner = `cust-${randomUUID().slice(0, 8)}`;
const noWallet = `cust-${randomUUID().slice(0, 8)}`;

const post = (path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);
const get = (path: string) => api.get(`/api/v1${path}`, org.apiKey);
const hourFromNow = new Date(Date.now() + 3_600_000);

beforeAll(async () => {
  worker = await startTestWorker('credits-burn');
  api = await startTestApi({}, worker.taskQueue);
  org = await createTestOrganization('credits-burn');
  expect((await post('/meters', { key: 'tokens', name: 'Tokens', event_type: 'llm_call', aggregation: 'sum', dimension: 'model' })).status).toBe(201);
  expect((await post('/meters', { key: 'calls', name: 'Calls', event_type: 'llm_call', aggregation: 'count' })).status).toBe(201);
  expect((await post('/meters', { key: 'peak', name: 'Peak', event_type: 'llm_call', aggregation: 'max' })).status).toBe(201);
  await testPrisma().customer.createMany({ data: [walletOwner, noWallet].map((externalId) => ({ organizationId: org.organizationId, externalId })) });
});

afterAll(async () => {
  await api.close();
  await worker.close();
  await closeTestPrisma();
});

/** A processing batch of these events through the real ingest workflow, to its result. */
async function ingest(events: TestEvent[]): Promise<InsertedBatch> {
  const batch = await insertBatch(testPrisma(), org.organizationId, events);
  const workflowId = await startBatchWorkflow(testPrisma(), worker.client, batch, worker.taskQueue);
  await worker.client.workflow.getHandle(workflowId).result();
  return batch;
}

const wallet = async () => (await get(`/customers/${walletOwner}/wallet`)).body;
const burns = () => testPrisma().creditTransaction.findMany({ where: { organizationId: org.organizationId, kind: 'burn' }, include: { entries: true }, orderBy: { createdAt: 'asc' } });

describe('burn rates', () => {
  test('rates per meter, per value of its dimension, and versioned in time; mistakes refused naming the field', async () => {
    const rate = (body: object) => post('/credit-burn-rates', body);
    expect((await rate({ meter: 'tokens', credits: '1', per_units: '1000' })).status).toBe(201);
    expect((await rate({ meter: 'tokens', dimension_value: 'gpt-4o', credits: '5', per_units: '1000' })).status).toBe(201);
    expect((await rate({ meter: 'calls', credits: '0.5' })).status).toBe(201);
    // From an hour from now, the default token rate doubles; the open one ends there.
    expect((await rate({ meter: 'tokens', credits: '2', per_units: '1000', effective_from: hourFromNow.toISOString() })).status).toBe(201);

    const refused = async (body: object, status: number, field: string) => {
      const res = await rate(body);
      expect(res.status).toBe(status);
      expect(JSON.stringify(res.body)).toContain(field);
    };
    await refused({ meter: 'peak', credits: '1' }, 400, 'meter');
    await refused({ meter: 'nope', credits: '1' }, 400, 'meter');
    await refused({ meter: 'calls', dimension_value: 'x', credits: '1' }, 400, 'dimension_value');
    await refused({ meter: 'calls', credits: '1', per_units: '0' }, 400, 'per_units');
    await refused({ meter: 'calls', credits: '-1' }, 400, 'credits');
    // Not before a later version, and not back over a rate events may have burned at.
    await refused({ meter: 'tokens', credits: '3', effective_from: new Date(Date.now() + 1_800_000).toISOString() }, 409, 'effective_from');
    await refused({ meter: 'calls', credits: '3', effective_from: '2020-01-01T00:00:00Z' }, 409, 'effective_from');

    const list = (await get('/credit-burn-rates?meter=tokens')).body.data;
    expect(list.map((r: { dimension_value: string | null; credits: string; per_units: string; effective_to: string | null }) => [r.dimension_value, r.credits, r.per_units, r.effective_to])).toEqual([
      [null, '1', '1000', hourFromNow.toISOString()],
      [null, '2', '1000', null],
      ['gpt-4o', '5', '1000', null],
    ]);
  });
});

describe('burning as usage is rated', () => {
  let first: InsertedBatch;

  test('a batch burns each wallet customer\'s credits at the rates in effect at each event, in one ledger transaction per wallet', async () => {
    expect((await post(`/customers/${walletOwner}/credit-grants`, { credits: '100', kind: 'promotional' })).status).toBe(201);
    const now = new Date().toISOString();
    first = await ingest([
      // 2,000 gpt-4o tokens at 5/1,000 + one call at 0.5 = 10.5
      { customerExternalId: walletOwner, timestamp: now, quantity: '2000', properties: { model: 'gpt-4o' } },
      // 3,000 other tokens at 1/1,000 + 0.5 = 3.5
      { customerExternalId: walletOwner, timestamp: now, quantity: '3000', properties: { model: 'claude' } },
      // after the default rate doubles: 1,000 at 2/1,000 + 0.5 = 2.5
      { customerExternalId: walletOwner, timestamp: new Date(hourFromNow.getTime() + 60_000).toISOString(), quantity: '1000' },
      // no wallet: nothing burned
      { customerExternalId: noWallet, timestamp: now, quantity: '50000' },
    ]);
    expect((await wallet()).balance).toBe('83.5');
    const [burn] = await burns();
    expect(burn).toMatchObject({ key: expect.stringContaining(`batch:${first.batchId}:`), batchId: first.batchId, createdBy: expect.stringMatching(/^workflow:ingest:/) });
    expect(burn!.credits.toFixed()).toBe('16.5');
    expect(burn!.uncovered.toFixed()).toBe('0');
    expect(burn!.entries.map((e) => [e.debit, e.credit, e.amount.toFixed()])).toEqual([['grant', 'usage', '16.5']]);
    expect(await testPrisma().creditWallet.count({ where: { customer: { externalId: noWallet } } })).toBe(0);
    // Each event its wallet covered is marked so by its rating (credits_covered), with no usage_event_credits row: the
    // events API recomputes what it burned, and a close credits the meters whose rates priced it. The no-wallet event
    // has neither.
    const events = await testPrisma().usageEvent.findMany({ where: { organizationId: org.organizationId, batchId: first.requestId }, orderBy: { timestamp: 'asc' } });
    expect(await testPrisma().usageEventCredit.count({ where: { eventId: { in: events.map((e) => e.id) } } })).toBe(0);
    const listed = new Map(((await get(`/events?limit=100`)).body.data as { id: string; credits: unknown }[]).map((e) => [e.id, e.credits]));
    expect(events.map((e) => [e.customerExternalId === noWallet ? 'no wallet' : 'wallet', e.quantity.toFixed(), e.creditsCovered, listed.get(e.id)]).sort()).toEqual([
      ['no wallet', '50000', null, null],
      ['wallet', '1000', true, { burned: '2.5', uncovered: '0' }],
      ['wallet', '2000', true, { burned: '10.5', uncovered: '0' }],
      ['wallet', '3000', true, { burned: '3.5', uncovered: '0' }],
    ]);
    const credited = async (key: string) => {
      const meter = await testPrisma().meter.findFirstOrThrow({ where: { organizationId: org.organizationId, key } });
      const [row] = await testPrisma().$queryRaw<{ credited: string }[]>`
        SELECT ${creditedSql({ id: meter.id, aggregation: meter.aggregation })} AS credited FROM usage_events e ${EVENT_CREDITS_JOIN} WHERE e.batch_id = ${first.requestId}::uuid`;
      return dec(row!.credited).toFixed();
    };
    // every wallet token and call is covered; the max meter has no rate
    expect([await credited('tokens'), await credited('calls'), await credited('peak')]).toEqual(['6000', '3', '0']);
  });

  test('the same batch burns once: its step run again, or its workflow reset by ops', async () => {
    // The burn step again, for the batch's events: its key is taken, nothing more is burned.
    const owner = await testPrisma().customer.findFirstOrThrow({ where: { organizationId: org.organizationId, externalId: walletOwner } });
    const again = await inTransaction(testPool(), async (db) => {
      const { rates } = (await loadBurnRates(db, org.organizationId))!;
      const ctx = { batchId: first.batchId, organizationId: org.organizationId, actor: { type: 'system' as const, id: 'test' }, requestIds: [first.requestId] };
      const plan = await planBatchBurn(db, ctx, rates, [{ id: randomUUID(), customerId: owner.id, eventType: 'llm_call', quantity: '2000', timestamp: new Date(), dimensions: { model: 'gpt-4o' } }]);
      await plan.write();
      return plan.walletsBurned;
    });
    expect(again).toBe(0);

    const handle = worker.client.workflow.getHandle(`ingest:${first.batchId}`);
    const history = await handle.fetchHistory();
    const firstTask = (history.events ?? []).find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)!;
    const { runId } = (await worker.client.workflowService.resetWorkflowExecution({
      namespace: worker.client.options.namespace,
      workflowExecution: { workflowId: `ingest:${first.batchId}` },
      reason: 'test: run the batch again',
      workflowTaskFinishEventId: Long.fromValue(firstTask.eventId!),
      requestId: randomUUID(),
    })) as temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse;
    await worker.client.workflow.getHandle(`ingest:${first.batchId}`, runId!).result();
    expect(await burns()).toHaveLength(1);
    expect((await wallet()).balance).toBe('83.5');
  });

  test('what the wallet cannot cover is recorded as uncovered; the wallet never goes below zero', async () => {
    // 200,000 other tokens: 200 credits + 0.5 for the call, against 83.5 left
    const batch = await ingest([{ customerExternalId: walletOwner, timestamp: new Date().toISOString(), quantity: '200000' }]);
    const burn = (await burns()).find((b) => b.batchId === batch.batchId)!;
    expect([burn.credits.toFixed(), burn.uncovered.toFixed()]).toEqual(['200.5', '117']);
    expect((await wallet()).balance).toBe('0');
    const entries = await get(`/customers/${walletOwner}/wallet/entries?kind=burn`);
    expect(entries.body.data.map((e: { amount: string }) => e.amount)).toEqual(['16.5', '83.5']);
    const [event] = await testPrisma().usageEvent.findMany({ where: { organizationId: org.organizationId, batchId: batch.requestId } });
    const burned = await testPrisma().usageEventCredit.findUniqueOrThrow({ where: { eventId: event!.id } });
    expect([burned.credits.toFixed(), burned.uncovered.toFixed()]).toEqual(['200.5', '117']);
  });
});

describe('expiry', () => {
  test('a grant expires at its expires_at on a workflow timer: what is left moves to breakage, once, with an audit row', async () => {
    const customer = `cust-${randomUUID().slice(0, 8)}`;
    await testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId: customer } });
    const expiresAt = new Date(Date.now() + 4_000);
    const granted = await post(`/customers/${customer}/credit-grants`, { credits: '25', kind: 'promotional', expires_at: expiresAt.toISOString() });
    expect(granted.status).toBe(201);
    const grantId: string = granted.body.id;
    // 5 burned before it expires (2 calls at 0.5 and 4,000 tokens at 1/1,000)
    await ingest([
      { customerExternalId: customer, timestamp: new Date().toISOString(), quantity: '3000' },
      { customerExternalId: customer, timestamp: new Date().toISOString(), quantity: '1000' },
    ]);
    expect((await get(`/customers/${customer}/wallet`)).body.balance).toBe('20');

    const handle = worker.client.workflow.getHandle(creditExpiryWorkflowId(grantId));
    expect(await handle.result()).toEqual({ expired: '20' });
    const wallet = (await get(`/customers/${customer}/wallet`)).body;
    expect(wallet).toMatchObject({ balance: '0', grants: [{ id: grantId, balance: '0', status: 'expired' }] });
    const expiry = await testPrisma().creditTransaction.findFirstOrThrow({ where: { organizationId: org.organizationId, key: `expire:${grantId}` }, include: { entries: true } });
    expect(expiry.createdAt.getTime()).toBeGreaterThanOrEqual(expiresAt.getTime());
    expect(expiry.entries.map((e) => [e.debit, e.credit, e.amount.toFixed()])).toEqual([['grant', 'breakage', '20']]);
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, entityId: grantId }, orderBy: { createdAt: 'asc' } });
    expect(audit.map((a) => [a.action, a.actorType])).toEqual([
      ['credits.granted', 'api_key'],
      ['credits.expired', 'workflow'],
    ]);
    // A repeated grant request starts no second timer; the timer's step again expires nothing more.
    expect((await post(`/customers/${customer}/credit-grants`, { credits: '25', kind: 'promotional', expires_at: expiresAt.toISOString(), idempotency_key: granted.body.idempotency_key })).status).toBe(200);
    await recordHistory('credit-grant-expiry', handle);
    expect(await testPrisma().creditTransaction.count({ where: { organizationId: org.organizationId, key: `expire:${grantId}` } })).toBe(1);
  });
});

describe('burn rates after events burned', () => {
  test('a rate that would change what covered events burned is refused: a new meter rate or value rate over them, or a new version before the latest', async () => {
    // The first batch above burned covered llm_call events up to an hour and a minute from now.
    const latest = new Date(hourFromNow.getTime() + 60_000).toISOString();
    const soon = new Date(Date.now() + 10 * 60_000).toISOString();
    for (const body of [
      { meter: 'calls', credits: '9', effective_from: soon },
      { meter: 'tokens', dimension_value: 'claude', credits: '9', per_units: '1000', effective_from: '2024-01-01T00:00:00Z' },
    ]) {
      const res = await post('/credit-burn-rates', body);
      expect([res.status, res.body.details?.field]).toEqual([409, 'effective_from']);
      expect(res.body.error).toContain(`the latest at ${latest}`);
    }
    // After the latest covered event, a new version is taken.
    expect((await post('/credit-burn-rates', { meter: 'calls', credits: '9', effective_from: new Date(Date.parse(latest) + 1_000).toISOString() })).status).toBe(201);
  });
});

import { randomUUID } from 'node:crypto';
import Long from 'long';
import { temporal } from '@temporalio/proto';
import { subscriptionStateQuery, type SubscriptionState } from '../temporal/billing-messages';
import { creditExpiryWorkflowId } from '../temporal/credit-expiry';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Recurring credits from a plan (issue 15, point 2): each billing period of a
 * subscription grants the plan's period_credits to the customer's wallet, once
 * per period however often its workflow runs; without rollover they expire at
 * the period end (on the grant's expiry timer), with rollover they stay. Real
 * subscription workflows on a real Temporal dev server, real PostgreSQL.
 */

jest.setTimeout(120_000);

const { EventType } = temporal.api.enums.v1;

let api: TestApi;
let worker: TestWorker;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

const post = (path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);
const get = (path: string) => api.get(`/api/v1${path}`, org.apiKey);
const now = new Date();
const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));

beforeAll(async () => {
  worker = await startTestWorker('credits-period-grants');
  api = await startTestApi({}, worker.taskQueue);
  org = await createTestOrganization('credits-period-grants');
  for (const plan of [
    { key: 'included', period_credits: { credits: '500' } },
    { key: 'rolling', period_credits: { credits: '100', rollover: true } },
    { key: 'plain' },
  ]) {
    expect((await post('/plans', { name: plan.key, currency: 'usd', interval: 'month', base_fee: '20', ...plan })).status).toBe(201);
  }
});

afterAll(async () => {
  await api.close();
  await worker.close();
  await closeTestPrisma();
});

/** A monthly subscription from today to `plan`, once its workflow has loaded it: its id, customer and period. */
async function subscribe(plan: string): Promise<{ id: string; customer: string; state: SubscriptionState }> {
  const customer = `cust-${Math.random().toString(36).slice(2, 10)}`;
  const res = await post('/subscriptions', { customer_external_id: customer, plan, start_date: today.toISOString().slice(0, 10), billing_anchor_day: today.getUTCDate() });
  expect(res.status).toBe(201);
  const state = await waitFor(`subscription ${res.body.id} to start its period`, async () => {
    const s = await worker.client.workflow.getHandle(`subscription:${res.body.id}`).query(subscriptionStateQuery);
    return s.status === 'starting' ? undefined : s;
  });
  return { id: res.body.id, customer, state };
}

const grantsOf = (customer: string) =>
  waitFor(`the period grant of ${customer}`, async () => {
    const grants = (await get(`/customers/${customer}/wallet`)).body.grants as { id: string; kind: string; credits: string; expires_at: string | null; price_per_credit: string; idempotency_key: string }[] | undefined;
    return grants && grants.length > 0 ? grants : undefined;
  });

describe('a plan with period credits', () => {
  test('grants them at the start of each period, once, expiring at the period end on their timer', async () => {
    const { id, customer, state } = await subscribe('included');
    const [grant] = await grantsOf(customer);
    expect(grant).toMatchObject({ kind: 'recurring', credits: '500', price_per_credit: '0', expires_at: state.periodEnd, idempotency_key: `period-credits:${id}:${state.periodStart}` });
    expect((await get(`/customers/${customer}/wallet`)).body.balance).toBe('500');
    expect((await worker.client.workflow.getHandle(creditExpiryWorkflowId(grant!.id)).describe()).status.name).toBe('RUNNING');

    // The period's workflow reset in the Temporal UI to its first task: it runs the grant step again, which grants nothing more.
    const workflowId = `subscription:${id}`;
    const history = await worker.client.workflow.getHandle(workflowId).fetchHistory();
    const firstTask = (history.events ?? []).find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)!;
    const { runId } = (await worker.client.workflowService.resetWorkflowExecution({
      namespace: worker.client.options.namespace,
      workflowExecution: { workflowId },
      reason: 'test: run the period again',
      workflowTaskFinishEventId: Long.fromValue(firstTask.eventId!),
      requestId: randomUUID(),
    })) as temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse;
    await waitFor('the reset run to pass the grant step again', async () => {
      const events = (await worker.client.workflow.getHandle(workflowId, runId!).fetchHistory()).events ?? [];
      const grant = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'grantPeriodCredits');
      return grant && events.some((e) => Long.fromValue(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? 0).equals(Long.fromValue(grant.eventId!))) ? true : undefined;
    });
    expect(await testPrisma().creditGrant.count({ where: { organizationId: org.organizationId, idempotencyKey: `period-credits:${id}:${state.periodStart}` } })).toBe(1);
    expect((await get(`/customers/${customer}/wallet`)).body.balance).toBe('500');
  });

  test('with rollover, they never expire; a plan without period credits grants none', async () => {
    const rolling = await subscribe('rolling');
    const [grant] = await grantsOf(rolling.customer);
    expect(grant).toMatchObject({ kind: 'recurring', credits: '100', expires_at: null });

    const plain = await subscribe('plain');
    expect(plain.state.status).toBe('active');
    expect((await get(`/customers/${plain.customer}/wallet`)).body.grants).toEqual([]);
  });

  test('the plan API shows, changes and refuses them naming the field', async () => {
    expect((await get('/plans/included')).body.period_credits).toEqual({ credits: '500', rollover: false });
    const removed = await post('/plans/included/versions', { period_credits: null });
    expect([removed.status, removed.body.version, removed.body.period_credits]).toEqual([201, 2, null]);
    const bad = await post('/plans', { key: 'bad', name: 'bad', currency: 'usd', interval: 'month', period_credits: { credits: '0' } });
    expect(bad.status).toBe(400);
    expect(bad.body.details.issues.map((i: { field: string }) => i.field)).toEqual(['period_credits.credits']);
  });
});

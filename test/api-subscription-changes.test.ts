import { WorkflowNotFoundError } from '@temporalio/common';
import { subscriptionStateQuery, SUBSCRIPTION_WORKFLOW_TYPE, type SubscriptionState } from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/names';
import { OrganizationId, SubscriptionId } from '../temporal/search-attributes';
import { ensureSubscriptionWorkflows, startSubscriptionWorkflow } from '../temporal/subscriptions';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Subscriptions and their workflow, through the HTTP API, on the real
 * `subscription:<id>` workflow (the worker runs on the API's task queue).
 * Creating a subscription starts its workflow; plan changes and cancels are
 * validated by the API, then signalled (signal-with-start) to it, and the
 * workflow's activities record them. Each subscription starts today with
 * today's anchor day, so its workflow waits in its current period's loop.
 */

jest.setTimeout(60_000);

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let worker: TestWorker;
let org: Org;
let other: Org;

const DAY_MS = 86_400_000;
const now = new Date();
const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
const post = (path: string, body: unknown, key = org.apiKey, headers?: Record<string, string>) => api.post(`/api/v1${path}`, key, body, headers);

beforeAll(async () => {
  worker = await startTestWorker('api-sub-changes');
  api = await startTestApi({}, worker.taskQueue);
  org = await createTestOrganization('api-sub-changes');
  other = await createTestOrganization('api-sub-changes-other');
  const plans = [
    { key: 'basic', currency: 'usd', base_fee: '30' },
    { key: 'pro', currency: 'usd', base_fee: '60' },
    { key: 'pro_eur', currency: 'eur', base_fee: '55' },
    { key: 'legacy', currency: 'usd', base_fee: '10', active: false },
  ];
  for (const plan of plans) expect((await post('/plans', { name: plan.key, interval: 'month', ...plan })).status).toBe(201);
});

afterAll(async () => {
  await api.close();
  await worker.close();
});

const subscriptionBody = () => ({ customer_external_id: `cust-${Math.random().toString(36).slice(2)}`, plan: 'basic', start_date: today.toISOString().slice(0, 10), billing_anchor_day: today.getUTCDate() });

/** A monthly subscription to basic from today (UTC); its workflow is started by the API. */
async function subscribe(): Promise<string> {
  const res = await post('/subscriptions', subscriptionBody());
  expect(res.status).toBe(201);
  expect(res.body.workflow_start).toBe('started');
  return res.body.id;
}

const workflow = (subscriptionId: string) => worker.client.workflow.getHandle(`subscription:${subscriptionId}`);

/** The workflow's `state` query, once the workflow has loaded its subscription (before that it says `starting`). */
function stateOf(subscriptionId: string): Promise<SubscriptionState> {
  return waitFor(`the state of subscription:${subscriptionId}`, async () => {
    const state = await workflow(subscriptionId).query(subscriptionStateQuery);
    return state.status === 'starting' ? undefined : state;
  });
}

async function auditRows(subscriptionId: string, action: string) {
  return testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, entityType: 'subscription', entityId: subscriptionId, action }, orderBy: { id: 'asc' } });
}

async function planChanges(subscriptionId: string) {
  const rows = await testPrisma().subscriptionPlanChange.findMany({
    where: { subscriptionId },
    orderBy: { createdAt: 'asc' },
    include: { fromPlan: { select: { key: true } }, toPlan: { select: { key: true } } },
  });
  return rows.map((r) => ({ from: r.fromPlan.key, to: r.toPlan.key, effectiveAt: r.effectiveAt.toISOString(), requestKey: r.requestKey }));
}

async function currentPlan(subscriptionId: string): Promise<string> {
  const s = await testPrisma().subscription.findUniqueOrThrow({ where: { id: subscriptionId }, include: { plan: { select: { key: true } } } });
  return s.plan.key;
}

describe('creating a subscription', () => {
  test('starts subscription:<id> on the task queue with its search attributes; it waits in the current period, and a repeated start is a no-op', async () => {
    const id = await subscribe();
    const handle = workflow(id);
    const description = await handle.describe();
    expect(description).toMatchObject({ type: SUBSCRIPTION_WORKFLOW_TYPE, taskQueue: worker.taskQueue, status: { name: 'RUNNING' } });
    expect(description.typedSearchAttributes.get(OrganizationId)).toBe(org.organizationId);
    expect(description.typedSearchAttributes.get(SubscriptionId)).toBe(id);

    const state = await stateOf(id);
    expect(state).toMatchObject({ subscriptionId: id, status: 'active', periodStart: today.toISOString(), pendingPlanChanges: 0, billingRunWorkflowIds: [] });
    expect(Date.parse(state.periodEnd!)).toBeGreaterThanOrEqual(today.getTime() + 28 * DAY_MS);

    const s = await testPrisma().subscription.findUniqueOrThrow({ where: { id } });
    const again = await startSubscriptionWorkflow(worker.client, { organizationId: org.organizationId, subscriptionId: id, customerId: s.customerId }, worker.taskQueue);
    expect(again).toEqual({ workflowId: `subscription:${id}`, runId: null, alreadyStarted: true });
    expect((await handle.describe()).runId).toBe(description.runId);
  });

  test('with Temporal unreachable the subscription is still created and says its workflow start is pending; the sweep starts it once', async () => {
    const logged: string[] = [];
    const cut = await startTestApi({ log: (message) => logged.push(message) }, worker.taskQueue);
    let id: string;
    try {
      await cut.temporal.close();
      const res = await cut.post('/api/v1/subscriptions', org.apiKey, subscriptionBody());
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ status: 'active', workflow_id: `subscription:${res.body.id}`, workflow_start: 'pending' });
      id = res.body.id;
      expect(logged).toEqual([expect.stringContaining('the sweeper will start it')]);
    } finally {
      await cut.close();
    }
    expect(await testPrisma().subscription.findUnique({ where: { id } })).toMatchObject({ status: 'active' });
    await expect(workflow(id).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

    // Every other active subscription of the organization already has its workflow.
    const first = await ensureSubscriptionWorkflows(worker.client, testPrisma(), { taskQueue: worker.taskQueue, organizationId: org.organizationId });
    expect(first.started).toEqual([`subscription:${id}`]);
    expect(first.checked).toBeGreaterThanOrEqual(1);
    expect(await stateOf(id)).toMatchObject({ subscriptionId: id, status: 'active' });
    expect((await testPrisma().subscription.findUniqueOrThrow({ where: { id } })).workflowStartedAt).not.toBeNull();
    // Every start is recorded: a second sweep has nothing left to check.
    const second = await ensureSubscriptionWorkflows(worker.client, testPrisma(), { taskQueue: worker.taskQueue, organizationId: org.organizationId });
    expect(second).toEqual({ checked: 0, started: [] });
  });
});

describe('change-plan', () => {
  test('reaches the running workflow, which records the change once per request key, moves the plan and audits it', async () => {
    const id = await subscribe();
    const { runId } = await workflow(id).describe();
    // Between the subscription's start (today's midnight) and now, whatever the hour: the downgrade below
    // takes effect now, which must not come before this change (it did, run between 00:00 and 01:00 UTC).
    const effectiveAt = new Date(today.getTime() + Math.floor((Date.now() - today.getTime()) / 2)).toISOString();
    const first = await post(`/subscriptions/${id}/change-plan`, { plan: 'pro', effective_at: effectiveAt }, org.apiKey, { 'Idempotency-Key': 'upgrade-1' });
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ subscription_id: id, workflow_id: `subscription:${id}`, accepted: { plan: 'pro', plan_version: 1, effective_at: effectiveAt, request_key: 'upgrade-1' } });
    await waitFor('the upgrade', async () => ((await currentPlan(id)) === 'pro' ? true : undefined));
    expect(await planChanges(id)).toEqual([{ from: 'basic', to: 'pro', effectiveAt, requestKey: 'upgrade-1' }]);

    // The same request again (a client retry), then a downgrade: signals are handled in order,
    // so once the downgrade is recorded the retry has been handled too — as a no-op.
    expect((await post(`/subscriptions/${id}/change-plan`, { plan: 'pro', effective_at: effectiveAt }, org.apiKey, { 'Idempotency-Key': 'upgrade-1' })).status).toBe(202);
    const second = await post(`/subscriptions/${id}/change-plan`, { plan: 'basic', request_key: 'downgrade-1' }, org.apiKey, { 'Idempotency-Key': 'ignored' });
    expect(second.status).toBe(202);
    expect(second.body.accepted.request_key).toBe('downgrade-1');
    expect(Date.parse(second.body.accepted.effective_at)).toBeGreaterThanOrEqual(now.getTime());
    await waitFor('the downgrade', async () => ((await planChanges(id)).length === 2 ? true : undefined));
    expect(await planChanges(id)).toEqual([
      { from: 'basic', to: 'pro', effectiveAt, requestKey: 'upgrade-1' },
      { from: 'pro', to: 'basic', effectiveAt: second.body.accepted.effective_at, requestKey: 'downgrade-1' },
    ]);
    expect(await currentPlan(id)).toBe('basic');

    const state = await stateOf(id);
    expect(state).toMatchObject({ status: 'active', pendingPlanChanges: 0, periodStart: today.toISOString() });
    expect((await workflow(id).describe()).runId).toBe(runId);
    // Requests by the API key (three, one a retry); changes applied by the workflow on that key's behalf (two).
    expect((await auditRows(id, 'subscription.plan_change_requested')).map((a) => [a.actorId, (a.after as { plan: string }).plan])).toEqual([
      [org.apiKeyId, 'pro'],
      [org.apiKeyId, 'pro'],
      [org.apiKeyId, 'basic'],
    ]);
    expect((await auditRows(id, 'subscription.plan_changed')).map((a) => [a.actorType, a.actorId, a.before, (a.after as { plan: string }).plan])).toEqual([
      ['api_key', org.apiKeyId, { plan: 'basic', version: 1 }, 'pro'],
      ['api_key', org.apiKeyId, { plan: 'pro', version: 1 }, 'basic'],
    ]);
  });

  test('an unknown, inactive or other-currency plan is a 400 naming plan; effective_at outside the current period names effective_at; nothing is signalled', async () => {
    const id = await subscribe();
    for (const plan of ['nope', 'legacy', 'pro_eur']) {
      const res = await post(`/subscriptions/${id}/change-plan`, { plan });
      expect({ plan, status: res.status, field: res.body.details?.field }).toEqual({ plan, status: 400, field: 'plan' });
    }
    const periodEnd = (await stateOf(id)).periodEnd;
    for (const effective_at of [periodEnd, new Date(today.getTime() - 1000).toISOString(), 'yesterday']) {
      const res = await post(`/subscriptions/${id}/change-plan`, { plan: 'pro', effective_at });
      expect({ effective_at, status: res.status, field: res.body.details?.field }).toEqual({ effective_at, status: 400, field: 'effective_at' });
    }
    expect(await stateOf(id)).toMatchObject({ pendingPlanChanges: 0 });
    expect(await planChanges(id)).toEqual([]);
    expect(await currentPlan(id)).toBe('basic');
    expect(await auditRows(id, 'subscription.plan_change_requested')).toEqual([]);
  });

  test('another organization\'s subscription and an unknown one are 404s', async () => {
    const id = await subscribe();
    expect((await post(`/subscriptions/${id}/change-plan`, { plan: 'pro' }, other.apiKey)).status).toBe(404);
    expect((await post('/subscriptions/00000000-0000-4000-8000-000000000000/change-plan', { plan: 'pro' })).status).toBe(404);
    expect(await planChanges(id)).toEqual([]);
  });
});

describe('cancel', () => {
  test('defaults to the period end: the workflow schedules it, keeps running and audits it', async () => {
    const id = await subscribe();
    const res = await post(`/subscriptions/${id}/cancel`, {});
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ subscription_id: id, workflow_id: `subscription:${id}`, accepted: { at_period_end: true, at: null } });
    const state = await waitFor('the scheduled cancel', async () => {
      const s = await stateOf(id);
      return s.status === 'canceling' ? s : undefined;
    });
    expect(state.periodStart).toBe(today.toISOString());
    await waitFor('the cancel_scheduled audit row', async () => ((await auditRows(id, 'subscription.cancel_scheduled')).length === 1 ? true : undefined));
    expect(await testPrisma().subscription.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'active', cancelAtPeriodEnd: true, canceledAt: null });
    expect((await workflow(id).describe()).status.name).toBe('RUNNING');
    expect(await auditRows(id, 'subscription.cancel_requested')).toHaveLength(1);
  });

  test('cancelling now ends the subscription at the instant the API validated and hands the period to its billing run', async () => {
    const id = await subscribe();
    const at = new Date(Math.max(today.getTime(), Date.now() - 60_000)).toISOString();
    const res = await post(`/subscriptions/${id}/cancel`, { at_period_end: false, at });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toEqual({ at_period_end: false, at });

    const result = await workflow(id).result();
    const billingRun = billingRunWorkflowId(id, today);
    expect(result).toMatchObject({ subscriptionId: id, status: 'canceled', billingRunWorkflowIds: [billingRun] });
    const stored = await testPrisma().subscription.findUniqueOrThrow({ where: { id } });
    expect(stored.status).toBe('canceled');
    expect(stored.canceledAt?.toISOString()).toBe(at);
    const [canceled] = await auditRows(id, 'subscription.canceled');
    expect(canceled).toMatchObject({ actorType: 'api_key', actorId: org.apiKeyId });
    // The period's billing run waits for the period end (plus grace) to close it; it is not this test's subject.
    await worker.client.workflow.getHandle(billingRun).terminate('test over');
  });

  test('`at` with at_period_end true, or outside the current period, is a 400 naming at', async () => {
    const id = await subscribe();
    const periodEnd = (await stateOf(id)).periodEnd;
    const cases = [{ at: today.toISOString() }, { at_period_end: false, at: periodEnd }];
    for (const body of cases) {
      const res = await post(`/subscriptions/${id}/cancel`, body);
      expect({ status: res.status, field: res.body.details?.field }).toEqual({ status: 400, field: 'at' });
    }
    expect(await testPrisma().subscription.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'active', cancelAtPeriodEnd: false });
  });

  test('a canceled subscription cannot be canceled again or change plan: 409', async () => {
    const id = await subscribe();
    await testPrisma().subscription.update({ where: { id }, data: { status: 'canceled', canceledAt: new Date() } });
    const cancel = await post(`/subscriptions/${id}/cancel`, {});
    expect(cancel.status).toBe(409);
    expect(cancel.body.code).toBe('ALREADY_CANCELED');
    expect((await post(`/subscriptions/${id}/change-plan`, { plan: 'pro' })).status).toBe(409);
    await workflow(id).terminate('test over');
  });
});

test('previews show what a plan change or cancellation prorates, checked as the request would be, and send nothing', async () => {
  const id = await subscribe();
  const at = new Date(today.getTime() + 10 * DAY_MS);
  const period = (await api.get(`/api/v1/subscriptions/${id}`, org.apiKey)).body.current_period as { start: string; end: string };
  const total = Math.round((Date.parse(period.end) - Date.parse(period.start)) / DAY_MS);
  const change = await post(`/subscriptions/${id}/change-plan/preview`, { plan: 'pro', effective_at: at.toISOString() });
  expect(change.status).toBe(200);
  expect(change.body).toEqual({
    currency: 'usd',
    period,
    at: at.toISOString(),
    from_plan: { key: 'basic', version: 1, name: 'basic', base_fee: '30.00' },
    to_plan: { key: 'pro', version: 1, name: 'pro', base_fee: '60.00' },
    credit: `-${((30 * (total - 10)) / total).toFixed(2)}`,
    charge: ((60 * (total - 10)) / total).toFixed(2),
    net: expect.stringMatching(/^\d+\.\d{2}$/),
    remaining: total - 10,
    total,
    unit: 'day',
  });
  const cancelNow = await post(`/subscriptions/${id}/cancel/preview`, { at_period_end: false, at: at.toISOString() });
  expect(cancelNow.body).toMatchObject({ to_plan: null, credit: change.body.credit, charge: '0.00', net: change.body.credit });
  const atEnd = await post(`/subscriptions/${id}/cancel/preview`, {});
  expect(atEnd.body).toMatchObject({ at: period.end, credit: '0.00', charge: '0.00', remaining: 0 });

  // The same refusals as the requests, and nothing requested or recorded.
  const eur = await post(`/subscriptions/${id}/change-plan/preview`, { plan: 'pro_eur' });
  expect(eur).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', details: { field: 'plan', issues: [{ field: 'plan' }] } } });
  expect(eur.body.error).toMatch(/^Invalid request: plan: the plan bills in eur/);
  expect((await post(`/subscriptions/${id}/change-plan/preview`, { plan: 'pro', effective_at: period.end })).body.details.field).toBe('effective_at');
  expect((await post(`/subscriptions/${id}/change-plan/preview`, { plan: 'pro' }, other.apiKey)).status).toBe(404);
  expect(await testPrisma().auditLog.count({ where: { organizationId: org.organizationId, entityId: id, action: { in: ['subscription.plan_change_requested', 'subscription.cancel_requested'] } } })).toBe(0);
  expect(await testPrisma().subscriptionPlanChange.count({ where: { subscriptionId: id } })).toBe(0);
});

test('a preview prorates from the plan in effect at its instant, and a change before one already scheduled, or to the plan in effect, is refused', async () => {
  const id = await subscribe();
  const at = (days: number) => new Date(today.getTime() + days * DAY_MS).toISOString();
  // Pro from day 10, recorded by the workflow (the subscription reads "pro" from then on).
  expect((await post(`/subscriptions/${id}/change-plan`, { plan: 'pro', effective_at: at(10), request_key: 'to-pro' })).status).toBe(202);
  await waitFor('the change recorded', async () => ((await testPrisma().subscriptionPlanChange.count({ where: { subscriptionId: id } })) === 1 ? true : undefined));

  const before = await post(`/subscriptions/${id}/change-plan/preview`, { plan: 'basic', effective_at: at(5) });
  expect(before).toMatchObject({ status: 409, body: { code: 'PLAN_CHANGE_SCHEDULED', details: { field: 'effective_at' } } });
  expect((await post(`/subscriptions/${id}/change-plan`, { plan: 'basic', effective_at: at(5) })).status).toBe(409);
  const after = await post(`/subscriptions/${id}/change-plan/preview`, { plan: 'basic', effective_at: at(15) });
  expect(after.body).toMatchObject({ from_plan: { key: 'pro', base_fee: '60.00' }, to_plan: { key: 'basic', base_fee: '30.00' } });
  expect((await post(`/subscriptions/${id}/change-plan/preview`, { plan: 'pro', effective_at: at(15) })).body).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'plan' } });
  // Cancelled on day 5 the subscription is still on basic: basic's unused fee is credited.
  const cancel = await post(`/subscriptions/${id}/cancel/preview`, { at_period_end: false, at: at(5) });
  expect(cancel.body).toMatchObject({ from_plan: { key: 'basic' }, to_plan: null });
  // The first request sent again (a client retry) is still delivered.
  expect((await post(`/subscriptions/${id}/change-plan`, { plan: 'pro', effective_at: at(10), request_key: 'to-pro' })).status).toBe(202);
});

test('a request key used for one change and sent with another is refused, and an empty or overlong Idempotency-Key names the header', async () => {
  const id = await subscribe();
  const at = new Date(today.getTime() + 3 * DAY_MS).toISOString();
  expect((await post(`/subscriptions/${id}/change-plan`, { plan: 'pro', effective_at: at, request_key: 'once' })).status).toBe(202);
  await waitFor('the change recorded', async () => ((await testPrisma().subscriptionPlanChange.count({ where: { subscriptionId: id } })) === 1 ? true : undefined));
  // The same request again is a retry; the key with another instant is another request.
  expect((await post(`/subscriptions/${id}/change-plan`, { plan: 'pro', effective_at: at, request_key: 'once' })).status).toBe(202);
  const reused = await post(`/subscriptions/${id}/change-plan`, { plan: 'pro', effective_at: new Date(today.getTime() + 4 * DAY_MS).toISOString(), request_key: 'once' });
  expect(reused).toMatchObject({ status: 409, body: { code: 'REQUEST_KEY_REUSED', details: { field: 'request_key' } } });
  for (const key of ['', 'k'.repeat(256)]) {
    const bad = await post(`/subscriptions/${id}/change-plan`, { plan: 'basic', effective_at: new Date(today.getTime() + 5 * DAY_MS).toISOString() }, org.apiKey, { 'Idempotency-Key': key });
    expect(bad).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', details: { field: 'Idempotency-Key' } } });
  }
});

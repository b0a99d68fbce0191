import { customerSubscriptions } from '../services/subscriptions';
import { subscriptionStateQuery } from '../temporal/billing-messages';
import { recordHistory } from './harness/histories';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Plan versions (issue 14, point 3): a price change makes the plan's next
 * version; the subscriptions on the old one keep it until moved on purpose,
 * with a plan change to the same key, now or at the period end. Through the
 * HTTP API, with the real subscription workflow recording the moves (the
 * billing of each version is in test/billing-segments.test.ts).
 */

jest.setTimeout(60_000);

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let worker: TestWorker;
let org: Org;
let other: Org;

const now = new Date();
const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
const post = (path: string, body: unknown, key = org.apiKey) => api.post(`/api/v1${path}`, key, body);
const get = (path: string, key = org.apiKey) => api.get(`/api/v1${path}`, key);
const perUnit = (unit_amount: string) => ({ meter: 'api_calls', model: 'per_unit', unit_amount });

beforeAll(async () => {
  worker = await startTestWorker('api-plan-versions');
  api = await startTestApi({}, worker.taskQueue);
  org = await createTestOrganization('api-plan-versions');
  other = await createTestOrganization('api-plan-versions-other');
  expect((await post('/meters', { key: 'api_calls', name: 'API calls', event_type: 'api_call', aggregation: 'sum' })).status).toBe(201);
  const created = await post('/plans', { key: 'metered', name: 'Metered', currency: 'usd', interval: 'month', base_fee: '30', prices: [perUnit('0.10')] });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ key: 'metered', version: 1, base_fee: '30' });
  expect((await api.put(`/api/v1/plans/metered/features/sso`, org.apiKey, { kind: 'boolean', enabled: true })).status).toBe(201);
});

afterAll(async () => {
  await api.close();
  await worker.close();
  await closeTestPrisma();
});

/** A monthly subscription from today (UTC), its workflow started by the API. */
async function subscribe(plan: Record<string, unknown>): Promise<{ id: string; plan_version: number; current_period: { start: string; end: string } }> {
  const res = await post('/subscriptions', { customer_external_id: `cust-${Math.random().toString(36).slice(2)}`, start_date: today.toISOString().slice(0, 10), billing_anchor_day: today.getUTCDate(), ...plan });
  expect(res.status).toBe(201);
  return res.body;
}

describe('plan versions', () => {
  let onFirst: Awaited<ReturnType<typeof subscribe>>;

  test('a new version changes the prices for new subscriptions only; the old version and its subscriptions keep theirs', async () => {
    onFirst = await subscribe({ plan: 'metered' });
    expect(onFirst.plan_version).toBe(1);

    const v2 = await post('/plans/metered/versions', { base_fee: '45', prices: [perUnit('0.08')] });
    expect(v2.status).toBe(201);
    expect(v2.body).toMatchObject({ key: 'metered', version: 2, name: 'Metered', currency: 'usd', interval: 'month', base_fee: '45', active: true, prices: [{ meter: 'api_calls', model: 'per_unit', unit_amount: '0.08' }] });

    // The plan reads at its newest version; the first is still there as it was.
    expect((await get('/plans/metered')).body).toMatchObject({ version: 2, base_fee: '45' });
    expect((await get('/plans/metered/versions/1')).body).toMatchObject({ version: 1, base_fee: '30', prices: [{ unit_amount: '0.1' }] });
    const listed = (await get('/plans')).body.data.filter((p: { key: string }) => p.key === 'metered');
    expect(listed.map((p: { version: number }) => p.version)).toEqual([2]);
    // Features are copied into the new version.
    expect((await get('/plans/metered/features')).body.data).toMatchObject([{ feature: 'sso', kind: 'boolean', enabled: true }]);

    const newcomer = await subscribe({ plan: 'metered' });
    expect(newcomer.plan_version).toBe(2);
    const pinned = await subscribe({ plan: 'metered', plan_version: 1 });
    expect(pinned.plan_version).toBe(1);
    expect((await get(`/subscriptions/${onFirst.id}`)).body).toMatchObject({ plan: 'metered', plan_version: 1 });

    const versions = await get('/plans/metered/versions');
    expect(versions.status).toBe(200);
    expect(versions.body.data.map((v: { version: number; subscriptions: number }) => [v.version, v.subscriptions])).toEqual([
      [2, 1],
      [1, 2],
    ]);

    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId: org.organizationId, action: 'plan.version_created' } });
    expect(audit).toMatchObject({ entityType: 'plan', entityId: v2.body.id, actorType: 'api_key' });
    expect(audit.before).toMatchObject({ version: 1, base_fee: '30' });
    expect(audit.after).toMatchObject({ version: 2, base_fee: '45' });
  });

  test('moving a subscription to the newest version at the period end: previewed with nothing prorated, recorded by the workflow at the period end, the period on its old version', async () => {
    const preview = await post(`/subscriptions/${onFirst.id}/change-plan/preview`, { plan: 'metered', at_period_end: true });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({
      at: onFirst.current_period.end,
      from_plan: { key: 'metered', version: 1, base_fee: '30.00' },
      to_plan: { key: 'metered', version: 2, base_fee: '45.00' },
      credit: '0.00',
      charge: '0.00',
      net: '0.00',
    });

    const res = await post(`/subscriptions/${onFirst.id}/change-plan`, { plan: 'metered', at_period_end: true, request_key: 'move-to-v2' });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toEqual({ plan: 'metered', plan_version: 2, effective_at: onFirst.current_period.end, request_key: 'move-to-v2' });

    const change = await waitFor('the recorded move', async () => (await testPrisma().subscriptionPlanChange.findFirst({ where: { subscriptionId: onFirst.id }, include: { fromPlan: true, toPlan: true } })) ?? undefined);
    // At the period end itself, not its last millisecond: the period bills version 1 whole, with no proration line.
    expect(change.effectiveAt.toISOString()).toBe(onFirst.current_period.end);
    expect([change.fromPlan.version, change.toPlan.version]).toEqual([1, 2]);
    // Until then the subscription is on version 1, with version 2 scheduled.
    const { customerId } = await testPrisma().subscription.findUniqueOrThrow({ where: { id: onFirst.id } });
    const [shown] = await customerSubscriptions(testPrisma(), org.organizationId, customerId);
    expect(shown).toMatchObject({ plan: 'metered', plan_version: 1, scheduled: [{ plan: 'metered', plan_version: 2, at: onFirst.current_period.end }] });

    // The API reads the plan in effect: version 1 now, version 2 from the period end; the version list counts it on version 1.
    expect((await get(`/subscriptions/${onFirst.id}`)).body).toMatchObject({ plan: 'metered', plan_version: 1 });
    expect((await get(`/subscriptions/${onFirst.id}?at=${encodeURIComponent(onFirst.current_period.end)}`)).body).toMatchObject({ plan: 'metered', plan_version: 2 });
    const counts = (await get('/plans/metered/versions')).body.data.map((v: { version: number; subscriptions: number }) => [v.version, v.subscriptions]);
    expect(counts).toEqual([
      [2, 1],
      [1, 2],
    ]);

    // A retry with its request key (even once a newer version exists) is recorded once; a change before the scheduled one is refused.
    const v3 = await post('/plans/metered/versions', { base_fee: '50' });
    expect(v3.body.version).toBe(3);
    const retry = await post(`/subscriptions/${onFirst.id}/change-plan`, { plan: 'metered', at_period_end: true, request_key: 'move-to-v2' });
    expect([retry.status, retry.body.accepted]).toEqual([202, { plan: 'metered', plan_version: 2, effective_at: onFirst.current_period.end, request_key: 'move-to-v2' }]);
    const now = await post(`/subscriptions/${onFirst.id}/change-plan`, { plan: 'metered', plan_version: 1 });
    expect(now.status).toBe(409);
    expect(now.body.code).toBe('PLAN_CHANGE_SCHEDULED');
    // The retry's signal is in the workflow's history before the query is answered: once nothing is pending it was handled.
    await waitFor('the retry handled', async () => ((await worker.client.workflow.getHandle(`subscription:${onFirst.id}`).query(subscriptionStateQuery)).pendingPlanChanges === 0 ? true : undefined));
    expect(await testPrisma().subscriptionPlanChange.count({ where: { subscriptionId: onFirst.id } })).toBe(1);
    // Its history (the patch marker, the change at the period end) joins the replay set.
    await recordHistory('subscription-plan-change-at-period-end', worker.client.workflow.getHandle(`subscription:${onFirst.id}`));
  });

  test("features follow the version: a subscription on version 1 keeps its grants, and only a plan's newest version is offered as an upgrade", async () => {
    const { customer } = await testPrisma().subscription.findUniqueOrThrow({ where: { id: onFirst.id }, include: { customer: true } });
    const check = (feature: string) => post('/entitlements/check', { customer_external_id: customer.externalId, feature });
    // Added to metered's newest version (2) only: the customer on version 1 does not have it, and is offered version 2.
    expect((await api.put('/api/v1/plans/metered/features/exports', org.apiKey, { kind: 'boolean', enabled: true })).status).toBe(201);
    expect((await check('sso')).body).toMatchObject({ allowed: true, plan_key: 'metered' });
    expect((await check('exports')).body).toMatchObject({ allowed: false, upgrade_options: [{ plan_key: 'metered', reason: 'plan metered includes exports' }] });
    // Gold's version 1 had priority support, its version 2 dropped it: no upgrade offers what only an old version has.
    expect((await post('/plans', { key: 'gold', name: 'Gold', currency: 'usd', interval: 'month', base_fee: '90' })).status).toBe(201);
    expect((await api.put('/api/v1/plans/gold/features/priority', org.apiKey, { kind: 'boolean', enabled: true })).status).toBe(201);
    expect((await check('priority')).body.upgrade_options).toMatchObject([{ plan_key: 'gold' }]);
    expect((await post('/plans/gold/versions', { base_fee: '95' })).status).toBe(201);
    expect((await api.delete('/api/v1/plans/gold/features/priority', org.apiKey)).status).toBe(200);
    expect((await get('/plans/gold/versions/1')).status).toBe(200);
    expect((await check('priority')).body).toMatchObject({ allowed: false, upgrade_options: [] });
  });

  test('two new versions at once are made one after the other, each from the newest', async () => {
    expect((await post('/plans', { key: 'racy', name: 'Racy', currency: 'usd', interval: 'month', base_fee: '10', prices: [perUnit('0.10')] })).status).toBe(201);
    const fees = ['11', '12', '13'];
    const made = await Promise.all(fees.map((base_fee) => post('/plans/racy/versions', { base_fee })));
    expect(made.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(made.map((r) => r.body.version).sort()).toEqual([2, 3, 4]);
    // Each was made from the version just before it (read after the lock), never two from the same one.
    const racy = await testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, action: 'plan.version_created', entityId: { in: made.map((r) => r.body.id) } } });
    expect(racy.map((a) => [(a.before as { version: number }).version, (a.after as { version: number }).version]).sort()).toEqual([
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
  });
});

describe('refusals', () => {
  test.each([
    ['no change at all', '/plans/metered/versions', {}, 400, 'VALIDATION_ERROR', undefined],
    ['an unknown meter', '/plans/metered/versions', { prices: [{ ...perUnit('1'), meter: 'nope' }] }, 400, 'VALIDATION_ERROR', 'prices.0.meter'],
    ['a meter priced twice', '/plans/metered/versions', { prices: [perUnit('1'), perUnit('2')] }, 400, 'VALIDATION_ERROR', 'prices.1.meter'],
    ['a currency (it stays)', '/plans/metered/versions', { currency: 'eur' }, 400, 'VALIDATION_ERROR', 'currency'],
    ['the same terms again', '/plans/metered/versions', { base_fee: '50' }, 400, 'VALIDATION_ERROR', undefined],
    ['a plan that does not exist', '/plans/nope/versions', { base_fee: '1' }, 404, 'NOT_FOUND', undefined],
    ['a key taken (versions change a plan)', '/plans', { key: 'metered', name: 'M', currency: 'usd', interval: 'month' }, 409, 'ALREADY_EXISTS', 'key'],
  ])('%s', async (_name, path, body, status, code, field) => {
    const res = await post(path, body);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    if (field) expect(res.body.details.field ?? res.body.details.issues[0].field).toBe(field);
  });

  test('an unknown meter is named as such; a version that does not exist is a 404, and one that cannot exist a 400', async () => {
    const unknown = await post('/plans/metered/versions', { prices: [{ ...perUnit('1'), meter: 'nope' }] });
    expect(unknown.body.details.issues).toEqual([expect.objectContaining({ code: 'UNKNOWN_METER', field: 'prices.0.meter' })]);
    expect((await get('/plans/metered/versions/9')).status).toBe(404);
    expect((await get('/plans/metered/versions/0')).status).toBe(400);
    expect((await get('/plans/metered/versions/x')).status).toBe(400);
  });

  test('a subscription to a version that does not exist names plan_version', async () => {
    const res = await post('/subscriptions', { customer_external_id: 'cust-v9', plan: 'metered', plan_version: 9, start_date: today.toISOString().slice(0, 10) });
    expect(res.status).toBe(400);
    expect(res.body.details.field).toBe('plan_version');
  });

  test('a change at the period end of a subscription that ends with it is refused', async () => {
    const s = await subscribe({ plan: 'metered' });
    expect((await post(`/subscriptions/${s.id}/cancel`, { at_period_end: true })).status).toBe(202);
    await waitFor('the cancellation scheduled', async () => ((await testPrisma().subscription.findUniqueOrThrow({ where: { id: s.id } })).cancelAtPeriodEnd ? true : undefined));
    const res = await post(`/subscriptions/${s.id}/change-plan`, { plan: 'metered', plan_version: 1, at_period_end: true });
    expect([res.status, res.body.code]).toEqual([409, 'SUBSCRIPTION_CANCELING']);
  });

  test('effective_at with at_period_end is refused, naming effective_at', async () => {
    const s = await subscribe({ plan: 'metered', plan_version: 1 });
    const res = await post(`/subscriptions/${s.id}/change-plan`, { plan: 'metered', at_period_end: true, effective_at: today.toISOString() });
    expect(res.status).toBe(400);
    expect(res.body.details.issues[0].field).toBe('effective_at');
  });

  test("another organization's plan is not found", async () => {
    expect((await get('/plans/metered/versions', other.apiKey)).status).toBe(404);
    expect((await post('/plans/metered/versions', { base_fee: '1' }, other.apiKey)).status).toBe(404);
  });
});

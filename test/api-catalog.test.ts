import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestApi, type TestApi } from './api-test-app';

let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;
let otherKey: string;

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('api-catalog');
  otherKey = (await createTestOrganization('api-catalog-other')).apiKey;
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const post = (path: string, body: unknown, key = org.apiKey) => api.post(`/api/v1${path}`, key, body);
const get = (path: string, key = org.apiKey) => api.get(`/api/v1${path}`, key);

const GRADUATED = [
  { up_to: 100, unit_amount: '0.10' },
  { up_to: 1000, unit_amount: '0.08' },
  { up_to: null, unit_amount: '0.05' },
];

/** Anchor 31 by hand: a period starts on the last day of a month and ends on the last day of the next. */
function anchor31PeriodAt(now: Date): { start: string; end: string } {
  const lastDay = (y: number, m: number) => new Date(Date.UTC(y, m + 1, 0));
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const thisLast = lastDay(y, m);
  const today = new Date(Date.UTC(y, m, now.getUTCDate()));
  const [start, end] = today.getTime() === thisLast.getTime() ? [thisLast, lastDay(y, m + 1)] : [lastDay(y, m - 1), thisLast];
  return { start: start.toISOString(), end: end.toISOString() };
}

describe('catalog round trip', () => {
  let subscriptionId: string;

  test('meter → plan with graduated and package prices → customer → subscription, and back', async () => {
    const calls = await post('/meters', { key: 'api_calls', name: 'API calls', event_type: 'api_call', aggregation: 'sum' });
    expect(calls.status).toBe(201);
    expect(calls.body).toMatchObject({ key: 'api_calls', event_type: 'api_call', aggregation: 'sum', property: null });
    const users = await post('/meters', { key: 'active_users', name: 'Active users', event_type: 'login', aggregation: 'unique_count', property: 'user_id' });
    expect(users.status).toBe(201);

    const plan = await post('/plans', {
      key: 'pro',
      name: 'Pro',
      currency: 'USD',
      interval: 'month',
      base_fee: '49.00',
      prices: [
        { meter: 'api_calls', model: 'graduated', tiers: GRADUATED, included_units: '50' },
        { meter: 'active_users', model: 'package', package_size: 50, package_amount: '3.00', free_units: 10 },
      ],
    });
    expect(plan.status).toBe(201);
    const expectedPlan = {
      key: 'pro',
      name: 'Pro',
      currency: 'usd',
      interval: 'month',
      base_fee: '49',
      active: true,
      prices: [
        { meter: 'active_users', model: 'package', package_size: '50', package_amount: '3', free_units: '10', included_units: '0' },
        {
          meter: 'api_calls',
          model: 'graduated',
          included_units: '50',
          tiers: [
            { up_to: 100, unit_amount: '0.1', flat_amount: '0' },
            { up_to: 1000, unit_amount: '0.08', flat_amount: '0' },
            { up_to: null, unit_amount: '0.05', flat_amount: '0' },
          ],
        },
      ],
    };
    expect(plan.body).toMatchObject(expectedPlan);
    expect((await get('/plans/pro')).body).toEqual(plan.body);

    const customer = await post('/customers', { external_id: 'acme', name: 'Acme', email: 'billing@acme.test' });
    expect(customer.status).toBe(201);
    const again = await post('/customers', { external_id: 'acme', name: 'Other name' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(customer.body);

    const sub = await post('/subscriptions', { customer_external_id: 'acme', plan: 'pro', start_date: '2024-01-31', billing_anchor_day: 31 });
    expect(sub.status).toBe(201);
    expect(sub.body).toMatchObject({
      customer_external_id: 'acme',
      customer_id: customer.body.id,
      plan: 'pro',
      status: 'active',
      start_date: '2024-01-31T00:00:00.000Z',
      billing_anchor_day: 31,
      cancel_at_period_end: false,
      canceled_at: null,
      current_period: anchor31PeriodAt(new Date()),
    });
    subscriptionId = sub.body.id;

    // Anchor 31 falls on Feb 29 in 2024, Apr 30, and back on the 31st in May.
    const at = async (date: string) => (await get(`/subscriptions/${subscriptionId}?at=${date}`)).body.current_period;
    expect(await at('2024-02-15')).toEqual({ start: '2024-01-31T00:00:00.000Z', end: '2024-02-29T00:00:00.000Z' });
    expect(await at('2024-03-05')).toEqual({ start: '2024-02-29T00:00:00.000Z', end: '2024-03-31T00:00:00.000Z' });
    expect(await at('2024-04-30')).toEqual({ start: '2024-04-30T00:00:00.000Z', end: '2024-05-31T00:00:00.000Z' });

    expect((await get('/meters/api_calls')).body).toEqual(calls.body);
    expect((await get('/customers/acme')).body).toEqual(customer.body);
    const list = await get('/subscriptions?customer=acme');
    expect(list.status).toBe(200);
    expect(list.body.data.map((s: { id: string }) => s.id)).toEqual([subscriptionId]);
    expect((await get('/meters')).body.data.map((m: { key: string }) => m.key)).toEqual(['active_users', 'api_calls']);
    expect((await get('/plans')).body.data).toHaveLength(1);
    expect((await get('/customers')).body.data.map((c: { external_id: string }) => c.external_id)).toEqual(['acme']);
  });

  test('a subscription for an unknown customer creates it; the anchor defaults to the start day', async () => {
    const sub = await post('/subscriptions', { customer_external_id: 'newco', plan: 'pro', start_date: '2099-03-15T10:00:00Z' });
    expect(sub.status).toBe(201);
    // Not started yet: its first period.
    expect(sub.body).toMatchObject({ billing_anchor_day: 15, current_period: { start: '2099-03-15T00:00:00.000Z', end: '2099-04-15T00:00:00.000Z' } });
    expect((await get('/customers/newco')).status).toBe(200);
  });

  test('every create wrote its audit row, by the API key', async () => {
    // The fixture's api_key.created row is not ours.
    const rows = await testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, action: { not: 'api_key.created' } }, orderBy: { id: 'asc' } });
    expect(rows.map((r) => r.action)).toEqual([
      'meter.created',
      'meter.created',
      'plan.created',
      'customer.created',
      'subscription.created',
      'customer.created',
      'subscription.created',
    ]);
    expect(new Set(rows.map((r) => `${r.actorType}:${r.actorId}`))).toEqual(new Set([`api_key:${org.apiKeyId}`]));
    expect(rows.find((r) => r.action === 'subscription.created')?.entityId).toBe(subscriptionId);
  });

  test('another organization sees none of it: 404 on each GET, and cannot price its plans with our meters', async () => {
    for (const path of ['/meters/api_calls', '/plans/pro', '/customers/acme', `/subscriptions/${subscriptionId}`]) {
      expect((await get(path, otherKey)).status).toBe(404);
    }
    expect((await get('/subscriptions?customer=acme', otherKey)).body.data).toEqual([]);
    const plan = await post('/plans', { key: 'steal', name: 'x', currency: 'usd', interval: 'month', prices: [{ meter: 'api_calls', model: 'per_unit', unit_amount: '1' }] }, otherKey);
    expect(plan.status).toBe(400);
    expect(plan.body.details.field).toBe('prices.0.meter');
  });

  test('a meter maps to a Stripe price and a subscription records its contracted fee; each change is audited; another organization gets 404', async () => {
    const patch = (path: string, body: unknown, key = org.apiKey) => api.patch(`/api/v1${path}`, key, body);
    expect(await patch('/meters/api_calls', { stripe_price_id: 'price_1Calls' })).toMatchObject({ status: 200, body: { key: 'api_calls', stripe_price_id: 'price_1Calls' } });
    expect((await get('/meters/api_calls')).body.stripe_price_id).toBe('price_1Calls');
    expect(await patch('/meters/api_calls', { stripe_price_id: 'cus_123' })).toMatchObject({ status: 400, body: { details: { field: 'stripe_price_id' } } });
    expect(await patch('/meters/api_calls', { stripe_price_id: 'price_1Calls', event_type: 'other' })).toMatchObject({ status: 400, body: { details: { field: 'event_type' } } });
    expect((await patch('/meters/api_calls', { stripe_price_id: null }, otherKey)).status).toBe(404);
    expect(await patch('/meters/api_calls', { stripe_price_id: null })).toMatchObject({ status: 200, body: { stripe_price_id: null } });

    expect(await patch(`/subscriptions/${subscriptionId}`, { contracted_base_fee: '59.50' })).toMatchObject({ status: 200, body: { id: subscriptionId, contracted_base_fee: '59.5' } });
    expect(await patch(`/subscriptions/${subscriptionId}`, { contracted_base_fee: '-1' })).toMatchObject({ status: 400, body: { details: { field: 'contracted_base_fee' } } });
    expect((await patch(`/subscriptions/${subscriptionId}`, { contracted_base_fee: null }, otherKey)).status).toBe(404);
    expect((await patch('/subscriptions/not-a-uuid', { contracted_base_fee: null })).status).toBe(404);
    const created = await post('/subscriptions', { customer_external_id: 'contracted', plan: 'pro', start_date: '2099-01-01', contracted_base_fee: '45' });
    expect(created).toMatchObject({ status: 201, body: { contracted_base_fee: '45' } });

    const audit = await testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, action: { in: ['meter.updated', 'subscription.updated'] } }, orderBy: { id: 'asc' } });
    expect(audit.map((r) => [r.action, r.before, r.after])).toEqual([
      ['meter.updated', { stripe_price_id: null }, { stripe_price_id: 'price_1Calls' }],
      ['meter.updated', { stripe_price_id: 'price_1Calls' }, { stripe_price_id: null }],
      ['subscription.updated', { contracted_base_fee: null }, { contracted_base_fee: '59.5' }],
    ]);
  });

  test('a duplicate meter or plan key is a 409', async () => {
    const meter = await post('/meters', { key: 'api_calls', name: 'again', event_type: 'x', aggregation: 'count' });
    expect(meter.status).toBe(409);
    expect(meter.body).toMatchObject({ code: 'ALREADY_EXISTS', details: { field: 'key' } });
    const plan = await post('/plans', { key: 'pro', name: 'again', currency: 'usd', interval: 'year' });
    expect(plan.status).toBe(409);
  });
});

const perUnit = { meter: 'api_calls', model: 'per_unit', unit_amount: '0.05' };
const planBody = (overrides: Record<string, unknown>) => ({ key: `p-${Math.random().toString(36).slice(2)}`, name: 'P', currency: 'usd', interval: 'month', ...overrides });

test.each<[string, string, Record<string, unknown>, string, string]>([
  ['unique_count without property', '/meters', { key: 'u', name: 'U', event_type: 'login', aggregation: 'unique_count' }, 'property', 'MISSING_FIELD'],
  ['property on a sum meter', '/meters', { key: 's', name: 'S', event_type: 'e', aggregation: 'sum', property: 'p' }, 'property', 'UNKNOWN_FIELD'],
  ['an unknown aggregation', '/meters', { key: 'a', name: 'A', event_type: 'e', aggregation: 'median' }, 'aggregation', 'INVALID_VALUE'],
  ['a key that is not URL-safe', '/meters', { key: 'a/b', name: 'A', event_type: 'e', aggregation: 'sum' }, 'key', 'INVALID_VALUE'],
  ['an unknown currency', '/plans', planBody({ currency: 'xyz' }), 'currency', 'UNKNOWN_CURRENCY'],
  ['an unknown meter key', '/plans', planBody({ prices: [{ ...perUnit, meter: 'nope' }] }), 'prices.0.meter', 'UNKNOWN_METER'],
  ['a meter priced twice', '/plans', planBody({ prices: [perUnit, perUnit] }), 'prices.1.meter', 'INVALID_VALUE'],
  ['tiers out of order', '/plans', planBody({ prices: [{ meter: 'api_calls', model: 'graduated', tiers: [{ up_to: 100, unit_amount: '1' }, { up_to: 50, unit_amount: '1' }, { up_to: null, unit_amount: '1' }] }] }), 'prices.0.tiers.1.up_to', 'INVALID_VALUE'],
  ['package without package_size', '/plans', planBody({ prices: [{ meter: 'api_calls', model: 'package', package_amount: '3' }] }), 'prices.0.package_size', 'MISSING_FIELD'],
  ['a field another model uses', '/plans', planBody({ prices: [{ ...perUnit, tiers: GRADUATED }] }), 'prices.0.tiers', 'UNKNOWN_FIELD'],
  ['a base fee with 7 decimals', '/plans', planBody({ base_fee: '1.0000001' }), 'base_fee', 'INVALID_VALUE'],
  ['a bad email', '/customers', { external_id: 'c', email: 'not-an-email' }, 'email', 'INVALID_VALUE'],
  ['anchor day 32', '/subscriptions', { customer_external_id: 'acme', plan: 'pro', start_date: '2024-01-31', billing_anchor_day: 32 }, 'billing_anchor_day', 'INVALID_VALUE'],
  ['anchor day 0', '/subscriptions', { customer_external_id: 'acme', plan: 'pro', start_date: '2024-01-31', billing_anchor_day: 0 }, 'billing_anchor_day', 'INVALID_VALUE'],
  ['an unknown plan', '/subscriptions', { customer_external_id: 'acme', plan: 'nope', start_date: '2024-01-31' }, 'plan', 'INVALID_VALUE'],
  ['an impossible start date', '/subscriptions', { customer_external_id: 'acme', plan: 'pro', start_date: '2024-02-30' }, 'start_date', 'INVALID_VALUE'],
  ['an unknown field', '/subscriptions', { customer_external_id: 'acme', plan: 'pro', start_date: '2024-01-31', trial: true }, 'trial', 'UNKNOWN_FIELD'],
])('%s → 400 naming the field', async (_name, path, body, field, code) => {
  const res = await post(path, body);
  expect(res.status).toBe(400);
  expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', details: { field, issues: [expect.objectContaining({ field, code })] } });
  expect(res.body.error).toContain(field);
});

test('the OpenAPI document lists the catalog paths with strict request schemas', async () => {
  const doc = (await api.get('/api/openapi.json', null)).body;
  for (const path of ['/api/v1/meters', '/api/v1/plans', '/api/v1/customers', '/api/v1/subscriptions']) {
    expect(Object.keys(doc.paths[path])).toEqual(['post', 'get']);
  }
  for (const path of ['/api/v1/meters/{key}', '/api/v1/plans/{key}', '/api/v1/customers/{external_id}', '/api/v1/subscriptions/{id}']) {
    expect(doc.paths[path].get.responses['404']).toBeDefined();
  }
  for (const id of ['MeterCreateRequest', 'PlanCreateRequest', 'CustomerCreateRequest', 'SubscriptionCreateRequest']) {
    expect(doc.components.schemas[id].additionalProperties).toBe(false);
  }
  expect(doc.paths['/api/v1/plans'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/PlanCreateRequest' });
});

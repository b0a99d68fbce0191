import { randomUUID } from 'node:crypto';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Prepaid-only plans (issue 15, point 4): the entitlement check answers
 * allowed: false, with the reason, when the customer's wallet cannot cover
 * the credits the usage would burn at the rates in effect (for the event's
 * dimension value). Customers on other plans get no credits verdict: what
 * their wallet does not cover is invoiced as overage. Over HTTP, on the real
 * database.
 */

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let org: Org;
const post = (path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);
const check = (customer: string, body: object = {}) => post('/entitlements/check', { customer_external_id: customer, event_type: 'llm_call', quantity: '2000', ...body });

/** A customer subscribed (since yesterday) to the plan's newest version. */
async function subscriber(planKey: string): Promise<string> {
  const externalId = `cust-${randomUUID().slice(0, 8)}`;
  const plan = await testPrisma().plan.findFirstOrThrow({ where: { organizationId: org.organizationId, key: planKey }, orderBy: { version: 'desc' } });
  const customer = await testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId } });
  await testPrisma().subscription.create({ data: { organizationId: org.organizationId, customerId: customer.id, planId: plan.id, startDate: new Date(Date.now() - 86_400_000), billingAnchorDay: 1 } });
  return externalId;
}

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('credits-prepaid-only');
  expect((await post('/meters', { key: 'tokens', name: 'Tokens', event_type: 'llm_call', aggregation: 'sum', dimension: 'model' })).status).toBe(201);
  const prepaid = await post('/plans', { key: 'prepaid', name: 'Prepaid', currency: 'usd', interval: 'month', prepaid_only: true, prices: [{ meter: 'tokens', model: 'per_unit', unit_amount: '0.001' }] });
  expect(prepaid.status).toBe(201);
  expect(prepaid.body.prepaid_only).toBe(true);
  const metered = await post('/plans', { key: 'metered', name: 'Metered', currency: 'usd', interval: 'month', prices: [{ meter: 'tokens', model: 'per_unit', unit_amount: '0.001' }] });
  expect(metered.body.prepaid_only).toBe(false);
  expect((await post('/credit-burn-rates', { meter: 'tokens', credits: '1', per_units: '1000' })).status).toBe(201);
  expect((await post('/credit-burn-rates', { meter: 'tokens', dimension_value: 'gpt-4o', credits: '5', per_units: '1000' })).status).toBe(201);
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

describe('the entitlement check for a prepaid-only plan', () => {
  test('allows what the wallet covers at the rate for the event\'s model, and refuses what it does not, saying why', async () => {
    const customer = await subscriber('prepaid');
    expect((await post(`/customers/${customer}/credit-grants`, { credits: '3', kind: 'purchased' })).status).toBe(201);

    // 2,000 tokens at the default rate: 2 credits of 3.
    const covered = await check(customer);
    expect(covered.status).toBe(200);
    expect(covered.body).toMatchObject({ allowed: true, credits: { required: '2', balance: '3' } });
    expect(covered.body.reason).toContain('plan prepaid is prepaid only: 2000 llm_call needs 2 credits, and the wallet has 3');

    // The same tokens of gpt-4o: 10 credits.
    const refused = await check(customer, { properties: { model: 'gpt-4o' } });
    expect(refused.body).toMatchObject({ allowed: false, credits: { required: '10', balance: '3' } });
    expect(refused.body.reason).toBe('plan prepaid is prepaid only: 2000 llm_call needs 10 credits, but the wallet has 3; add credits first');

    // An event type no rate prices burns nothing: allowed from any wallet.
    expect((await check(customer, { event_type: 'image' })).body).toMatchObject({ allowed: true, credits: { required: '0', balance: '3' } });
  });

  test('a prepaid-only customer without a wallet has nothing to spend', async () => {
    const customer = await subscriber('prepaid');
    expect((await check(customer)).body).toMatchObject({ allowed: false, credits: { required: '2', balance: '0' } });
  });

  test('other plans get no credits verdict: their uncovered usage is invoiced', async () => {
    const customer = await subscriber('metered');
    const res = await check(customer, { properties: { model: 'gpt-4o' } });
    expect(res.body).toMatchObject({ allowed: true, credits: null });
  });

  test('prepaid_only is part of a plan version: a new version can turn it off', async () => {
    const version = await post('/plans/prepaid/versions', { prepaid_only: false });
    expect(version.status).toBe(201);
    expect(version.body).toMatchObject({ version: 2, prepaid_only: false });
    const customer = await subscriber('prepaid');
    expect((await check(customer)).body).toMatchObject({ allowed: true, credits: null });
    // A version that changes nothing is still refused, naming the flag among what it compares.
    const same = await post('/plans/prepaid/versions', { prepaid_only: false });
    expect(same.status).toBe(400);
    expect(JSON.stringify(same.body)).toContain('prepaid-only');
  });
});

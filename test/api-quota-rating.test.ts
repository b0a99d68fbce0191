import { randomUUID } from 'node:crypto';
import { quotaWindow } from '../billing/quota-window';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { event, startTestApi, type TestApi } from './api-test-app';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

async function hardLimit(organizationId: string, eventType: string, limit: number, customerExternalId: string | null = null, mode: 'HARD' | 'SOFT' | 'DISABLED' = 'HARD') {
  return testPrisma().quotaLimit.create({
    data: { organizationId, eventType, customerExternalId, limitValue: limit, mode, resetWindow: 'month' },
  });
}

describe('HARD quotas', () => {
  test('20 concurrent batches of 10 against a limit of 100 store exactly 100 events', async () => {
    const org = await createTestOrganization('api-quota');
    const limit = await hardLimit(org.organizationId, 'llm_call', 100);
    const requests = Array.from({ length: 20 }, (_, r) => ({
      events: Array.from({ length: 10 }, (_, i) => event(`q-${r}-${i}`, { event_type: 'llm_call', customer_external_id: 'heavy' })),
    }));
    const results = await Promise.all(requests.map((body) => api.post('/api/v1/events', org.apiKey, body)));

    const accepted = results.filter((r) => r.status === 202).reduce((sum, r) => sum + r.body.accepted, 0);
    expect(accepted).toBe(100);
    expect(await testPrisma().usageEvent.count({ where: { organizationId: org.organizationId, eventType: 'llm_call' } })).toBe(100);

    const quotaRejections = results.flatMap((r) => (r.status === 202 ? r.body.rejected : r.body.details.rejected));
    expect(quotaRejections).toHaveLength(100);
    const resetAt = quotaWindow('month', new Date()).end?.toISOString();
    for (const rejection of quotaRejections) {
      expect(rejection).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { limit: '100', current: '100', reset_at: resetAt } });
    }
    // Requests that got nothing in are 403 with the QUOTA_EXCEEDED body.
    for (const r of results.filter((x) => x.status !== 202)) {
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { limit: '100', current: '100', reset_at: resetAt } });
    }

    const counter = await testPrisma().quotaCounter.findFirstOrThrow({ where: { quotaLimitId: limit.id, customerExternalId: 'heavy' } });
    expect(counter.used.toString()).toBe('100');
    expect(counter.limitReachedAt).not.toBeNull();

    const over = await api.post('/api/v1/events', org.apiKey, event(`q-over-${randomUUID()}`, { event_type: 'llm_call', customer_external_id: 'heavy' }));
    expect(over.status).toBe(403);
    expect(over.body).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { limit: '100', current: '100', reset_at: resetAt } });
    expect(over.body.error).toEqual(expect.any(String));

    // Another customer has its own counter under the same default limit.
    const other = await api.post('/api/v1/events', org.apiKey, event(`q-other-${randomUUID()}`, { event_type: 'llm_call', customer_external_id: 'light' }));
    expect(other.body.accepted).toBe(1);
  });

  test('within one batch, events are admitted in order until the limit, then rejected; a customer row overrides the default', async () => {
    const org = await createTestOrganization('api-quota-order');
    await hardLimit(org.organizationId, 'seat', 5);
    await hardLimit(org.organizationId, 'seat', 0, 'vip', 'DISABLED');
    const res = await api.post('/api/v1/events', org.apiKey, {
      events: [
        // 2 fits (2), 4 would make 6 (refused), 3 fits (5), 1 would make 6 (refused); vip is not limited.
        event('s-1', { event_type: 'seat', quantity: 2 }),
        event('s-2', { event_type: 'seat', quantity: 4 }),
        event('s-3', { event_type: 'seat', quantity: 3 }),
        event('s-4', { event_type: 'seat', quantity: 1 }),
        event('s-vip', { event_type: 'seat', quantity: 50, customer_external_id: 'vip' }),
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(3);
    expect(res.body.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [1, 'QUOTA_EXCEEDED'],
      [3, 'QUOTA_EXCEEDED'],
    ]);
    const keys = (await testPrisma().usageEvent.findMany({ where: { organizationId: org.organizationId } })).map((e) => e.idempotencyKey).sort();
    expect(keys).toEqual(['s-1', 's-3', 's-vip']);
  });
});

describe('POST /api/v1/entitlements/check', () => {
  test('reports limit, usage, remaining and reset time, and whether the quantity fits', async () => {
    const org = await createTestOrganization('api-entitle');
    await hardLimit(org.organizationId, 'export', 10);
    await hardLimit(org.organizationId, 'email', 3, null, 'SOFT');
    await api.post('/api/v1/events', org.apiKey, { events: [event('e-1', { event_type: 'export', quantity: 7, customer_external_id: 'c' })] });
    const resetAt = quotaWindow('month', new Date()).end?.toISOString();

    const fits = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'c', event_type: 'export', quantity: 3 });
    expect(fits.status).toBe(200);
    expect(fits.body).toEqual({ allowed: true, reason: 'within the HARD limit of 10 (7 used)', limit: '10', mode: 'HARD', used: '7', remaining: '3', reset_at: resetAt, credits: null });

    const tooMuch = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'c', event_type: 'export', quantity: '3.5' });
    expect(tooMuch.body).toMatchObject({ allowed: false, used: '7', remaining: '3', reason: `the HARD limit of 10 would be passed (7 used, 3.5 asked); it resets at ${resetAt}` });

    const fresh = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'new', event_type: 'export' });
    expect(fresh.body).toMatchObject({ allowed: true, used: '0', remaining: '10' });

    const soft = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'c', event_type: 'email', quantity: 100 });
    expect(soft.body).toMatchObject({ allowed: true, limit: '3', mode: 'SOFT', reason: expect.stringMatching(/^SOFT limit of 3 \(\d+ used\): usage past it is allowed, with a notice$/) });

    const none = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'c', event_type: 'unmetered', quantity: 1 });
    expect(none.body).toEqual({ allowed: true, reason: 'no quota limit on unmetered for c', limit: null, mode: null, used: '0', remaining: null, reset_at: null, credits: null });

    // A HARD limit with a grace period: past it, the check says the quantity is let in because of the grace, and after
    // the grace it is refused like any HARD limit.
    await testPrisma().quotaLimit.create({ data: { organizationId: org.organizationId, eventType: 'render', limitValue: 5, mode: 'HARD', resetWindow: 'month', gracePeriodSeconds: 3600 } });
    await api.post('/api/v1/events', org.apiKey, { events: [event('r-1', { event_type: 'render', quantity: 5, customer_external_id: 'c' })] });
    const inGrace = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'c', event_type: 'render', quantity: 2 });
    expect(inGrace.body).toMatchObject({ allowed: true, mode: 'HARD', used: '5', remaining: '0', reason: 'past the HARD limit of 5 (5 used, 2 asked), let in during its grace period' });
    await testPrisma().quotaCounter.updateMany({ where: { customerExternalId: 'c', quotaLimit: { organizationId: org.organizationId, eventType: 'render' } }, data: { limitReachedAt: new Date(Date.now() - 2 * 3600_000) } });
    const graceOver = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'c', event_type: 'render', quantity: 2 });
    expect(graceOver.body).toMatchObject({ allowed: false, reason: `the HARD limit of 5 would be passed (5 used, 2 asked); it resets at ${resetAt}` });

    const bad = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'c', event_type: 'export', qty: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.details.field).toBe('qty');
  });
});

describe('POST /api/v1/rating/calculate', () => {
  test('prices tokens exactly at the rate in effect now and names the rate', async () => {
    const org = await createTestOrganization('api-rating');
    const day = 86_400_000;
    const now = Date.now();
    const rates = testPrisma().vendorRate;
    await rates.create({
      data: { organizationId: org.organizationId, vendor: 'openai', model: 'gpt-4o', inputPerMillionTokens: '5', outputPerMillionTokens: '15', effectiveFrom: new Date(now - 30 * day), effectiveTo: new Date(now - day) },
    });
    const current = await rates.create({
      data: { organizationId: org.organizationId, vendor: 'openai', model: 'gpt-4o', inputPerMillionTokens: '2.5', outputPerMillionTokens: '10', effectiveFrom: new Date(now - day) },
    });
    await rates.create({
      data: { organizationId: org.organizationId, vendor: 'openai', model: 'gpt-4o', inputPerMillionTokens: '1', outputPerMillionTokens: '1', effectiveFrom: new Date(now + day) },
    });

    const res = await api.post('/api/v1/rating/calculate', org.apiKey, { vendor: 'openai', model: 'gpt-4o', input_tokens: 1_234_567, output_tokens: 89 });
    expect(res.status).toBe(200);
    // 2.5 × 1,234,567 / 1e6 + 10 × 89 / 1e6 = 3.0864175 + 0.00089
    expect(res.body).toMatchObject({
      cost: '3.0873075',
      currency: 'usd',
      rate: { id: current.id, input_per_million_tokens: '2.5', output_per_million_tokens: '10', effective_from: current.effectiveFrom.toISOString(), effective_to: null },
    });

    const missing = await api.post('/api/v1/rating/calculate', org.apiKey, { vendor: 'openai', model: 'unknown', input_tokens: 1, output_tokens: 1 });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('RATE_NOT_FOUND');

    const other = await createTestOrganization('api-rating-other');
    const isolated = await api.post('/api/v1/rating/calculate', other.apiKey, { vendor: 'openai', model: 'gpt-4o', input_tokens: 1, output_tokens: 1 });
    expect(isolated.status).toBe(404);

    const wrong = await api.post('/api/v1/rating/calculate', org.apiKey, { vendor: 'openai', model: 'gpt-4o', input_tokens: 1.5, output_tokens: 1 });
    expect(wrong.status).toBe(400);
    expect(wrong.body.details.field).toBe('input_tokens');
  });
});

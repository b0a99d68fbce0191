import { createApiKey } from '../prisma/api-keys';
import { startTestApi, type TestApi } from './api-test-app';
import { createBillingCatalog } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';

// Issue 14, point 4: plans carry features (a switch, a numeric limit, a config value); POST /entitlements/check answers
// for a feature from the customer's plans, with a reason, the plans that would allow it, and a cost preview.

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

test('features set on plans decide the check: allowed with the granting plan, refused with a reason and the plans an upgrade would bring; audited', async () => {
  const prisma = testPrisma();
  const org = await createTestOrganization('plan-features');
  // basic (30/month) is the customer's plan, pro (60/month) is not.
  const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: new Date('2026-01-01T00:00:00Z'), anchorDay: 1 });
  const customer = catalog.customerExternalId;
  const put = (plan: string, feature: string, body: object) => api.put(`/api/v1/plans/${plan}/features/${feature}`, org.apiKey, body);

  expect((await put('basic', 'sso', { kind: 'boolean', enabled: false })).status).toBe(201);
  expect((await put('pro', 'sso', { kind: 'boolean', enabled: true })).status).toBe(201);
  expect((await put('basic', 'seats', { kind: 'limit', limit: '5' })).status).toBe(201);
  expect((await put('pro', 'seats', { kind: 'limit', limit: '50' })).status).toBe(201);
  expect((await put('basic', 'model', { kind: 'config', value: 'gpt-4o-mini' })).status).toBe(201);
  const replaced = await put('basic', 'seats', { kind: 'limit', limit: '10' });
  expect([replaced.status, replaced.body]).toEqual([200, expect.objectContaining({ plan_key: 'basic', feature: 'seats', kind: 'limit', limit: '10', enabled: null, value: null })]);

  const check = (body: object) => api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: customer, ...body });
  const sso = await check({ feature: 'sso' });
  expect(sso.status).toBe(200);
  expect(sso.body).toMatchObject({
    allowed: false,
    reason: 'plan basic has sso switched off',
    feature: 'sso',
    kind: 'boolean',
    plan_key: 'basic',
    upgrade_options: [{ plan_key: 'pro', plan_name: 'Pro', reason: 'plan pro includes sso' }],
  });
  expect((await check({ feature: 'seats', quantity: '10' })).body).toMatchObject({ allowed: true, limit: '10', plan_key: 'basic', upgrade_options: [] });
  expect((await check({ feature: 'seats', quantity: 11 })).body).toMatchObject({
    allowed: false,
    reason: 'plan basic allows seats up to 10; 11 is more',
    upgrade_options: [{ plan_key: 'pro', reason: 'plan pro allows seats up to 50 (asked: 11)' }],
  });
  expect((await check({ feature: 'model' })).body).toMatchObject({ allowed: true, kind: 'config', value: 'gpt-4o-mini' });
  expect((await check({ feature: 'audit-export' })).body).toMatchObject({ allowed: false, kind: null, plan_key: null, reason: 'plan basic does not include audit-export', upgrade_options: [] });
  const stranger = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'nobody', feature: 'sso' });
  expect(stranger.body).toMatchObject({ allowed: false, reason: 'no active subscription, so no plan grants sso', upgrade_options: [{ plan_key: 'pro' }] });

  // Removing the feature from the plan takes it away; the audit has every change with who made it.
  const removed = await api.delete('/api/v1/plans/basic/features/model', org.apiKey);
  expect([removed.status, removed.body.value]).toEqual([200, 'gpt-4o-mini']);
  expect((await check({ feature: 'model' })).body.allowed).toBe(false);
  const audit = await prisma.auditLog.findMany({ where: { organizationId: org.organizationId, entityType: 'plan_feature' }, orderBy: { id: 'asc' } });
  expect(audit.map((a) => a.action)).toEqual([
    'plan_feature.created',
    'plan_feature.created',
    'plan_feature.created',
    'plan_feature.created',
    'plan_feature.created',
    'plan_feature.updated',
    'plan_feature.deleted',
  ]);
  expect(audit[5]).toMatchObject({ actorType: 'api_key', actorId: org.apiKeyId, before: { limit: '5' }, after: { limit: '10' } });

  // A plan in another currency is no upgrade (a plan change keeps the currency).
  const euro = await prisma.plan.create({ data: { organizationId: org.organizationId, key: 'euro-pro', name: 'Euro Pro', currency: 'eur', interval: 'month', baseFee: '1' } });
  expect((await put('euro-pro', 'sso', { kind: 'boolean', enabled: true })).status).toBe(201);
  expect((await check({ feature: 'sso' })).body.upgrade_options.map((o: { plan_key: string }) => o.plan_key)).toEqual(['pro']);
  expect(euro.currency).toBe('eur');

  // A change to pro taking effect next week: the subscription row names pro already (as the change workflow leaves
  // it), but until then the customer is on basic, as billing counts it.
  const nextWeek = new Date(Date.now() + 7 * 86_400_000);
  await prisma.subscriptionPlanChange.create({
    data: { organizationId: org.organizationId, subscriptionId: catalog.subscriptionId, fromPlanId: catalog.basicPlanId, toPlanId: catalog.proPlanId, effectiveAt: nextWeek, requestKey: 'later' },
  });
  await prisma.subscription.update({ where: { id: catalog.subscriptionId }, data: { planId: catalog.proPlanId } });
  expect((await check({ feature: 'sso' })).body).toMatchObject({ allowed: false, plan_key: 'basic' });

  // A cancellation taking effect next week: still entitled until then; once it has, nothing.
  await prisma.subscription.update({ where: { id: catalog.subscriptionId }, data: { planId: catalog.basicPlanId, status: 'canceled', canceledAt: nextWeek } });
  expect((await check({ feature: 'seats', quantity: '1' })).body).toMatchObject({ allowed: true, plan_key: 'basic' });
  await prisma.subscription.update({ where: { id: catalog.subscriptionId }, data: { canceledAt: new Date(Date.now() - 1000) } });
  expect((await check({ feature: 'seats', quantity: '1' })).body).toMatchObject({ allowed: false, reason: 'no active subscription, so no plan grants seats' });
});

test('a check carries the cost of the call it is about, at the rate in effect, or says why it cannot', async () => {
  const org = await createTestOrganization('plan-features-cost');
  await testPrisma().vendorRate.create({ data: { organizationId: org.organizationId, vendor: 'openai', model: 'gpt-4o', inputPerMillionTokens: '2.5', outputPerMillionTokens: '10', effectiveFrom: new Date(Date.now() - 60_000) } });
  const estimated_usage = { vendor: 'openai', model: 'gpt-4o', input_tokens: 2_000, output_tokens: 500 };
  const quota = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'acme', event_type: 'llm_call', estimated_usage });
  expect(quota.body).toMatchObject({ allowed: true, reason: 'no quota limit on llm_call for acme', cost_preview: { cost: '0.01', currency: 'usd' } });
  const unknown = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'acme', feature: 'sso', estimated_usage: { ...estimated_usage, model: 'o9' } });
  expect(unknown.body).toMatchObject({ cost_preview: null, cost_preview_error: 'No rate in effect for openai/o9' });
});

test('bad input is a 400 naming the field; read keys list features but do not set them', async () => {
  const org = await createTestOrganization('plan-features-bad');
  await createBillingCatalog(testPrisma(), org.organizationId, { startDate: new Date('2026-01-01T00:00:00Z'), anchorDay: 1 });
  const cases: [string, object, string][] = [
    ['/api/v1/plans/basic/features/sso', { kind: 'boolean' }, 'enabled'],
    ['/api/v1/plans/basic/features/sso', { kind: 'limit', limit: '-1' }, 'limit'],
    ['/api/v1/plans/basic/features/sso', { kind: 'flag', enabled: true }, 'kind'],
    ['/api/v1/plans/basic/features/Bad%20Key', { kind: 'boolean', enabled: true }, 'feature'],
  ];
  for (const [path, body, field] of cases) {
    const res = await api.put(path, org.apiKey, body);
    expect([path, JSON.stringify(body), res.status, res.body.details?.field]).toEqual([path, JSON.stringify(body), 400, field]);
  }
  expect((await api.put('/api/v1/plans/nope/features/sso', org.apiKey, { kind: 'boolean', enabled: true })).status).toBe(404);
  expect((await api.delete('/api/v1/plans/basic/features/never-set', org.apiKey)).status).toBe(404);
  const both = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'acme', event_type: 'x', feature: 'sso' });
  expect([both.status, both.body.details?.field]).toEqual([400, 'feature']);
  const neither = await api.post('/api/v1/entitlements/check', org.apiKey, { customer_external_id: 'acme' });
  expect([neither.status, neither.body.details?.field]).toEqual([400, 'feature']);

  const reader = await createApiKey(testPrisma(), org.organizationId, 'reader', { type: 'system', id: 'test' }, ['read']);
  expect((await api.get('/api/v1/plans/basic/features', reader.key)).body).toEqual({ data: [] });
  expect((await api.put('/api/v1/plans/basic/features/sso', reader.key, { kind: 'boolean', enabled: true })).status).toBe(403);
});

test('changes to one plan feature sent at once take turns: one is the creation, the others updates, and two removals are one removal and a 404', async () => {
  const prisma = testPrisma();
  const org = await createTestOrganization('plan-features-race');
  await createBillingCatalog(prisma, org.organizationId, { startDate: new Date('2026-01-01T00:00:00Z'), anchorDay: 1 });
  const path = '/api/v1/plans/basic/features/seats';
  const puts = await Promise.all(Array.from({ length: 8 }, (_, i) => api.put(path, org.apiKey, { kind: 'limit', limit: String(i + 1) })));
  expect(puts.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
  const stored = await prisma.planFeature.findMany({ where: { organizationId: org.organizationId, feature: 'seats' } });
  expect(stored).toHaveLength(1);
  const audit = await prisma.auditLog.findMany({ where: { organizationId: org.organizationId, entityType: 'plan_feature' }, orderBy: { id: 'asc' } });
  expect(audit[0]!.action).toBe('plan_feature.created');
  expect(audit.slice(1).every((a) => a.action === 'plan_feature.updated')).toBe(true);
  // The last change written is the one stored.
  expect(audit.at(-1)!.after).toMatchObject({ limit: stored[0]!.limitValue!.toFixed(0) });

  const removals = await Promise.all([api.delete(path, org.apiKey), api.delete(path, org.apiKey)]);
  expect(removals.map((r) => r.status).sort()).toEqual([200, 404]);
  const deleted = await prisma.auditLog.count({ where: { organizationId: org.organizationId, entityType: 'plan_feature', action: 'plan_feature.deleted' } });
  expect(deleted).toBe(1);
});

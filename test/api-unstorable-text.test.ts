import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { createBillingCatalog } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { event, startTestApi, type TestApi } from './api-test-app';

/**
 * Text PostgreSQL cannot store — a NUL character, an unpaired surrogate — is
 * a 400 naming its field on every route (it was a 500, and a NUL in a plan
 * change's request_key reached the subscription workflow, whose step then
 * retried forever). In an event batch only the event holding it is refused.
 */
let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('api-unstorable-text');
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const stored = (keys: string[]) => testPrisma().usageEvent.count({ where: { organizationId: org.organizationId, idempotencyKey: { in: keys } } });

describe('text that cannot be stored', () => {
  test('a single event with a NUL in a property is refused by field; nothing is stored', async () => {
    const key = `nul-${randomUUID()}`;
    const res = await api.post('/api/v1/events', org.apiKey, event(key, { properties: { note: 'a\u0000b' } }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: 'VALIDATION_ERROR',
      details: { rejected: [{ index: 0, code: 'INVALID_TEXT', field: 'properties.note', message: 'properties.note contains a NUL character (U+0000), which cannot be stored' }] },
    });
    expect(await stored([key])).toBe(0);
  });

  test('in a batch, only the events holding such text are refused; the others are stored', async () => {
    const ok = `ok-${randomUUID()}`;
    const badCustomer = `bad-${randomUUID()}`;
    const badSurrogate = `bad-${randomUUID()}`;
    const res = await api.post('/api/v1/events', org.apiKey, {
      events: [event(ok), event(badCustomer, { customer_external_id: 'acme\u0000' }), event(badSurrogate, { properties: { emoji: 'half \uD83D' } })],
    });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected).toEqual([
      { index: 1, code: 'INVALID_TEXT', field: 'customer_external_id', message: 'customer_external_id contains a NUL character (U+0000), which cannot be stored' },
      { index: 2, code: 'INVALID_TEXT', field: 'properties.emoji', message: 'properties.emoji contains an unpaired UTF-16 surrogate, which is not valid Unicode' },
    ]);
    expect(await stored([ok, badCustomer, badSurrogate])).toBe(1);
  });

  test('an idempotency key with a NUL is refused too, through the Express route as well as the fast lane', async () => {
    const key = `nul\u0000-${randomUUID()}`;
    const fast = await api.post('/api/v1/events', org.apiKey, event(key));
    // A compressed body goes through Express rather than the fast lane.
    const viaExpress = await fetch(`${api.base}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${org.apiKey}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(event(key))),
    });
    for (const res of [fast, { status: viaExpress.status, body: await viaExpress.json() }]) {
      expect(res.status).toBe(400);
      expect(res.body.details.rejected).toEqual([expect.objectContaining({ index: 0, code: 'INVALID_TEXT', field: 'idempotency_key' })]);
    }
  });

  test('other routes answer 400 naming the field: body, query and path', async () => {
    const customer = await api.post('/api/v1/customers', org.apiKey, { external_id: `c-${randomUUID()}`, name: 'Acme\u0000 Ltd' });
    expect(customer.status).toBe(400);
    expect(customer.body).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'name', issues: [{ code: 'INVALID_TEXT', field: 'name' }] } });
    expect(customer.body.error).toBe('Invalid request: name contains a NUL character (U+0000), which cannot be stored');

    const query = await api.get('/api/v1/events?customer=acme%00', org.apiKey);
    expect(query.status).toBe(400);
    expect(query.body.details).toMatchObject({ field: 'customer' });

    const path = await api.get('/api/v1/customers/acme%00', org.apiKey);
    expect(path.status).toBe(400);
    expect(path.body.details).toMatchObject({ field: 'path' });
  });

  test('a plan change whose request_key holds a NUL is refused before it reaches the workflow', async () => {
    const catalog = await createBillingCatalog(testPrisma(), org.organizationId, { startDate: new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1)), anchorDay: 1 });
    const res = await api.post(`/api/v1/subscriptions/${catalog.subscriptionId}/change-plan`, org.apiKey, { plan: 'pro', request_key: 'retry-\u0000' });
    expect(res.status).toBe(400);
    expect(res.body.details).toMatchObject({ field: 'request_key', issues: [{ code: 'INVALID_TEXT' }] });
    expect(await testPrisma().subscriptionPlanChange.count({ where: { subscriptionId: catalog.subscriptionId } })).toBe(0);
  });
});

import { randomUUID } from 'node:crypto';
import { revokeApiKey } from '../prisma/api-keys';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { event, startTestApi, type TestApi } from './api-test-app';

let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

beforeAll(async () => {
  api = await startTestApi({ bodyLimit: '64kb' });
  org = await createTestOrganization('api-http');
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

function expectErrorShape(body: { error: unknown; code: unknown }, code: string): void {
  expect(body.code).toBe(code);
  expect(typeof body.error).toBe('string');
  expect((body.error as string).length).toBeGreaterThan(5);
}

describe('bad input gets a clear 4xx, never a 500', () => {
  test('malformed JSON → 400 INVALID_JSON', async () => {
    const res = await api.post('/api/v1/events', org.apiKey, '{"events": [ {"idempotency_key": ');
    expect(res.status).toBe(400);
    expectErrorShape(res.body, 'INVALID_JSON');
  });

  test('a body over the limit → 413 saying so', async () => {
    const res = await api.post('/api/v1/events', org.apiKey, { events: [event('big', { properties: { blob: 'x'.repeat(100_000) } })] });
    expect(res.status).toBe(413);
    expectErrorShape(res.body, 'PAYLOAD_TOO_LARGE');
    expect(res.body.error).toMatch(/larger than/);
  });

  test('a Content-Type other than JSON → 415', async () => {
    const res = await api.post('/api/v1/events', org.apiKey, 'idempotency_key=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expectErrorShape(res.body, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('a POST with no body at all: fine where the operation takes none, a 400 naming what is missing where it takes one (not a 415)', async () => {
    const bare = (path: string) => fetch(api.base + path, { method: 'POST', headers: { authorization: `Bearer ${org.apiKey}` } }).then(async (r) => ({ status: r.status, body: await r.json() }));
    // Found by schemathesis: rotate-secret and redeliver are documented without a body.
    expect(await bare('/api/v1/webhook-endpoints/00000000-0000-4000-8000-000000000000/rotate-secret')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await bare('/api/v1/webhook-deliveries/00000000-0000-4000-8000-000000000000/redeliver')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await bare('/api/v1/meters')).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR' } });
    // A change with every field optional still needs a body (schemathesis: an empty PATCH was a 200)…
    expect(await bare('/api/v1/unpriced-events/rerate')).toMatchObject({ status: 400, body: { error: 'Invalid request: a JSON body is required' } });
    // …except where the document says the body is optional: a cancellation at the period end.
    expect(await bare('/api/v1/subscriptions/00000000-0000-4000-8000-000000000000/cancel')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });

  test('wrong shapes of the envelope → 400 naming the problem', async () => {
    const bare = await api.post('/api/v1/events', org.apiKey, [event('a')]);
    expect(bare.status).toBe(400);
    expect(bare.body.error).toMatch(/not a bare array/);

    const notArray = await api.post('/api/v1/events', org.apiKey, { events: 'lots' });
    expect(notArray.status).toBe(400);
    expect(notArray.body).toMatchObject({ code: 'INVALID_TYPE', details: { field: 'events' } });

    const extra = await api.post('/api/v1/events', org.apiKey, { events: [event('a')], dry_run: true });
    expect(extra.status).toBe(400);
    expect(extra.body).toMatchObject({ code: 'UNKNOWN_FIELD', details: { field: 'dry_run' } });

    const tooMany = await api.post('/api/v1/events', org.apiKey, { events: Array.from({ length: 1001 }, (_, i) => ({ idempotency_key: `${i}` })) });
    expect(tooMany.status).toBe(400);
    expectErrorShape(tooMany.body, 'TOO_MANY_EVENTS');

    const scalar = await api.post('/api/v1/events', org.apiKey, '"just a string"');
    expect(scalar.status).toBe(400);
  });

  test('wrong types and unknown fields in a single event → 400 naming the field', async () => {
    const wrongType = await api.post('/api/v1/events', org.apiKey, event('t', { timestamp: 12345 }));
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.details.rejected).toEqual([expect.objectContaining({ index: 0, code: 'INVALID_TYPE', field: 'timestamp' })]);

    const unknown = await api.post('/api/v1/events', org.apiKey, event('u', { customer: 'x' }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.details.rejected[0]).toMatchObject({ code: 'UNKNOWN_FIELD', field: 'customer' });
    expect(unknown.body.details.rejected[0].message).toMatch(/customer/);
  });

  test('unknown routes and bad query parameters are JSON 4xx', async () => {
    const route = await api.get('/api/v2/nothing', org.apiKey);
    expect(route.status).toBe(404);
    expectErrorShape(route.body, 'NOT_FOUND');

    const query = await api.get('/api/v1/events?colour=red', org.apiKey);
    expect(query.status).toBe(400);
    expect(query.body.details.field).toBe('colour');

    const batch = await api.get('/api/v1/batches/not-a-uuid', org.apiKey);
    expect(batch.status).toBe(404);
    expect((await api.get(`/api/v1/batches/${randomUUID()}`, org.apiKey)).status).toBe(404);
  });
});

describe('authentication', () => {
  test('missing, malformed, unknown and revoked keys get 401', async () => {
    expectErrorShape((await api.get('/api/v1/events', null)).body, 'UNAUTHORIZED');
    const malformed = await fetch(`${api.base}/api/v1/events`, { headers: { authorization: 'Basic abc' } });
    expect(malformed.status).toBe(401);
    expect((await api.get('/api/v1/events', 'lf_not-a-real-key')).status).toBe(401);

    const own = await createTestOrganization('api-revoke');
    // A separate instance whose key cache is off, so revocation shows at once.
    const uncached = await startTestApi({ apiKeyCacheMs: 0 });
    try {
      expect((await uncached.get('/api/v1/events', own.apiKey)).status).toBe(200);
      await revokeApiKey(testPrisma(), own.organizationId, own.apiKeyId, { type: 'system', id: 'test' });
      const revoked = await uncached.get('/api/v1/events', own.apiKey);
      expect(revoked.status).toBe(401);
      expect(revoked.body.error).toMatch(/revoked/);
    } finally {
      await uncached.close();
    }
    const key = await testPrisma().apiKey.findUniqueOrThrow({ where: { id: own.apiKeyId } });
    expect(key.lastUsedAt).not.toBeNull();
  });
});

describe('rate limits', () => {
  test('the organization\'s budget per second answers 429 with Retry-After and the documented body', async () => {
    const own = await createTestOrganization('api-429');
    const limited = await startTestApi({ rateLimitPerOrganizationPerSecond: 3 });
    try {
      // Sent together, so all four fall in one second.
      const answers = await Promise.all(Array.from({ length: 4 }, () => limited.get('/api/v1/events', own.apiKey)));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 429]);
      const last = answers.find((a) => a.status === 429)!;
      const retryAfter = Number(last.headers.get('retry-after'));
      expect(retryAfter).toBe(1);
      expect(last.body).toMatchObject({
        code: 'RATE_LIMIT_EXCEEDED',
        details: { scope: 'organization', limit: 3, remaining: 0, retry_after: retryAfter, reset_at: expect.any(String) },
      });
      expect(last.body.error).toMatch(/3 requests per second for this organization/);
      expect(Number.isNaN(Date.parse(last.body.details.reset_at))).toBe(false);

      // Another organization's budget is its own.
      const other = await createTestOrganization('api-429-other');
      expect((await limited.get('/api/v1/events', other.apiKey)).status).toBe(200);

      // A second later the budget is back.
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await limited.get('/api/v1/events', own.apiKey)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  test('the operator sets an organization\'s own limit (0 = none) and a key\'s own limit', async () => {
    const prisma = testPrisma();
    const tight = await createTestOrganization('api-429-tight');
    const unlimited = await createTestOrganization('api-429-unlimited');
    await prisma.organization.update({ where: { id: tight.organizationId }, data: { rateLimitPerSecond: 2 } });
    await prisma.organization.update({ where: { id: unlimited.organizationId }, data: { rateLimitPerSecond: 0 } });
    const keyed = await createTestOrganization('api-429-key');
    await prisma.apiKey.update({ where: { id: keyed.apiKeyId }, data: { rateLimitPerSecond: 1 } });
    const { createApiKey } = await import('../prisma/api-keys');
    const sibling = await createApiKey(prisma, keyed.organizationId, 'sibling', { type: 'system', id: 'test' }, ['read']);
    const limited = await startTestApi({ rateLimitPerOrganizationPerSecond: 4 });
    try {
      const burst = (key: string, n: number) => Promise.all(Array.from({ length: n }, () => limited.get('/api/v1/events', key))).then((r) => r.map((a) => a.status).sort());
      expect(await burst(tight.apiKey, 3)).toEqual([200, 200, 429]);
      expect(await burst(unlimited.apiKey, 8)).toEqual(Array(8).fill(200));
      const [ok, refused] = await Promise.all([limited.get('/api/v1/events', keyed.apiKey), limited.get('/api/v1/events', keyed.apiKey)]).then((r) => r.sort((a, b) => a.status - b.status));
      expect([ok!.status, refused!.status]).toEqual([200, 429]);
      expect(refused!.body.details).toMatchObject({ scope: 'key', limit: 1 });
      // The organization's other key is held only to the organization's budget.
      expect((await limited.get('/api/v1/events', sibling.key)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  test('the per-IP budget applies to requests whose key needs a lookup, before it', async () => {
    const limited = await startTestApi({ rateLimitPerIpPerSecond: 2 });
    try {
      const statuses: number[] = [];
      // Three made-up keys: each needs a lookup. (One bad key repeated is answered from the cache, no lookup, no budget.)
      for (let i = 0; i < 3; i++) statuses.push((await limited.get('/api/v1/events', `lf_unknown_${i}`)).status);
      expect(statuses).toEqual([401, 401, 429]);
      expect((await limited.get('/api/v1/events', 'lf_unknown_0')).status).toBe(401);
    } finally {
      await limited.close();
    }
  });

  test('a verified key is held to its organization\'s budget, not its address\'s', async () => {
    const own = await createTestOrganization('api-429-ip-known');
    const limited = await startTestApi({ rateLimitPerIpPerSecond: 2, rateLimitPerOrganizationPerSecond: 5 });
    try {
      // The first request looks the key up (spending an IP point); the rest find it verified in the cache.
      const first = await limited.get('/api/v1/events', own.apiKey);
      const rest = await Promise.all(Array.from({ length: 5 }, () => limited.get('/api/v1/events', own.apiKey)));
      expect([first.status, ...rest.map((r) => r.status).sort()]).toEqual([200, 200, 200, 200, 200, 429]);
      expect(first.headers.get('ratelimit-limit')).toBe('5');
      expect(rest.find((r) => r.status === 429)!.body.details).toMatchObject({ scope: 'organization', limit: 5 });
    } finally {
      await limited.close();
    }
  });

  test('API processes of one deployment divide a limit among themselves; a stopped one leaves', async () => {
    const own = await createTestOrganization('api-429-shared');
    const group = `shared-${randomUUID()}`;
    const a = await startTestApi({ rateLimitPerOrganizationPerSecond: 4, apiInstanceGroup: group });
    const b = await startTestApi({ rateLimitPerOrganizationPerSecond: 4, apiInstanceGroup: group });
    try {
      // The first request of each starts its heartbeat; wait until both rows are there and one more beat has counted them.
      await Promise.all([a.get('/health', null), a.get('/api/v1/events', own.apiKey), b.get('/api/v1/events', own.apiKey)]);
      const live = async () => Number((await a.pgPool.query(`SELECT count(*) AS n FROM api_instances WHERE starts_with(id, $1)`, [`${group}:`])).rows[0].n);
      await waitUntil(async () => (await live()) === 2);
      await new Promise((r) => setTimeout(r, 5_500));
      // Each process keeps ⌈4 ÷ 2⌉ = 2 per second: together the organization gets its 4.
      const burst = (api: TestApi) => Promise.all(Array.from({ length: 3 }, () => api.get('/api/v1/events', own.apiKey))).then((r) => r.map((x) => x.status).sort());
      const [fromA, fromB] = await Promise.all([burst(a), burst(b)]);
      expect(fromA).toEqual([200, 200, 429]);
      expect(fromB).toEqual([200, 200, 429]);
      await b.close();
      await waitUntil(async () => (await live()) === 1);
    } finally {
      await a.close();
      await b.close().catch(() => undefined);
    }
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('service endpoints', () => {
  test('/health and /ready answer without a key', async () => {
    const health = await api.get('/health', null);
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await api.get('/ready', null);
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready', checks: { database: 'ok', temporal: 'ok' } } });
  });

  test('/api/openapi.json is an OpenAPI 3.1 document built from the validating schemas', async () => {
    const res = await api.get('/api/openapi.json', null);
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/v1/events', '/api/v1/batches/{id}', '/api/v1/rating/calculate', '/api/v1/entitlements/check', '/health', '/ready']),
    );
    const eventSchema = doc.components.schemas.UsageEventInput;
    expect(Object.keys(eventSchema.properties)).toEqual(
      expect.arrayContaining(['idempotency_key', 'customer_external_id', 'event_type', 'quantity', 'timestamp', 'feature', 'revenue_amount', 'currency', 'vendor_usage', 'properties']),
    );
    expect(eventSchema.required).toEqual(expect.arrayContaining(['idempotency_key', 'customer_external_id', 'event_type', 'timestamp']));
    expect(eventSchema.additionalProperties).toBe(false);
    const post = doc.paths['/api/v1/events'].post;
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '413', '415', '429']));
    expect(doc.components.schemas.Error.properties).toHaveProperty('code');
  });
});

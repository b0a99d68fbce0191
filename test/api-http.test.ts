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
  test('the per-key limit answers 429 with Retry-After and the documented body', async () => {
    const own = await createTestOrganization('api-429');
    const limited = await startTestApi({ rateLimitPerKeyPerMinute: 3 });
    try {
      const statuses: number[] = [];
      let last: Awaited<ReturnType<TestApi['get']>> | undefined;
      for (let i = 0; i < 4; i++) {
        last = await limited.get('/api/v1/events', own.apiKey);
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      const retryAfter = Number(last?.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(last?.body).toMatchObject({
        code: 'RATE_LIMIT_EXCEEDED',
        details: { limit: 3, remaining: 0, retry_after: retryAfter, reset_at: expect.any(String) },
      });
      expect(Number.isNaN(Date.parse(last?.body.details.reset_at))).toBe(false);

      // The budget is per key: another organization's key is unaffected.
      const other = await createTestOrganization('api-429-other');
      expect((await limited.get('/api/v1/events', other.apiKey)).status).toBe(200);

      // And it lives in PostgreSQL, so a second API instance sees the same spent budget.
      const sibling = await startTestApi({ rateLimitPerKeyPerMinute: 3 });
      try {
        expect((await sibling.get('/api/v1/events', own.apiKey)).status).toBe(429);
      } finally {
        await sibling.close();
      }
    } finally {
      await limited.close();
    }
  });

  test('the per-IP limit applies before authentication', async () => {
    const limited = await startTestApi({ rateLimitPerIpPerMinute: 2, rateLimitPerKeyPerMinute: 0 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await limited.get('/api/v1/events', 'lf_unknown')).status);
      expect(statuses).toEqual([401, 401, 429]);
    } finally {
      await limited.close();
    }
  });

  test('a known key (cached after its first request) is still held to the per-IP limit', async () => {
    const own = await createTestOrganization('api-429-ip-known');
    // Behind a trusted proxy, so this test's client has an IP (and IP budget) of its own.
    const limited = await startTestApi({ rateLimitPerIpPerMinute: 2, rateLimitPerKeyPerMinute: 5, trustProxy: true });
    const client = { 'X-Forwarded-For': '198.51.100.7' };
    try {
      const responses = [];
      for (let i = 0; i < 3; i++) responses.push(await limited.get('/api/v1/events', own.apiKey, client));
      expect(responses.map((r) => r.status)).toEqual([200, 200, 429]);
      // The two allowed requests carry the key's budget; the refusal names the IP budget's limit.
      expect(responses.map((r) => r.headers.get('ratelimit-limit'))).toEqual(['5', '5', '2']);
      expect(responses[2]!.body).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', details: { limit: 2 } });
    } finally {
      await limited.close();
    }
  });
});

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

import { randomUUID } from 'node:crypto';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { event, startTestApi, type TestApi } from './api-test-app';

let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('api-ingest');
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const storedCount = (organizationId: string, keys: string[]) =>
  testPrisma().usageEvent.count({ where: { organizationId, idempotencyKey: { in: keys } } });

describe('POST /api/v1/events', () => {
  test('a single event is accepted, stored with exact quantity with its request row, and waits for the batcher', async () => {
    const key = `single-${randomUUID()}`;
    const res = await api.post('/api/v1/events', org.apiKey, event(key, { quantity: '2.5', properties: { region: 'eu' } }));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ batch_id: expect.any(String), accepted: 1, duplicates: 0, duplicate_keys: [], rejected: [] });

    const stored = await testPrisma().usageEvent.findFirstOrThrow({ where: { organizationId: org.organizationId, idempotencyKey: key } });
    expect(stored.quantity.toString()).toBe('2.5');
    expect(stored.properties).toEqual({ region: 'eu' });
    expect(stored.batchId).toBe(res.body.batch_id);
    expect(stored.status).toBe('pending');

    // No batcher runs in this file: the request waits, unclaimed, and no workflow was started for it.
    const batch = await testPrisma().ingestBatch.findUniqueOrThrow({ where: { id: res.body.batch_id } });
    expect(batch).toMatchObject({ received: 1, accepted: 1, duplicates: 0, rejected: 0, processingBatchId: null, apiKeyId: org.apiKeyId });

    expect(batch.createdAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    // The request row is the record of the acceptance; the audit log gets no row per request.
    expect(await testPrisma().auditLog.count({ where: { organizationId: org.organizationId, entityId: batch.id } })).toBe(0);
  });

  test('invalid events are reported by index, code and field while the valid ones are accepted', async () => {
    const ok1 = `v-ok1-${randomUUID()}`;
    const ok2 = `v-ok2-${randomUUID()}`;
    const events = [
      event(ok1),
      { ...event(`v-missing-${randomUUID()}`), customer_external_id: undefined },
      event(`v-unknown-${randomUUID()}`, { colour: 'red' }),
      event(`v-type-${randomUUID()}`, { quantity: true }),
      event(`v-future-${randomUUID()}`, { timestamp: new Date(Date.now() + 10 * 60_000).toISOString() }),
      event(`v-old-${randomUUID()}`, { timestamp: new Date(Date.now() - 36 * 86_400_000).toISOString() }),
      event(`v-props-${randomUUID()}`, { properties: { blob: 'x'.repeat(9000) } }),
      event(`v-scale-${randomUUID()}`, { quantity: '1.1234567' }),
      event(`v-nested-${randomUUID()}`, { vendor_usage: [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 1, output_tokens: 2, cached: 1 }] }),
      event(`v-currency-${randomUUID()}`, { revenue_amount: '1.00' }),
      event(ok2, { revenue_amount: '0.25', currency: 'USD', vendor_usage: [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 10, output_tokens: 5 }] }),
    ];
    const res = await api.post('/api/v1/events', org.apiKey, { events });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(2);
    const byIndex = Object.fromEntries(res.body.rejected.map((r: { index: number; code: string; field: string }) => [r.index, [r.code, r.field]]));
    expect(byIndex).toEqual({
      1: ['MISSING_FIELD', 'customer_external_id'],
      2: ['UNKNOWN_FIELD', 'colour'],
      3: ['INVALID_TYPE', 'quantity'],
      4: ['TIMESTAMP_IN_FUTURE', 'timestamp'],
      5: ['TIMESTAMP_TOO_OLD', 'timestamp'],
      6: ['PROPERTIES_TOO_LARGE', 'properties'],
      7: ['INVALID_VALUE', 'quantity'],
      8: ['UNKNOWN_FIELD', 'vendor_usage.0.cached'],
      9: ['MISSING_FIELD', 'currency'],
    });
    for (const r of res.body.rejected) expect(r.message).toEqual(expect.any(String));
    expect(await storedCount(org.organizationId, [ok1, ok2])).toBe(2);
    const withRevenue = await testPrisma().usageEvent.findFirstOrThrow({ where: { organizationId: org.organizationId, idempotencyKey: ok2 } });
    expect(withRevenue.currency).toBe('usd');
    expect(withRevenue.revenueAmount?.toString()).toBe('0.25');
    expect(withRevenue.quantity.toString()).toBe('1');
    expect(withRevenue.vendorUsage).toEqual([{ vendor: 'openai', model: 'gpt-4o', input_tokens: 10, output_tokens: 5 }]);
  });

  test('a request whose every event is invalid gets 400 with the rejected list', async () => {
    const res = await api.post('/api/v1/events', org.apiKey, { events: [{ idempotency_key: 'x' }, event('y', { quantity: -1 })] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_ERROR');
    expect(res.body.details.rejected.map((r: { index: number }) => r.index)).toEqual([0, 1]);
  });

  test('a key repeated inside the batch and a key already stored are duplicates, stored once', async () => {
    const a = `d-a-${randomUUID()}`;
    const b = `d-b-${randomUUID()}`;
    const first = await api.post('/api/v1/events', org.apiKey, { events: [event(a), event(b), event(a, { quantity: 7 })] });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ accepted: 2, duplicates: 1, duplicate_keys: [a] });

    const again = await api.post('/api/v1/events', org.apiKey, { events: [event(a), event(b)] });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(again.body.duplicate_keys.sort()).toEqual([a, b].sort());
    const batch = await testPrisma().ingestBatch.findUniqueOrThrow({ where: { id: again.body.batch_id } });
    expect(batch).toMatchObject({ accepted: 0, duplicates: 2, processingBatchId: null });
    // Nothing accepted, nothing to process: the request is done at once.
    const status = await api.get(`/api/v1/batches/${again.body.batch_id}`, org.apiKey);
    expect(status.body).toMatchObject({ status: 'processed', accepted: 0, rated: 0, processing_batch: null, workflow_id: null });

    const stored = await testPrisma().usageEvent.findMany({ where: { organizationId: org.organizationId, idempotencyKey: { in: [a, b] } } });
    expect(stored).toHaveLength(2);
    expect(stored.find((e) => e.idempotencyKey === a)?.quantity.toString()).toBe('1');
  });

  test('the default body limit takes a full request: 1,000 events with 8 KB of properties each', async () => {
    const prefix = `max-${randomUUID()}`;
    // {"blob":"…"} with 8,180 characters is 8,191 bytes of JSON, just under the 8 KB cap.
    const events = Array.from({ length: 1000 }, (_, i) => event(`${prefix}-${i}`, { properties: { blob: 'x'.repeat(8180) } }));
    const res = await api.post('/api/v1/events', org.apiKey, { events });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 1000, duplicates: 0, rejected: [] });
  });

  test('50 concurrent posts of the same batch store each key exactly once', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `c-${i}-${randomUUID()}`);
    const body = { events: keys.map((k) => event(k)) };
    const results = await Promise.all(Array.from({ length: 50 }, () => api.post('/api/v1/events', org.apiKey, body)));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(202));
    const accepted = results.reduce((sum, r) => sum + r.body.accepted, 0);
    const duplicates = results.reduce((sum, r) => sum + r.body.duplicates, 0);
    expect(accepted).toBe(keys.length);
    expect(duplicates).toBe(49 * keys.length);
    expect(await storedCount(org.organizationId, keys)).toBe(keys.length);
  });
});

describe('when Temporal is unreachable', () => {
  test('events are still accepted (202): the request path makes no Temporal call; /ready says 503', async () => {
    const logged: string[] = [];
    const cut = await startTestApi({ log: (message) => logged.push(message) });
    try {
      await cut.temporal.close();
      const key = `t-${randomUUID()}`;
      const res = await cut.post('/api/v1/events', org.apiKey, event(key));
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ accepted: 1 });
      expect(await storedCount(org.organizationId, [key])).toBe(1);
      expect(logged).toEqual([]);

      const ready = await cut.get('/ready', null);
      expect(ready.status).toBe(503);
      expect(ready.body.checks.database).toBe('ok');
      expect(ready.body.checks.temporal).not.toBe('ok');
    } finally {
      await cut.close();
    }
  });
});

describe('reading back', () => {
  test('GET /api/v1/events filters and paginates with a cursor', async () => {
    const own = await createTestOrganization('api-list');
    const base = Date.now() - 3_600_000;
    const events = Array.from({ length: 5 }, (_, i) =>
      event(`l-${i}`, { timestamp: new Date(base + i * 1000).toISOString(), customer_external_id: i % 2 === 0 ? 'even' : 'odd' }),
    );
    expect((await api.post('/api/v1/events', own.apiKey, { events })).status).toBe(202);

    const page1 = await api.get('/api/v1/events?limit=2', own.apiKey);
    expect(page1.status).toBe(200);
    expect(page1.body.data.map((e: { idempotency_key: string }) => e.idempotency_key)).toEqual(['l-4', 'l-3']);
    const page2 = await api.get(`/api/v1/events?limit=2&cursor=${page1.body.next_cursor}`, own.apiKey);
    expect(page2.body.data.map((e: { idempotency_key: string }) => e.idempotency_key)).toEqual(['l-2', 'l-1']);
    const page3 = await api.get(`/api/v1/events?limit=2&cursor=${page2.body.next_cursor}`, own.apiKey);
    expect(page3.body.data.map((e: { idempotency_key: string }) => e.idempotency_key)).toEqual(['l-0']);
    expect(page3.body.next_cursor).toBeNull();

    const even = await api.get('/api/v1/events?customer=even&status=pending', own.apiKey);
    expect(even.body.data.map((e: { idempotency_key: string }) => e.idempotency_key)).toEqual(['l-4', 'l-2', 'l-0']);
    const range = await api.get(
      `/api/v1/events?from=${encodeURIComponent(new Date(base + 1000).toISOString())}&to=${encodeURIComponent(new Date(base + 3000).toISOString())}`,
      own.apiKey,
    );
    expect(range.body.data.map((e: { idempotency_key: string }) => e.idempotency_key)).toEqual(['l-2', 'l-1']);
    expect((await api.get('/api/v1/events?limit=1001', own.apiKey)).status).toBe(400);
    expect((await api.get('/api/v1/events?cursor=bogus', own.apiKey)).body.code).toBe('INVALID_CURSOR');
  });

  test('GET /api/v1/batches/:id returns the stored counts; a request no batcher has claimed yet is `accepted`', async () => {
    const posted = await api.post('/api/v1/events', org.apiKey, { events: [event(`b-${randomUUID()}`), { idempotency_key: 'bad' }] });
    const res = await api.get(`/api/v1/batches/${posted.body.batch_id}`, org.apiKey);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: posted.body.batch_id,
      received: 2,
      accepted: 1,
      rejected: 1,
      duplicates: 0,
      rated: 0,
      status: 'accepted',
      processing_batch: null,
      workflow_id: null,
      workflow_status: null,
      processed_at: null,
    });
  });
});

describe('tenant isolation', () => {
  test("another organization's key sees none of this one's events or batches and its same keys are its own", async () => {
    const a = await createTestOrganization('api-iso-a');
    const b = await createTestOrganization('api-iso-b');
    const key = `iso-${randomUUID()}`;
    const posted = await api.post('/api/v1/events', a.apiKey, event(key, { customer_external_id: 'shared-customer' }));
    expect(posted.status).toBe(202);

    expect((await api.get(`/api/v1/batches/${posted.body.batch_id}`, b.apiKey)).status).toBe(404);
    expect((await api.get('/api/v1/events?customer=shared-customer', b.apiKey)).body.data).toEqual([]);

    // The same idempotency key in organization B is a different event, not a duplicate of A's.
    const bPost = await api.post('/api/v1/events', b.apiKey, event(key, { customer_external_id: 'shared-customer', quantity: 3 }));
    expect(bPost.body).toMatchObject({ accepted: 1, duplicates: 0 });
    const aEvents = await api.get('/api/v1/events?customer=shared-customer', a.apiKey);
    expect(aEvents.body.data).toHaveLength(1);
    expect(aEvents.body.data[0].quantity).toBe('1');
    expect((await api.get(`/api/v1/batches/${posted.body.batch_id}`, a.apiKey)).status).toBe(200);
  });
});

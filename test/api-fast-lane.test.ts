import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { event, postEventsInParts, startTestApi, type RawAnswer, type TestApi } from './api-test-app';

// POST /api/v1/events is served by the fast lane (api/ingest/fast-lane.ts)
// when its body is plain JSON with a Content-Length, and by the Express route
// otherwise (here: the same body sent chunked). Both must answer alike.

let api: TestApi;

beforeAll(async () => {
  // A limit high enough never to refuse, so every answer carries the rate-limit headers to compare.
  api = await startTestApi({ rateLimitPerOrganizationPerSecond: 100_000 });
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

/** One POST, with a Content-Length (fast lane) or chunked (Express). */
function post(apiKey: string | null, body: string, chunked: boolean, contentType = 'application/json'): Promise<RawAnswer> {
  const sent = postEventsInParts(api.base, apiKey, body, { chunked, contentType });
  sent.finish();
  return sent.answer;
}

/** The same request both ways, with fresh idempotency keys each time so neither sees the other's events as duplicates. */
async function bothWays(apiKey: string | null, make: (prefix: string) => string, contentType?: string): Promise<[RawAnswer, RawAnswer]> {
  return [await post(apiKey, make(`fast-${randomUUID()}`), false, contentType), await post(apiKey, make(`express-${randomUUID()}`), true, contentType)];
}

/** An answer with the parts that differ by design (ids, keys) masked. */
function comparable(answer: RawAnswer): unknown {
  const mask = (value: unknown): unknown =>
    JSON.parse(JSON.stringify(value), (key, v: unknown) => (key === 'batch_id' || key === 'idempotency_key' || key === 'reset_at' ? '<varies>' : Array.isArray(v) && key === 'duplicate_keys' ? v.length : v));
  return {
    status: answer.status,
    body: mask(answer.body),
    contentType: answer.headers['content-type'],
    retryAfter: answer.headers['retry-after'],
    authenticate: answer.headers['www-authenticate'],
    rateLimit: answer.headers['ratelimit-limit'],
  };
}

describe('the ingest fast lane answers as the Express route does', () => {
  test('valid, partly invalid, all invalid, malformed, unauthenticated', async () => {
    const org = await createTestOrganization('fast-lane');
    const cases: [string | null, (p: string) => string, string?][] = [
      [org.apiKey, (p) => JSON.stringify(event(`${p}-one`))],
      [org.apiKey, (p) => JSON.stringify({ events: [event(`${p}-a`), event(`${p}-a`), { idempotency_key: `${p}-bad` }, event(`${p}-b`, { quantity: '1.5' })] })],
      [org.apiKey, (p) => JSON.stringify({ events: [{ idempotency_key: `${p}-x` }] })],
      [org.apiKey, () => '{"events": [ {"idempotency_key": '],
      [org.apiKey, () => '"just a string"'],
      [org.apiKey, () => '[]'],
      [null, (p) => JSON.stringify(event(`${p}-anon`))],
      ['lf_not-a-real-key', (p) => JSON.stringify(event(`${p}-wrong`))],
      [org.apiKey, (p) => JSON.stringify(event(`${p}-charset`)), 'application/json; charset=UTF-8'],
      [org.apiKey, (p) => `\uFEFF${JSON.stringify(event(`${p}-bom`))}`],
      [org.apiKey, () => ''],
    ];
    for (const [key, make, contentType] of cases) {
      const [fast, viaExpress] = await bothWays(key, make, contentType);
      expect(comparable(fast)).toEqual(comparable(viaExpress));
    }
    // Both stored their own events: two of the first case, four of the second (a repeat and an invalid one left out), two each of the charset and byte-order-mark cases.
    expect(await testPrisma().usageEvent.count({ where: { organizationId: org.organizationId } })).toBe(2 + 4 + 2 + 2);
  });

  test('a HARD quota refusal and a rate-limit refusal', async () => {
    const org = await createTestOrganization('fast-lane-quota');
    await testPrisma().quotaLimit.create({ data: { organizationId: org.organizationId, eventType: 'api_call', limitValue: '1', mode: 'HARD', resetWindow: 'month' } });
    await post(org.apiKey, JSON.stringify(event(`fill-${randomUUID()}`)), false);
    const [fast, viaExpress] = await bothWays(org.apiKey, (p) => JSON.stringify(event(`${p}-over`)));
    expect(fast.status).toBe(403);
    expect(comparable(fast)).toEqual(comparable(viaExpress));

    const limited = await startTestApi({ rateLimitPerOrganizationPerSecond: 1 });
    try {
      const other = await createTestOrganization('fast-lane-429');
      const url = new URL(limited.base);
      const send = (chunked: boolean) =>
        new Promise<RawAnswer>((resolve, reject) => {
          const body = JSON.stringify(event(`rl-${randomUUID()}`));
          const req = http.request(
            { host: url.hostname, port: url.port, path: '/api/v1/events', method: 'POST', headers: { authorization: `Bearer ${other.apiKey}`, 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': Buffer.byteLength(body) }) } },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), headers: res.headers }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      const answers = await Promise.all([send(false), send(false), send(true), send(true)]);
      const refused = answers.filter((a) => a.status === 429);
      expect(refused.length).toBe(3);
      for (const a of refused) {
        expect(a.body).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', details: { scope: 'organization', limit: 1 } });
        expect(a.headers['retry-after']).toBe('1');
      }
    } finally {
      await limited.close();
    }
  });

  test('what the fast lane does not take still works through Express: a body over the limit is 413, a wrong content type 415', async () => {
    const org = await createTestOrganization('fast-lane-edge');
    const small = await startTestApi({ bodyLimit: '1kb' });
    try {
      const big = JSON.stringify({ events: Array.from({ length: 20 }, (_, i) => event(`big-${i}-${randomUUID()}`)) });
      const tooLarge = await small.post('/api/v1/events', org.apiKey, big);
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.body.code).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      await small.close();
    }
    const text = await api.post('/api/v1/events', org.apiKey, JSON.stringify(event(`text-${randomUUID()}`)), { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
  });
});

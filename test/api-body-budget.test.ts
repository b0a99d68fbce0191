import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { event, startTestApi, type TestApi } from './api-test-app';

// The request bodies an API process works on at once are bounded (api/body-budget.ts): a client that sends
// a body slowly holds its size of the budget, and a request that finds no room within the wait is answered
// 503 SERVER_BUSY with Retry-After, through the ingest fast lane and through Express alike, without its body
// being read. What was accepted stays accepted.

let api: TestApi;
const BUDGET = 4096;

beforeAll(async () => {
  api = await startTestApi({ bodyBudgetBytes: BUDGET, bodyBudgetWaitMs: 300, rateLimitPerOrganizationPerSecond: 0 });
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

/** A POST whose body goes out in two parts: the second only when `finish` is called. Content-Length set (fast lane) unless chunked (Express). */
function postInParts(apiKey: string, body: string, chunked: boolean): { finish(): void; answer: Promise<Answer> } {
  const url = new URL(api.base);
  let req!: http.ClientRequest;
  const half = Math.floor(body.length / 2);
  const answer = new Promise<Answer>((resolve, reject) => {
    req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: '/api/v1/events',
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': Buffer.byteLength(body) }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'), headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, half));
  });
  return { finish: () => req.end(body.slice(half)), answer };
}

const post = (apiKey: string, body: string, chunked = false): Promise<Answer> => {
  const sent = postInParts(apiKey, body, chunked);
  sent.finish();
  return sent.answer;
};

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${api.base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A body of `count` events, about 150 bytes each. */
const eventsBody = (prefix: string, count: number): string => JSON.stringify({ events: Array.from({ length: count }, (_, i) => event(`${prefix}-${i}`)) });

test('a request finding the body budget spent waits, then gets 503 SERVER_BUSY with Retry-After; the slow one it waited for is stored', async () => {
  const org = await createTestOrganization('body-budget');
  const slowBody = eventsBody(`slow-${randomUUID()}`, 20);
  expect(slowBody.length).toBeGreaterThan(BUDGET / 2);
  expect(slowBody.length).toBeLessThan(BUDGET);

  // A client sends half of a body and stalls: the API holds its size of the budget while it reads.
  const slow = postInParts(org.apiKey, slowBody, false);
  try {
    await checkWhileHeld(org.apiKey, slowBody.length);
  } finally {
    slow.finish();
  }
  const done = await slow.answer;
  expect(done.status).toBe(202);
  expect(done.body).toMatchObject({ accepted: 20 });
  await until(async () => (await metric('ledgerflow_api_request_body_bytes_in_process')) === 0, 'the budget to be given back');
  expect(await metric('ledgerflow_api_requests_waiting_for_body_budget')).toBe(0);

  // The refused ones stored nothing; a retry now goes through.
  expect(await testPrisma().usageEvent.count({ where: { organizationId: org.organizationId, idempotencyKey: { startsWith: 'busy-' } } })).toBe(0);
  const retry = await post(org.apiKey, eventsBody(`retry-${randomUUID()}`, 20), true);
  expect(retry.status).toBe(202);
  expect(await testPrisma().usageEvent.count({ where: { organizationId: org.organizationId } })).toBe(20 + 1 + 20);
});

/** While a slow client holds `held` bytes of the budget: bulk bodies wait and are refused, a one-event body goes through. */
async function checkWhileHeld(apiKey: string, held: number): Promise<void> {
  await until(async () => (await metric('ledgerflow_api_request_body_bytes_in_process')) === held, 'the slow body to hold the budget');

  // Another body of that size does not fit beside it: after the 300 ms wait, 503 — through the fast lane and through Express (chunked: it may be up to the body limit).
  for (const chunked of [false, true]) {
    const busy = await post(apiKey, eventsBody(`busy-${randomUUID()}`, 20), chunked);
    expect(busy.status).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.body).toMatchObject({ code: 'SERVER_BUSY', details: { in_process_bytes: held, limit_bytes: BUDGET, retry_after: 1 } });
    expect(String(busy.body.error)).toMatch(/limit; this request waited 300 ms for room/);
  }
  // A one-event request fits beside it and goes through at once.
  const small = await post(apiKey, JSON.stringify(event(`small-${randomUUID()}`)));
  expect(small.status).toBe(202);
}

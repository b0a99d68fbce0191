import { randomUUID } from 'node:crypto';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { event, postEventsInParts, startTestApi, type RawAnswer, type RawPost, type TestApi } from './api-test-app';

// The request bodies an API process works on at once are bounded (api/body-budget.ts): a client that sends
// a body slowly holds its size of the budget, and a request that finds no room within the wait is answered
// 503 SERVER_BUSY with Retry-After, through the ingest fast lane and through Express alike, without its body
// being read. What was accepted stays accepted.

let api: TestApi;
/** Small bodies: up to 256 bytes (1/256 of it), with 8 KiB of their own (1/8); bulk bodies share the 64 KiB. */
const BUDGET = 64 * 1024;

beforeAll(async () => {
  api = await startTestApi({ bodyBudgetBytes: BUDGET, bodyBudgetWaitMs: 300, rateLimitPerOrganizationPerSecond: 0 });
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

/** A POST whose body goes out in two parts: the second only when `finish` is called. Content-Length set (fast lane) unless chunked (Express). */
const postInParts = (apiKey: string, body: string, chunked: boolean): RawPost => postEventsInParts(api.base, apiKey, body, { chunked });

const post = (apiKey: string, body: string, chunked = false): Promise<RawAnswer> => {
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

const inProcess = () => metric('ledgerflow_api_request_body_bytes_in_process');
const waiting = () => metric('ledgerflow_api_requests_waiting_for_body_budget');

/** A bulk body of `count` events, about 150 bytes each. */
const eventsBody = (prefix: string, count: number): string => JSON.stringify({ events: Array.from({ length: count }, (_, i) => event(`${prefix}-${i}`)) });

test('a request finding the body budget spent waits, then gets 503 SERVER_BUSY with Retry-After; the slow one it waited for is stored', async () => {
  const org = await createTestOrganization('body-budget');
  const slowBody = eventsBody(`slow-${randomUUID()}`, 300);
  expect(slowBody.length).toBeGreaterThan(BUDGET / 2);
  expect(slowBody.length).toBeLessThan(BUDGET);

  // A client sends half of a body and stalls: the API holds its size of the budget while it reads.
  const slow = postInParts(org.apiKey, slowBody, false);
  try {
    await until(async () => (await inProcess()) === slowBody.length, 'the slow body to hold the budget');
    // Another body of that size does not fit beside it: after the 300 ms wait, 503 — through the fast lane and
    // through Express (chunked: it may be up to the body limit).
    for (const chunked of [false, true]) {
      const busy = post(org.apiKey, eventsBody(`busy-${randomUUID()}`, 300), chunked);
      // While it waits, a one-event request (a small body, with room of its own) goes through at once.
      await until(async () => (await waiting()) === 1, 'the bulk body to wait');
      const small = await post(org.apiKey, JSON.stringify(event(`small-${randomUUID()}`)));
      expect(small.status).toBe(202);
      expect(await waiting()).toBe(1);
      const refused = await busy;
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.body).toMatchObject({ code: 'SERVER_BUSY', details: { in_process_bytes: slowBody.length, limit_bytes: BUDGET, retry_after: 1 } });
      expect(String(refused.body.error)).toMatch(/of request bodies \(room for 64KB\); this request waited 300 ms for room/);
    }
  } finally {
    slow.finish();
  }
  // The slow client finishes: its events are stored, and the budget is free again.
  const done = await slow.answer;
  expect(done.status).toBe(202);
  expect(done.body).toMatchObject({ accepted: 300 });
  await until(async () => (await inProcess()) === 0, 'the budget to be given back');
  expect(await waiting()).toBe(0);

  // The refused ones stored nothing; a retry now goes through, through Express too, and gives its room back.
  expect(await testPrisma().usageEvent.count({ where: { organizationId: org.organizationId, idempotencyKey: { startsWith: 'busy-' } } })).toBe(0);
  const retry = await post(org.apiKey, eventsBody(`retry-${randomUUID()}`, 300), true);
  expect(retry.status).toBe(202);
  await until(async () => (await inProcess()) === 0, 'the Express request to give its room back');
  expect(await testPrisma().usageEvent.count({ where: { organizationId: org.organizationId } })).toBe(300 + 2 + 300);
});

test('a client that goes away, while its request waits or while it sends the body, gives its room back', async () => {
  const org = await createTestOrganization('body-budget-gone');
  for (const chunked of [false, true]) {
    const slow = postInParts(org.apiKey, eventsBody(`gone-slow-${randomUUID()}`, 300), false);
    slow.answer.catch(() => undefined);
    await until(async () => (await inProcess()) > 0, 'the slow body to hold the budget');
    const held = await inProcess();
    // Another bulk client starts, waits for room, and gives up before its turn.
    const waiter = postInParts(org.apiKey, eventsBody(`gone-waiter-${randomUUID()}`, 300), chunked);
    waiter.answer.catch(() => undefined);
    await until(async () => (await waiting()) === 1, 'the second body to wait');
    waiter.abandon();
    await until(async () => (await waiting()) === 0, 'the abandoned request to leave the queue');
    expect(await inProcess()).toBe(held);
    // The slow client goes away halfway through its body: its room comes back, and nothing of it was stored.
    slow.abandon();
    await until(async () => (await inProcess()) === 0, 'the abandoned body to give its room back');
  }
  expect(await testPrisma().usageEvent.count({ where: { organizationId: org.organizationId } })).toBe(0);
  // The budget is whole again: a bulk body goes through.
  expect((await post(org.apiKey, eventsBody(`after-${randomUUID()}`, 300))).status).toBe(202);
});

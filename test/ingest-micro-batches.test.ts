import { randomUUID } from 'node:crypto';
import { claimBatch } from '../activities/batch-formation';
import { GroupCommitter } from '../api/ingest/group-commit';
import { validateEvents } from '../api/ingest/validate-events';
import { createPgPool } from '../prisma/client';
import { ingestWorkflowId } from '../temporal/names';
import { Batcher } from '../worker/batcher';
import { event, startTestApi, type TestApi } from './api-test-app';
import { createTestOrganization, testPool, testPrisma } from './harness/fixtures';
import { insertBatch } from './harness/insert-batch';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';

// The ingest path as a whole: the API stores requests (group commit, no
// Temporal call), the batcher gathers them into processing batches of up to
// 1,000 events or 250 ms of arrivals, one `ingest:<batch>` workflow rates
// each batch; real PostgreSQL, Temporal and worker.

let api: TestApi;
let env: TestWorker;

beforeAll(async () => {
  env = await startTestWorker('micro-batches');
  api = await startTestApi({}, env.taskQueue);
});

afterAll(async () => {
  await api?.close();
  await env?.close();
});

/** A batcher for the given organizations only (test files share one database). */
async function startBatcher(organizationIds: string[], options: { windowMs?: number; maxEvents?: number } = {}): Promise<Batcher> {
  const batcher = new Batcher({
    pool: testPool(),
    temporal: env.client,
    taskQueue: env.taskQueue,
    databaseUrl: process.env.DATABASE_URL!,
    organizationIds,
    pollMs: 200,
    ...options,
  });
  await batcher.start();
  return batcher;
}

const requestRows = (organizationId: string) => testPrisma().ingestBatch.findMany({ where: { organizationId } });

describe('group commit', () => {
  test('concurrent requests share transactions, and each answer reports exactly its own accepted, duplicate and rejected events', async () => {
    const org = await createTestOrganization('group-commit');
    const pool = createPgPool(process.env.DATABASE_URL, { max: 4 });
    // One writer: everything that arrives while it commits waits for the next transaction.
    const writer = new GroupCommitter(pool, { writers: 1, maxEventsPerGroup: 1000, log: () => undefined });
    try {
      const shared = `shared-${randomUUID()}`;
      const requests = Array.from({ length: 40 }, (_, i) => {
        const events = [event(`gc-${i}-${randomUUID()}`), event(shared)];
        // Every fourth request also carries an invalid event.
        if (i % 4 === 0) events.push({ idempotency_key: `bad-${i}` });
        return { ...validateEvents({ events }, new Date()), organizationId: org.organizationId, apiKeyId: org.apiKeyId, batchId: randomUUID() };
      });
      const results = await Promise.all(requests.map((r) => writer.store(r)));

      expect(writer.stats.requests).toBe(40);
      expect(writer.stats.transactions).toBeLessThan(40);
      // The shared key went to exactly one request, the first in arrival order; every other one reports it as a duplicate.
      expect(results[0]).toMatchObject({ accepted: 2, duplicateKeys: [] });
      results.slice(1).forEach((r) => {
        expect(r.accepted).toBe(1);
        expect(r.duplicateKeys).toEqual([shared]);
      });
      results.forEach((r, i) => expect(r.rejected.map((x) => x.index)).toEqual(i % 4 === 0 ? [2] : []));

      const rows = await requestRows(org.organizationId);
      const byId = new Map(rows.map((row) => [row.id, row]));
      requests.forEach((r, i) => {
        expect(byId.get(r.batchId)).toMatchObject({ received: i % 4 === 0 ? 3 : 2, accepted: i === 0 ? 2 : 1, duplicates: i === 0 ? 0 : 1, rejected: i % 4 === 0 ? 1 : 0 });
      });
      expect(await testPrisma().usageEvent.count({ where: { organizationId: org.organizationId } })).toBe(41);
    } finally {
      await pool.end();
    }
  });

  test('under a HARD quota, a later request of the group with the key of an earlier, refused event is judged on its own, not called a duplicate', async () => {
    const org = await createTestOrganization('group-commit-hard');
    await testPrisma().quotaLimit.create({ data: { organizationId: org.organizationId, eventType: 'api_call', limitValue: '1', mode: 'HARD', resetWindow: 'month' } });
    const pool = createPgPool(process.env.DATABASE_URL, { max: 4 });
    const writer = new GroupCommitter(pool, { writers: 1, maxEventsPerGroup: 1000, log: () => undefined });
    try {
      const request = (events: Record<string, unknown>[]) => ({ ...validateEvents({ events }, new Date()), organizationId: org.organizationId, apiKeyId: org.apiKeyId, batchId: randomUUID() });
      const key = `retry-${randomUUID()}`;
      // The first request holds the only writer; the other two queue and go together in the next transaction.
      const [, tooMuch, fits] = await Promise.all([
        writer.store(request([event(`other-${randomUUID()}`, { event_type: 'other' })])),
        writer.store(request([event(key, { quantity: 2 })])),
        writer.store(request([event(key, { quantity: 1 })])),
      ]);
      expect(writer.stats.transactions).toBe(2);
      expect(tooMuch).toMatchObject({ accepted: 0, duplicateKeys: [], quotaRejected: 1 });
      expect(tooMuch!.rejected.map((r) => r.code)).toEqual(['QUOTA_EXCEEDED']);
      expect(fits).toMatchObject({ accepted: 1, duplicateKeys: [], rejected: [] });
      const stored = await testPrisma().usageEvent.findFirstOrThrow({ where: { organizationId: org.organizationId, idempotencyKey: key } });
      expect(stored.quantity.toString()).toBe('1');
      const counter = await testPrisma().quotaCounter.findFirstOrThrow({ where: { quotaLimit: { organizationId: org.organizationId } } });
      expect(counter.used.toString()).toBe('1');
    } finally {
      await pool.end();
    }
  });

  test('a request PostgreSQL refuses fails alone; the others of its group are stored', async () => {
    const org = await createTestOrganization('group-commit-poison');
    const pool = createPgPool(process.env.DATABASE_URL, { max: 4 });
    const writer = new GroupCommitter(pool, { writers: 1, maxEventsPerGroup: 1000, log: () => undefined });
    try {
      const good = Array.from({ length: 10 }, () => ({
        ...validateEvents(event(`ok-${randomUUID()}`), new Date()),
        organizationId: org.organizationId,
        apiKeyId: org.apiKeyId,
        batchId: randomUUID(),
      }));
      // An API key id that does not exist breaks the request row's foreign key: the whole group's transaction fails.
      const poisoned = { ...validateEvents(event(`bad-${randomUUID()}`), new Date()), organizationId: org.organizationId, apiKeyId: randomUUID(), batchId: randomUUID() };
      const outcomes = await Promise.allSettled([...good.slice(0, 5), poisoned, ...good.slice(5)].map((r) => writer.store(r)));
      expect(outcomes.map((o) => o.status)).toEqual([...Array(5).fill('fulfilled'), 'rejected', ...Array(5).fill('fulfilled')]);
      expect(await testPrisma().usageEvent.count({ where: { organizationId: org.organizationId } })).toBe(10);
      expect((await requestRows(org.organizationId)).map((r) => r.id).sort()).toEqual(good.map((g) => g.batchId).sort());
    } finally {
      await pool.end();
    }
  });
});

describe('processing batches', () => {
  test('1-event requests posted at once are rated in batches of at most 1,000 events; each request leads to the workflow that rated it', async () => {
    const org = await createTestOrganization('micro-batches');
    const batcher = await startBatcher([org.organizationId]);
    try {
      const keys = Array.from({ length: 1_200 }, (_, i) => `mb-${i}-${randomUUID()}`);
      const answers: { batch_id: string }[] = [];
      // 16 clients posting one event per call.
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < keys.length) {
            const key = keys[next++]!;
            const res = await api.post('/api/v1/events', org.apiKey, event(key, { customer_external_id: `c-${key.length % 7}` }));
            expect(res.status).toBe(202);
            answers.push(res.body);
          }
        }),
      );

      const batches = await waitFor('every batch processed', async () => {
        const rows = await testPrisma().processingBatch.findMany({ where: { organizationId: org.organizationId } });
        const events = rows.reduce((sum, b) => sum + b.events, 0);
        return events === keys.length && rows.every((b) => b.status === 'processed') ? rows : undefined;
      });
      // No request in two batches, none left out, no batch over 1,000 events, fewer workflows than requests.
      const claimed = batches.flatMap((b) => b.requestIds);
      expect(new Set(claimed).size).toBe(claimed.length);
      expect(claimed.sort()).toEqual(answers.map((a) => a.batch_id).sort());
      for (const b of batches) expect(b.events).toBeLessThanOrEqual(1_000);
      expect(batches.length).toBeLessThan(keys.length / 10);
      expect(await testPrisma().usageEvent.count({ where: { organizationId: org.organizationId, status: 'rated' } })).toBe(keys.length);

      const sample = answers[answers.length - 1]!;
      const batch = batches.find((b) => b.requestIds.includes(sample.batch_id))!;
      // The batch row says processed from the workflow's last step; the workflow completes just after it.
      await env.client.workflow.getHandle(ingestWorkflowId(batch.id)).result();
      const status = await api.get(`/api/v1/batches/${sample.batch_id}`, org.apiKey);
      expect(status.body).toMatchObject({
        status: 'processed',
        accepted: 1,
        rated: 1,
        processing_batch: { id: batch.id, events: batch.events, requests: batch.requests },
        workflow_id: ingestWorkflowId(batch.id),
        workflow_status: 'COMPLETED',
      });
      expect(status.body.run_id).toBe((await env.client.workflow.getHandle(ingestWorkflowId(batch.id)).describe()).runId);
    } finally {
      await batcher.stop();
    }
  });

  test('a batch forms within about the window after the first event, and a full one at once', async () => {
    const org = await createTestOrganization('micro-batch-window');
    const batcher = await startBatcher([org.organizationId], { windowMs: 250 });
    try {
      const posted = await api.post('/api/v1/events', org.apiKey, event(`w-${randomUUID()}`));
      const postedAt = Date.now();
      const claimedAt = await waitFor(
        'the request claimed',
        async () => ((await testPrisma().ingestBatch.findUniqueOrThrow({ where: { id: posted.body.batch_id } })).processingBatchId ? Date.now() : undefined),
        10_000,
      );
      // Woken by the NOTIFY, not by the 200 ms poll alone: well under a second. The window is a lower bound.
      expect(claimedAt - postedAt).toBeGreaterThanOrEqual(200);
      expect(claimedAt - postedAt).toBeLessThan(2_000);

      // 1,000 events in one request fill a batch: no window to wait for.
      const full = await api.post('/api/v1/events', org.apiKey, { events: Array.from({ length: 1_000 }, (_, i) => event(`full-${i}-${randomUUID()}`)) });
      const row = await waitFor('the full request claimed', async () => (await testPrisma().ingestBatch.findUniqueOrThrow({ where: { id: full.body.batch_id } })).processingBatchId ?? undefined, 10_000);
      const batch = await testPrisma().processingBatch.findUniqueOrThrow({ where: { id: row } });
      expect(batch).toMatchObject({ events: 1_000, requests: 1 });
    } finally {
      await batcher.stop();
    }
  });

  test('claims racing for the same waiting requests take each request once (SKIP LOCKED)', async () => {
    const org = await createTestOrganization('micro-batch-race');
    const prisma = testPrisma();
    const requests = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        insertBatch(prisma, org.organizationId, Array.from({ length: 1 + (i % 40) }, () => ({ customerExternalId: 'acme', timestamp: new Date().toISOString() })), { claim: false }),
      ),
    );
    const total = requests.reduce((sum, r) => sum + r.eventIds.length, 0);
    // Eight claimers at once, each claiming until nothing is left; batches of at most 100 events to make many.
    const claimed = (
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          const mine = [];
          for (let batch = await claimBatch(testPool(), org.organizationId, 100); batch; batch = await claimBatch(testPool(), org.organizationId, 100)) mine.push(batch);
          return mine;
        }),
      )
    ).flat();
    const rows = await prisma.processingBatch.findMany({ where: { id: { in: claimed.map((c) => c.batchId) } } });
    const requestIds = rows.flatMap((r) => r.requestIds);
    expect(new Set(requestIds).size).toBe(requestIds.length);
    expect(requestIds.sort()).toEqual(requests.map((r) => r.requestId).sort());
    expect(rows.reduce((sum, r) => sum + r.events, 0)).toBe(total);
    for (const r of rows) expect(r.events).toBeLessThanOrEqual(100);
    expect(await prisma.ingestBatch.count({ where: { organizationId: org.organizationId, processingBatchId: null } })).toBe(0);
  });
});

describe('backpressure', () => {
  test('past the pending-events bound ingest answers 503 INGEST_BACKLOG_FULL with Retry-After and stores nothing of that request', async () => {
    const org = await createTestOrganization('backpressure');
    const neighbour = await createTestOrganization('backpressure-neighbour');
    // No batcher for these organizations: their events stay pending, their backlog only grows.
    const gated = await startTestApi({ ingestMaxBacklogEvents: 10, ingestMaxBacklogAgeSeconds: 0, ingestBacklogRefreshMs: 50 }, env.taskQueue);
    try {
      const stored: string[] = [];
      let refused: Awaited<ReturnType<TestApi['post']>> | undefined;
      let refusedKey = '';
      for (let i = 0; i < 40 && !refused; i++) {
        const key = `bp-${i}-${randomUUID()}`;
        const res = await gated.post('/api/v1/events', org.apiKey, event(key));
        if (res.status === 503) {
          refused = res;
          refusedKey = key;
        } else {
          expect(res.status).toBe(202);
          stored.push(key);
        }
        await new Promise((r) => setTimeout(r, 60));
      }
      expect(refused).toBeDefined();
      expect(refused!.body).toMatchObject({ code: 'INGEST_BACKLOG_FULL', details: { max_pending_events: 10, retry_after: expect.any(Number) } });
      expect(refused!.body.details.pending_events).toBeGreaterThanOrEqual(10);
      // The bound is read every 50 ms, so a few requests may pass it before the refusal; never many.
      expect(stored.length).toBeGreaterThanOrEqual(10);
      expect(stored.length).toBeLessThan(20);
      expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const keys = (await testPrisma().usageEvent.findMany({ where: { organizationId: org.organizationId }, select: { idempotencyKey: true } })).map((e) => e.idempotencyKey);
      expect(keys.sort()).toEqual(stored.sort());
      expect(keys).not.toContain(refusedKey);

      // Another organization is not held back by this one's backlog.
      expect((await gated.post('/api/v1/events', neighbour.apiKey, event(`n-${randomUUID()}`))).status).toBe(202);

      const ready = await gated.get('/ready', null);
      expect(ready.body.ingest.organizations_paused).toBeGreaterThanOrEqual(1);
      expect(ready.body.ingest.pending_events).toBeGreaterThanOrEqual(stored.length);
      const metrics = await fetch(`${gated.base}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/^ledgerflow_ingest_pending_events \d+$/m);
      expect(metrics).toMatch(/^ledgerflow_ingest_events_total\{outcome="refused"\} 1$/m);
      // Its own accepted events and the neighbour's one.
      expect(metrics).toMatch(new RegExp(`^ledgerflow_ingest_events_total\\{outcome="accepted"\\} ${stored.length + 1}$`, 'm'));
    } finally {
      await gated.close();
    }
  });

  test('past the age bound too: an event waiting longer than allowed pauses ingest', async () => {
    const org = await createTestOrganization('backpressure-age');
    await insertBatch(testPrisma(), org.organizationId, [{ customerExternalId: 'acme', timestamp: new Date().toISOString() }], {
      claim: false,
      createdAt: new Date(Date.now() - 120_000),
    });
    const gated = await startTestApi({ ingestMaxBacklogEvents: 0, ingestMaxBacklogAgeSeconds: 60, ingestBacklogRefreshMs: 50 }, env.taskQueue);
    try {
      await gated.get('/ready', null);
      const res = await gated.post('/api/v1/events', org.apiKey, event(`age-${randomUUID()}`));
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('INGEST_BACKLOG_FULL');
      expect(res.body.details.oldest_pending_age_seconds).toBeGreaterThanOrEqual(120);
      expect(res.body.error).toMatch(/its oldest unrated event is \d+ s old \(limit 60 s\)/);
    } finally {
      await gated.close();
    }
  });
});

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { API_OLD_SPACE_MIB } from '../api/node-flags';
import { createApiKey } from '../prisma/api-keys';
import { createPgPool, createPrismaClient, type PrismaClient } from '../prisma/client';
import { freePort, startDevServer, type TemporalHandle } from '../temporal/dev-server';
import { DEFAULT_NAMESPACE } from '../temporal/names';
import { ingestBooksProblems, readIngestBooks } from './harness/ingest-books';
import { processStackEnv, startProcess, type TestProcess } from './harness/processes';
import { createScratchDatabase } from './harness/scratch-database';

// Crash safety with real processes: the API and the worker run as their own
// `node api/main.ts` / `node worker/main.ts` processes against a database of
// their own (in the harness PostgreSQL) and a Temporal dev server of their own
// (a SQLite file, so it can be restarted). They are killed with SIGKILL at the
// awkward moments, and afterwards every accepted event must be rated exactly
// once — rated, counted once in its quota counter, in exactly one processing
// batch — within a bounded time after the restart. All traffic is loopback.

const RECOVERY_BOUND_MS = 60_000;

let root: string;
let databaseUrl: string;
let dropDatabase: () => Promise<void>;
let temporal: TemporalHandle;
let temporalPort: number;
let apiPort: number;
let api: TestProcess | undefined;
let worker: TestProcess | undefined;
let prisma: PrismaClient;
let pool: Pool;
let organizationId: string;
let apiKey: string;
const taskQueue = `crash-${randomUUID().slice(0, 8)}`;

const env = (): NodeJS.ProcessEnv =>
  processStackEnv({ databaseUrl, temporalAddress: temporal.address, namespace: DEFAULT_NAMESPACE, apiPort }, { TEMPORAL_TASK_QUEUE: taskQueue });

async function startApi(): Promise<TestProcess> {
  const started = startProcess('api', 'api/main.ts', env());
  await started.printed(/api listening on /);
  // Started as npm start starts it, the API runs with its Node flags (api/node-flags.ts) and says so.
  await started.printed(/memory: heap limit \d+ MiB, request bodies in process at most 10 MiB/);
  const heapLimit = Number(/memory: heap limit (\d+) MiB/.exec(started.everything())![1]);
  expect(heapLimit).toBeGreaterThanOrEqual(API_OLD_SPACE_MIB); // the old generation, plus the young one's few dozen MiB
  expect(heapLimit).toBeLessThan(API_OLD_SPACE_MIB + 100);
  return started;
}

async function startWorker(): Promise<TestProcess> {
  const started = startProcess('worker', 'worker/main.ts', env());
  await started.printed(/worker ready on task queue /);
  return started;
}

async function startTemporal(): Promise<void> {
  temporal = await startDevServer({ dbFile: path.join(root, 'temporal.db'), port: temporalPort, ui: false, namespace: DEFAULT_NAMESPACE, log: () => undefined });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One event, retried (same idempotency key, as a client must) until the API answers 202. */
function post(key: string, quantity = 1): Promise<{ status: number; accepted: number; duplicates: number }> {
  const body = JSON.stringify({ idempotency_key: key, customer_external_id: `c-${key.length % 5}`, event_type: 'api_call', quantity, timestamp: new Date().toISOString() });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: apiPort, path: '/api/v1/events', method: 'POST', agent, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const answer = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { accepted?: number; duplicates?: number };
          resolve({ status: res.statusCode ?? 0, accepted: answer.accepted ?? 0, duplicates: answer.duplicates ?? 0 });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Posts every key with `concurrency` clients; a key whose request fails (connection refused or reset) is left for the caller to retry. */
async function postAll(keys: string[], concurrency: number, onAnswered?: (answered: number) => void): Promise<{ unanswered: string[] }> {
  const unanswered: string[] = [];
  let next = 0;
  let answered = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        try {
          const res = await post(key);
          if (res.status !== 202) throw new Error(`status ${res.status}`);
          answered += 1;
          onAnswered?.(answered);
        } catch {
          unanswered.push(key);
        }
      }
    }),
  );
  return { unanswered };
}

/** What a client does after an outage: send what got no answer again, same keys, until each is answered. */
async function retryUntilAnswered(keys: string[]): Promise<void> {
  let left = keys;
  const deadline = Date.now() + 60_000;
  while (left.length > 0) {
    if (Date.now() > deadline) throw new Error(`${left.length} requests still unanswered after 60 s`);
    ({ unanswered: left } = await postAll(left, 8));
    if (left.length > 0) await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until every one of `keys` is rated; returns how long that took. */
async function ratedWithin(keys: string[], since: number): Promise<number> {
  for (;;) {
    const { rows } = await pool.query<{ rated: number }>(
      `SELECT count(*)::int AS rated FROM usage_events WHERE organization_id = $1 AND idempotency_key = ANY($2::text[]) AND status = 'rated'`,
      [organizationId, keys],
    );
    if (rows[0]!.rated === keys.length) return Date.now() - since;
    if (Date.now() - since > RECOVERY_BOUND_MS) {
      throw new Error(`only ${rows[0]!.rated} of ${keys.length} events rated ${RECOVERY_BOUND_MS / 1000} s after recovery\n${api?.output() ?? ''}\n${worker?.output() ?? ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The books balance (test/harness/ingest-books.ts): each event stored once, rated, in one processed batch, counted once. */
async function expectExactlyOnce(expectedKeys: number): Promise<void> {
  expect(ingestBooksProblems(await readIngestBooks(pool, organizationId), expectedKeys)).toEqual([]);
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-crash-'));
  // A database of its own in the harness PostgreSQL: this test's batcher and sweeper see no other test's events.
  const database = await createScratchDatabase('crash');
  databaseUrl = database.url;
  dropDatabase = database.drop;
  prisma = createPrismaClient(databaseUrl, { max: 2 });
  pool = createPgPool(databaseUrl, { max: 2 });
  const org = await prisma.organization.create({ data: { name: 'crash-test', rateLimitPerSecond: 0 } });
  organizationId = org.id;
  await prisma.quotaLimit.create({ data: { organizationId, eventType: 'api_call', limitValue: '1000000000', mode: 'SOFT', resetWindow: 'month' } });
  apiKey = (await createApiKey(prisma, organizationId, 'crash', { type: 'system', id: 'test' }, ['ingest', 'read'])).key;

  temporalPort = await freePort();
  apiPort = await freePort();
  await startTemporal();
  [api, worker] = await Promise.all([startApi(), startWorker()]);
}, 120_000);

afterAll(async () => {
  agent.destroy();
  await Promise.allSettled([api?.stop(), worker?.stop()]);
  await temporal?.stop();
  await Promise.allSettled([prisma?.$disconnect(), pool?.end()]);
  await dropDatabase?.();
  fs.rmSync(root, { recursive: true, force: true });
}, 60_000);

const allKeys: string[] = [];

test('kill -9 of the API while requests are in flight: clients resend what got no answer, and every event is rated exactly once', async () => {
  const keys = Array.from({ length: 1_500 }, (_, i) => `api-kill-${i}-${randomUUID()}`);
  allKeys.push(...keys);
  let killed: Promise<void> | undefined;
  // Kill the API a third of the way through: some requests are committed but never answered, some never arrive.
  const { unanswered } = await postAll(keys, 16, (answered) => {
    if (answered === 500 && !killed) killed = api!.kill();
  });
  await killed;
  expect(unanswered.length).toBeGreaterThan(0);
  // Requests the API committed but never answered: their resend must come back as duplicates, not second events.
  const { rows: [stored] } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_events WHERE organization_id = $1 AND idempotency_key = ANY($2::text[])`, [organizationId, unanswered]);
  api = await startApi();
  const restartedAt = Date.now();
  await retryUntilAnswered(unanswered);
  const took = await ratedWithin(allKeys, restartedAt);
  process.stderr.write(
    `[crash] API killed with ${unanswered.length} of ${keys.length} requests unanswered (${stored!.n} of them committed before the kill); all rated ${took} ms after the restart\n`,
  );
  await expectExactlyOnce(allKeys.length);
}, 180_000);

test('kill -9 of the worker with batches open: a new worker finishes them, and every event is rated exactly once', async () => {
  const keys = Array.from({ length: 1_500 }, (_, i) => `worker-kill-${i}-${randomUUID()}`);
  allKeys.push(...keys);
  let killed: Promise<void> | undefined;
  const posting = postAll(keys, 16, () => undefined);
  // As soon as a batch's workflow is running, the worker goes.
  for (const deadline = Date.now() + 30_000; !killed && Date.now() < deadline; ) {
    const { rows } = await pool.query<{ open: number }>(`SELECT count(*)::int AS open FROM processing_batches WHERE organization_id = $1 AND status = 'workflow_started'`, [organizationId]);
    if (rows[0]!.open > 0) killed = worker!.kill();
    else await new Promise((r) => setTimeout(r, 20));
  }
  expect(killed).toBeDefined();
  await killed;
  const { unanswered } = await posting;
  expect(unanswered).toEqual([]);
  const { rows: [open] } = await pool.query<{ open: number }>(`SELECT count(*)::int AS open FROM processing_batches WHERE organization_id = $1 AND status <> 'processed'`, [organizationId]);
  worker = await startWorker();
  const restartedAt = Date.now();
  const took = await ratedWithin(allKeys, restartedAt);
  process.stderr.write(`[crash] worker killed with ${open!.open} batches unfinished; all rated ${took} ms after the restart\n`);
  await expectExactlyOnce(allKeys.length);
}, 180_000);

test('the Temporal server stopped and started again: events keep being accepted meanwhile, and every one is rated exactly once', async () => {
  await temporal.stop();
  const keys = Array.from({ length: 600 }, (_, i) => `temporal-down-${i}-${randomUUID()}`);
  allKeys.push(...keys);
  // No Temporal call on the request path: the API takes them all.
  const { unanswered } = await postAll(keys, 8);
  expect(unanswered).toEqual([]);
  // The batcher claimed them, but no workflow could start.
  await new Promise((r) => setTimeout(r, 1_000));
  const { rows: [stuck] } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_events WHERE organization_id = $1 AND status <> 'rated'`, [organizationId]);
  expect(stuck!.n).toBe(keys.length);
  await startTemporal();
  const restartedAt = Date.now();
  const took = await ratedWithin(allKeys, restartedAt);
  process.stderr.write(`[crash] Temporal restarted; all rated ${took} ms after\n`);
  await expectExactlyOnce(allKeys.length);
}, 180_000);

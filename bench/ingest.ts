// `npm run bench:ingest [-- --events N]`: ingest throughput and latency
// against the stack `npm start` runs (read from .data/stack.json), next to
// the raw ceiling of the same rows inserted straight into PostgreSQL.
// Prints numbers; never part of `npm test`'s pass/fail.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Pool } from 'pg';
import { createApiKey } from '../prisma/api-keys';
import { UUID_V7_SQL } from '../prisma/uuid-v7';
import { createPgPool, createPrismaClient, type PrismaClient } from '../prisma/client';
import { DEMO_RATES } from '../prisma/seed';
import { readStackFile, type StackFile } from '../scripts/lib/stack-file';
import { formatTable, peakRssMiB, percentile } from './lib/stats';

const EVENT_TYPE = 'llm.completion';
const CUSTOMERS = 200;
const RAW_CHUNK = 1_000;
const E2E_TIMEOUT_MS = 15 * 60_000;
const TARGETS = { acceptedRatio: 0.6, endToEndRatio: 0.3, p99Ms1000c4: 250, entitlementP99Ms: 10, apiRssMiB: 300 };

interface BenchEvent {
  idempotency_key: string;
  customer_external_id: string;
  event_type: string;
  quantity: string;
  timestamp: string;
  properties: Record<string, unknown>;
  vendor_usage: { vendor: string; model: string; input_tokens: number; output_tokens: number }[];
}

interface ScenarioResult {
  name: string;
  batchSize: number;
  concurrency: number;
  requests: number;
  acceptedPerSec: number;
  p50Ms: number;
  p99Ms: number;
  endToEndPerSec: number;
}

const say = (line: string): void => {
  process.stdout.write(`[bench] ${line}\n`);
};

function options(): { events: number } {
  const { values } = parseArgs({ options: { events: { type: 'string' } }, strict: true });
  const events = Number(values.events ?? process.env.BENCH_EVENTS ?? 20_000);
  if (!Number.isInteger(events) || events < 1_000) throw new Error(`--events must be a whole number ≥ 1000 (got ${values.events ?? process.env.BENCH_EVENTS})`);
  return { events };
}

function runningStack(): StackFile {
  const stack = readStackFile();
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!stack || !alive(stack.pid) || !alive(stack.api.pid)) {
    throw new Error(
      'No running Ledgerflow stack (.data/stack.json is missing or stale). Start one in another terminal:\n' +
        '  npm start\n' +
        'then run `npm run bench:ingest` again. The benchmark uses one fresh API key per scenario, so the\n' +
        'default rate limits (1,000 requests/min per key, 6,000 per IP) do not interfere at the default size;\n' +
        'for larger runs start the stack with RATE_LIMIT_PER_KEY_PER_MINUTE=0 RATE_LIMIT_PER_IP_PER_MINUTE=0 npm start.',
    );
  }
  return stack;
}

function makeEvents(prefix: string, n: number): BenchEvent[] {
  const now = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => ({
    idempotency_key: `${prefix}-${i}`,
    customer_external_id: `bench-customer-${i % CUSTOMERS}`,
    event_type: EVENT_TYPE,
    quantity: '1',
    timestamp: now,
    properties: { request: i },
    vendor_usage: [{ vendor: 'openai', model: 'gpt-4o-mini', input_tokens: 500 + (i % 1000), output_tokens: 100 + (i % 300) }],
  }));
}

/** A fresh organization like a real tenant: vendor rates, a SOFT limit, one API key. */
async function benchOrganization(prisma: PrismaClient, label: string): Promise<{ id: string; key: string }> {
  const org = await prisma.organization.create({ data: { name: `bench-${label}-${randomUUID().slice(0, 8)}` } });
  await prisma.vendorRate.createMany({
    data: DEMO_RATES.map((r) => ({ organizationId: org.id, vendor: r.vendor, model: r.model, inputPerMillionTokens: r.input, outputPerMillionTokens: r.output, effectiveFrom: new Date('2025-01-01T00:00:00Z') })),
  });
  await prisma.quotaLimit.create({ data: { organizationId: org.id, eventType: EVENT_TYPE, limitValue: '1000000000', mode: 'SOFT', resetWindow: 'month' } });
  const key = await createApiKey(prisma, org.id, 'bench', { type: 'system', id: 'bench' });
  return { id: org.id, key: key.key };
}

/** The same rows, one INSERT … SELECT FROM unnest(…) per 1,000, on one connection: what PostgreSQL alone can take. */
async function rawCeiling(pool: Pool, prisma: PrismaClient, events: BenchEvent[]): Promise<number> {
  const org = await prisma.organization.create({ data: { name: `bench-raw-${randomUUID().slice(0, 8)}` } });
  const batch = await prisma.ingestBatch.create({ data: { organizationId: org.id, received: events.length, accepted: events.length, duplicates: 0, rejected: 0 } });
  const client = await pool.connect();
  try {
    const started = performance.now();
    for (let i = 0; i < events.length; i += RAW_CHUNK) {
      const chunk = events.slice(i, i + RAW_CHUNK);
      await client.query(
        `INSERT INTO usage_events (id, organization_id, batch_id, idempotency_key, customer_external_id, event_type, feature,
                                   quantity, "timestamp", properties, vendor_usage, revenue_amount, currency)
         SELECT ${UUID_V7_SQL}, $1::uuid, $2::uuid, u.*
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::timestamptz[], $9::jsonb[],
                       $10::jsonb[], $11::numeric[], $12::text[]) AS u
         ON CONFLICT (organization_id, idempotency_key) DO NOTHING
         RETURNING idempotency_key`,
        [
          org.id,
          batch.id,
          chunk.map((e) => e.idempotency_key),
          chunk.map((e) => e.customer_external_id),
          chunk.map((e) => e.event_type),
          chunk.map(() => null),
          chunk.map((e) => e.quantity),
          chunk.map((e) => e.timestamp),
          chunk.map((e) => JSON.stringify(e.properties)),
          chunk.map((e) => JSON.stringify(e.vendor_usage)),
          chunk.map(() => null),
          chunk.map(() => null),
        ],
      );
    }
    return events.length / ((performance.now() - started) / 1000);
  } finally {
    client.release();
  }
}

async function post(url: string, key: string, body: string): Promise<{ status: number; json: unknown; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
  const json: unknown = await res.json().catch(() => null);
  return { status: res.status, json, ms: performance.now() - started };
}

async function waitUntilRated(pool: Pool, organizationId: string, expected: number, since: number, progress: (rated: number) => void): Promise<number> {
  let lastReport = 0;
  for (;;) {
    const { rows } = await pool.query<{ rated: string }>(`SELECT count(*) FILTER (WHERE status = 'rated') AS rated FROM usage_events WHERE organization_id = $1`, [organizationId]);
    const rated = Number(rows[0]?.rated ?? 0);
    const now = performance.now();
    if (rated >= expected) return now;
    if (now - since > E2E_TIMEOUT_MS) throw new Error(`only ${rated}/${expected} events rated after ${E2E_TIMEOUT_MS / 60_000} min; is the worker running?`);
    if (now - lastReport > 3_000) {
      progress(rated);
      lastReport = now;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function scenario(stack: StackFile, pool: Pool, prisma: PrismaClient, events: number, batchSize: number, concurrency: number): Promise<ScenarioResult> {
  const name = `${batchSize.toLocaleString('en-US')} ev/request × ${concurrency}`;
  const org = await benchOrganization(prisma, `${batchSize}x${concurrency}`);
  const all = makeEvents(`bench-${randomUUID().slice(0, 8)}`, events);
  const bodies: string[] = [];
  for (let i = 0; i < all.length; i += batchSize) bodies.push(JSON.stringify({ events: all.slice(i, i + batchSize) }));
  const url = `${stack.api.url}/api/v1/events`;
  say(`${name}: posting ${events.toLocaleString('en-US')} events in ${bodies.length} requests…`);

  const latencies: number[] = [];
  let accepted = 0;
  let next = 0;
  let lastReport = performance.now();
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const res = await post(url, org.key, body);
      if (res.status === 429) throw new Error('the API rate-limited the benchmark (429); start the stack with RATE_LIMIT_PER_KEY_PER_MINUTE=0 RATE_LIMIT_PER_IP_PER_MINUTE=0');
      if (res.status !== 202) throw new Error(`POST /api/v1/events answered ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`);
      const answer = res.json as { accepted: number; rejected: unknown[] };
      if (answer.rejected.length > 0) throw new Error(`the API rejected benchmark events: ${JSON.stringify(answer.rejected.slice(0, 3))}`);
      accepted += answer.accepted;
      latencies.push(res.ms);
      if (performance.now() - lastReport > 3_000) {
        say(`  ${latencies.length}/${bodies.length} requests answered`);
        lastReport = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const postedAt = performance.now();
  say(`  all accepted in ${((postedAt - started) / 1000).toFixed(1)} s; waiting until every event is rated…`);
  const ratedAt = await waitUntilRated(pool, org.id, accepted, started, (rated) => say(`  ${rated.toLocaleString('en-US')}/${accepted.toLocaleString('en-US')} rated`));
  say(`  all rated after ${((ratedAt - started) / 1000).toFixed(1)} s`);
  return {
    name,
    batchSize,
    concurrency,
    requests: bodies.length,
    acceptedPerSec: accepted / ((postedAt - started) / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    endToEndPerSec: accepted / ((ratedAt - started) / 1000),
  };
}

async function entitlementLatency(stack: StackFile, prisma: PrismaClient, calls: number): Promise<{ p50: number; p99: number }> {
  const org = await benchOrganization(prisma, 'entitlements');
  const url = `${stack.api.url}/api/v1/entitlements/check`;
  const latencies: number[] = [];
  let key = org.key;
  for (let i = 0; i < calls + 50; i++) {
    // A fresh key every 500 calls keeps the per-key rate limit out of the measurement.
    if (i > 0 && i % 500 === 0) key = (await createApiKey(prisma, org.id, 'bench', { type: 'system', id: 'bench' })).key;
    const res = await post(url, key, JSON.stringify({ customer_external_id: `bench-customer-${i % CUSTOMERS}`, event_type: EVENT_TYPE, quantity: 1 }));
    if (res.status !== 200) throw new Error(`POST /api/v1/entitlements/check answered ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`);
    if (i >= 50) latencies.push(res.ms); // the first 50 warm up connections and caches
  }
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function main(): Promise<void> {
  const { events } = options();
  const stack = runningStack();
  const prisma = createPrismaClient(stack.databaseUrl, { max: 2 });
  const pool = createPgPool(stack.databaseUrl, { max: 2 });
  try {
    say(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
    say(`stack: API ${stack.api.url} (pid ${stack.api.pid}), worker pid ${stack.worker.pid}, Temporal ${stack.temporal.address}`);
    say(`raw ceiling: ${events.toLocaleString('en-US')} rows straight into PostgreSQL, ${RAW_CHUNK} per INSERT…`);
    const raw = await rawCeiling(pool, prisma, makeEvents(`raw-${randomUUID().slice(0, 8)}`, events));
    say(`  ${raw.toFixed(0)} rows/s`);

    const results: ScenarioResult[] = [];
    for (const [batchSize, concurrency] of [[100, 1], [100, 4], [1_000, 1], [1_000, 4]] as const) {
      results.push(await scenario(stack, pool, prisma, events, batchSize, concurrency));
    }
    say('entitlement checks: 1,000 sequential calls…');
    const entitlement = await entitlementLatency(stack, prisma, 1_000);
    const apiRss = peakRssMiB(stack.api.pid);
    const workerRss = peakRssMiB(stack.worker.pid);

    const ratio = (v: number): string => `${(v / raw).toFixed(2)}×`;
    const n = (v: number): string => v.toFixed(0);
    console.log(`\nIngest benchmark: ${events.toLocaleString('en-US')} events per scenario; raw ceiling ${n(raw)} rows/s\n`);
    console.log(
      formatTable(
        ['scenario', 'requests', 'accepted ev/s', 'of raw', 'p50 ms', 'p99 ms', 'end-to-end ev/s', 'of raw'],
        results.map((r) => [r.name, String(r.requests), n(r.acceptedPerSec), ratio(r.acceptedPerSec), r.p50Ms.toFixed(1), r.p99Ms.toFixed(1), n(r.endToEndPerSec), ratio(r.endToEndPerSec)]),
      ),
    );
    console.log(`\nentitlement check: p50 ${entitlement.p50.toFixed(2)} ms, p99 ${entitlement.p99.toFixed(2)} ms`);
    console.log(`peak RSS (VmHWM): API ${apiRss?.toFixed(0) ?? '?'} MiB, worker ${workerRss?.toFixed(0) ?? '?'} MiB`);

    // Targets are judged on the heaviest configuration, 1,000-event requests at concurrency 4.
    const headline = results.find((r) => r.batchSize === 1_000 && r.concurrency === 4)!;
    const checks: [string, boolean][] = [
      [`accepted ≥ ${TARGETS.acceptedRatio} of raw (1,000 × 4: ${ratio(headline.acceptedPerSec)})`, headline.acceptedPerSec >= TARGETS.acceptedRatio * raw],
      [`end-to-end ≥ ${TARGETS.endToEndRatio} of raw (1,000 × 4: ${ratio(headline.endToEndPerSec)})`, headline.endToEndPerSec >= TARGETS.endToEndRatio * raw],
      [`p99 of a 1,000-event request at concurrency 4 ≤ ${TARGETS.p99Ms1000c4} ms (${headline.p99Ms.toFixed(1)} ms)`, headline.p99Ms <= TARGETS.p99Ms1000c4],
      [`entitlement check p99 ≤ ${TARGETS.entitlementP99Ms} ms (${entitlement.p99.toFixed(2)} ms)`, entitlement.p99 <= TARGETS.entitlementP99Ms],
      [`API peak RSS ≤ ${TARGETS.apiRssMiB} MiB (${apiRss?.toFixed(0) ?? 'unreadable'} MiB)`, apiRss !== null && apiRss <= TARGETS.apiRssMiB],
    ];
    console.log('');
    for (const [label, ok] of checks) console.log(`${ok ? 'PASS' : 'FAIL'}  ${label}`);
  } finally {
    await Promise.allSettled([prisma.$disconnect(), pool.end()]);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:ingest failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

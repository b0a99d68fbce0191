// `npm run bench:ingest [-- --events N --sustain-seconds S]`: ingest
// throughput, latency and CPU per event against the stack `npm start` runs
// (started here if none is), as ratios to two ceilings measured in the same
// run on the same machine:
//  - commit ceiling: single-row INSERT transactions over 16 connections
//    into a table shaped like usage_events (what one-event-per-call ingest
//    could at best get from PostgreSQL);
//  - raw ceiling: 1,000-row INSERT … SELECT FROM unnest(…) into such a
//    table on one connection (what bulk ingest could at best get).
// Also the HTTP floor (bench/lib/http-floor.ts): the same client against a
// bare node:http server, to show the protocol's share of a one-event request.
// Last, the heaviest bodies the API accepts, sent at once: each must be
// answered 202 or 503 SERVER_BUSY, the API must still be up (its memory bound).
// Prints numbers; never part of `npm test`'s pass/fail.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Pool, PoolClient } from 'pg';
import { createApiKey } from '../prisma/api-keys';
import { UUID_V7_SQL } from '../prisma/uuid-v7';
import { createPgPool, createPrismaClient, type PrismaClient } from '../prisma/client';
import { DEMO_RATES } from '../prisma/seed';
import { readIngestBacklog } from '../services/ingest-backlog';
import { cpuPerUnitMs, findProcess, readCpu } from './lib/proc-cpu';
import { sampleRss } from './lib/rss-sampler';
import { closeHttpClient, post } from './lib/http-client';
import { acquireStack } from './lib/stack-session';
import { measureHttpFloor } from './lib/http-floor';
import { formatTable, median, percentile } from './lib/stats';
import type { StackFile } from '../scripts/lib/stack-file';

const EVENT_TYPE = 'llm.completion';
const CUSTOMERS = 200;
const RAW_CHUNK = 1_000;
const RAW_PASSES = 3;
const COMMIT_CONNECTIONS = 16;
const COMMIT_SECONDS = 5;
const E2E_TIMEOUT_MS = 10 * 60_000;
const TARGETS = {
  singleAcceptedOfCommit: 0.5,
  singleP99OfCommitP99: 4,
  singleCpuMsPerEvent: 3,
  sustainedOfferedOfCommit: 0.4,
  sustainedRatedOfOffered: 0.9,
  sustainedP99Ms: 2_000,
  bulkAcceptedOfRaw: 0.6,
  bulkEndToEndOfRaw: 0.5,
  bulkP99OfRawTime: 2.5,
  bulkCpuMsPerEvent: 0.3,
  entitlementP99Ms: 10,
  apiRssMiB: 300,
};

interface BenchEvent {
  idempotency_key: string;
  customer_external_id: string;
  event_type: string;
  quantity: string;
  timestamp: string;
  properties: Record<string, unknown>;
  vendor_usage: { vendor: string; model: string; input_tokens: number; output_tokens: number }[];
}

const say = (line: string): void => {
  process.stdout.write(`[bench] ${line}\n`);
};
const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const ms1 = (v: number): string => v.toFixed(1);

function options(): { events: number; sustainSeconds: number } {
  const { values } = parseArgs({ options: { events: { type: 'string' }, 'sustain-seconds': { type: 'string' } }, strict: true });
  const events = Number(values.events ?? process.env.BENCH_EVENTS ?? 20_000);
  if (!Number.isInteger(events) || events < 1_000) throw new Error(`--events must be a whole number ≥ 1000 (got ${values.events ?? process.env.BENCH_EVENTS})`);
  const sustainSeconds = Number(values['sustain-seconds'] ?? 60);
  if (!Number.isInteger(sustainSeconds) || sustainSeconds < 10) throw new Error(`--sustain-seconds must be a whole number ≥ 10 (got ${values['sustain-seconds']})`);
  return { events, sustainSeconds };
}

/** Events spread over the last minute, a millisecond apart, as a busy app's would be (index sizes depend on it). */
function makeEvents(prefix: string, n: number): BenchEvent[] {
  const start = Date.now() - 60_000;
  return Array.from({ length: n }, (_, i) => makeEvent(`${prefix}-${i}`, i, new Date(start + (i % 60_000)).toISOString()));
}

function makeEvent(key: string, i: number, timestamp: string): BenchEvent {
  return {
    idempotency_key: key,
    customer_external_id: `bench-customer-${i % CUSTOMERS}`,
    event_type: EVENT_TYPE,
    quantity: '1',
    timestamp,
    properties: { request: i },
    vendor_usage: [{ vendor: 'openai', model: 'gpt-4o-mini', input_tokens: 500 + (i % 1000), output_tokens: 100 + (i % 300) }],
  };
}

/**
 * A fresh organization like a real tenant (vendor rates, a SOFT limit, one
 * API key), with no rate limit of its own — as an operator would set up a
 * high-volume tenant (`npm run admin -- set-rate-limit --per-second 0`).
 */
async function benchOrganization(prisma: PrismaClient, label: string): Promise<{ id: string; key: string }> {
  const org = await prisma.organization.create({ data: { name: `bench-${label}-${randomUUID().slice(0, 8)}`, rateLimitPerSecond: 0 } });
  await prisma.vendorRate.createMany({
    data: DEMO_RATES.map((r) => ({ organizationId: org.id, vendor: r.vendor, model: r.model, inputPerMillionTokens: r.input, outputPerMillionTokens: r.output, effectiveFrom: new Date('2025-01-01T00:00:00Z') })),
  });
  await prisma.quotaLimit.create({ data: { organizationId: org.id, eventType: EVENT_TYPE, limitValue: '1000000000', mode: 'SOFT', resetWindow: 'month' } });
  const key = await createApiKey(prisma, org.id, 'bench', { type: 'system', id: 'bench' }, ['ingest', 'read']);
  return { id: org.id, key: key.key };
}

const INSERT_COLUMNS = `(id, organization_id, batch_id, idempotency_key, customer_external_id, event_type, feature,
                         quantity, "timestamp", properties, vendor_usage, revenue_amount, currency)`;

/** A table shaped like usage_events (same columns, defaults, indexes and storage settings), without its foreign keys. */
async function ceilingTable(pool: Pool, name: string): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${name}`);
  await pool.query(`CREATE TABLE ${name} (LIKE usage_events INCLUDING ALL)`);
  const { rows } = await pool.query<{ reloptions: string[] | null }>(`SELECT reloptions FROM pg_class WHERE relname = 'usage_events'`);
  if (rows[0]?.reloptions?.length) await pool.query(`ALTER TABLE ${name} SET (${rows[0].reloptions.join(', ')})`);
}

/** Single-row INSERT transactions over 16 connections for a few seconds: commits/s and the latency of one commit. */
async function commitCeiling(pool: Pool): Promise<{ perSec: number; p50: number; p99: number }> {
  await ceilingTable(pool, 'bench_commit_ceiling');
  const org = randomUUID();
  const batch = randomUUID();
  const latencies: number[] = [];
  let committed = 0;
  const clients: PoolClient[] = await Promise.all(Array.from({ length: COMMIT_CONNECTIONS }, () => pool.connect()));
  try {
    const deadline = performance.now() + COMMIT_SECONDS * 1000;
    let next = 0;
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < deadline) {
          const e = makeEvent(`c-${next}`, next++, new Date().toISOString());
          const started = performance.now();
          await client.query({
            name: 'commit-ceiling',
            text: `INSERT INTO bench_commit_ceiling ${INSERT_COLUMNS}
                   VALUES (${UUID_V7_SQL}, $1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, NULL, NULL)`,
            values: [org, batch, e.idempotency_key, e.customer_external_id, e.event_type, e.quantity, e.timestamp, JSON.stringify(e.properties), JSON.stringify(e.vendor_usage)],
          });
          latencies.push(performance.now() - started);
          committed += 1;
        }
      }),
    );
    return { perSec: committed / COMMIT_SECONDS, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  } finally {
    for (const c of clients) c.release();
    await pool.query('DROP TABLE bench_commit_ceiling');
  }
}

/** The same rows, one INSERT … SELECT FROM unnest(…) per 1,000, on one connection: what PostgreSQL alone takes in bulk (one pass). */
async function rawCeilingPass(pool: Pool, events: BenchEvent[]): Promise<number> {
  await ceilingTable(pool, 'bench_raw_ceiling');
  const org = randomUUID();
  const batch = randomUUID();
  const client = await pool.connect();
  try {
    const started = performance.now();
    for (let i = 0; i < events.length; i += RAW_CHUNK) {
      const chunk = events.slice(i, i + RAW_CHUNK);
      await client.query(
        `INSERT INTO bench_raw_ceiling ${INSERT_COLUMNS}
         SELECT ${UUID_V7_SQL}, $1::uuid, $2::uuid, u.*
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::timestamptz[], $9::jsonb[],
                       $10::jsonb[], $11::numeric[], $12::text[]) AS u
         ON CONFLICT (organization_id, idempotency_key) DO NOTHING
         RETURNING idempotency_key`,
        [
          org,
          batch,
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
    await pool.query('DROP TABLE bench_raw_ceiling');
  }
}

/**
 * The raw ceiling as the median of three passes, each into a fresh table: one
 * pass of 20,000 rows takes well under a second, and single passes moved
 * between 24,865 and 41,599 rows/s in one sitting.
 */
async function rawCeiling(pool: Pool, events: BenchEvent[]): Promise<{ perSec: number; passes: number[] }> {
  const passes: number[] = [];
  for (let pass = 0; pass < RAW_PASSES; pass++) {
    const prefix = `raw-${pass}-${randomUUID().slice(0, 8)}`;
    passes.push(await rawCeilingPass(pool, events.map((e) => ({ ...e, idempotency_key: `${prefix}-${e.idempotency_key}` }))));
  }
  return { perSec: median(passes), passes };
}

function accepted(res: { status: number; body: string }): number {
  if (res.status === 429) throw new Error(`the API rate-limited the benchmark (429): ${res.body.slice(0, 200)}`);
  if (res.status !== 202) throw new Error(`POST /api/v1/events answered ${res.status}: ${res.body.slice(0, 300)}`);
  const answer = JSON.parse(res.body) as { accepted: number; rejected: unknown[] };
  if (answer.rejected.length > 0) throw new Error(`the API rejected benchmark events: ${JSON.stringify(answer.rejected.slice(0, 3))}`);
  return answer.accepted;
}

async function ratedCount(pool: Pool, organizationId: string): Promise<number> {
  const { rows } = await pool.query<{ rated: string }>(`SELECT count(*) AS rated FROM usage_events WHERE organization_id = $1 AND status = 'rated'`, [organizationId]);
  return Number(rows[0]?.rated ?? 0);
}

async function waitUntilRated(pool: Pool, organizationId: string, expected: number, since: number): Promise<number> {
  let lastReport = performance.now();
  for (;;) {
    const rated = await ratedCount(pool, organizationId);
    const now = performance.now();
    if (rated >= expected) return now;
    if (now - since > E2E_TIMEOUT_MS) throw new Error(`only ${rated}/${expected} events rated after ${E2E_TIMEOUT_MS / 60_000} min; is the worker running?`);
    if (now - lastReport > 3_000) {
      say(`  ${n0(rated)}/${n0(expected)} rated`);
      lastReport = now;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stored-to-rated latency of the organization's events (received_at is the storing transaction's time). */
async function ratedLatency(pool: Pool, organizationId: string): Promise<{ p50: number; p99: number }> {
  const { rows } = await pool.query<{ p50: number; p99: number }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
       FROM (SELECT extract(epoch FROM rated_at - received_at) * 1000 AS ms FROM usage_events WHERE organization_id = $1 AND rated_at IS NOT NULL) AS l`,
    [organizationId],
  );
  return { p50: Number(rows[0]?.p50 ?? NaN), p99: Number(rows[0]?.p99 ?? NaN) };
}

interface Processes {
  pids: Record<string, number | null>;
}

interface ClosedLoopResult {
  name: string;
  events: number;
  requests: number;
  acceptedPerSec: number;
  p50Ms: number;
  p99Ms: number;
  endToEndPerSec: number;
  ratedP50Ms: number;
  ratedP99Ms: number;
  cpuMsPerEvent: Record<string, number | null>;
}

/** `requests` bodies posted by `concurrency` clients back to back, then waited on until every event is rated. */
async function closedLoop(stack: StackFile, pool: Pool, prisma: PrismaClient, procs: Processes, events: number, batchSize: number, concurrency: number): Promise<ClosedLoopResult> {
  const name = `${batchSize.toLocaleString('en-US')} ev/request × ${concurrency}`;
  const org = await benchOrganization(prisma, `${batchSize}x${concurrency}`);
  const all = makeEvents(`bench-${randomUUID().slice(0, 8)}`, events);
  const bodies: string[] = [];
  for (let i = 0; i < all.length; i += batchSize) bodies.push(JSON.stringify(batchSize === 1 ? all[i] : { events: all.slice(i, i + batchSize) }));
  const url = new URL(`${stack.api.url}/api/v1/events`);
  say(`${name}: posting ${n0(events)} events in ${n0(bodies.length)} requests…`);

  const latencies: number[] = [];
  let acceptedEvents = 0;
  let next = 0;
  let lastReport = performance.now();
  const cpuBefore = readCpu(procs.pids);
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < bodies.length) {
      const res = await post(url, org.key, bodies[next++]!);
      acceptedEvents += accepted(res);
      latencies.push(res.ms);
      if (performance.now() - lastReport > 3_000) {
        say(`  ${n0(latencies.length)}/${n0(bodies.length)} requests answered`);
        lastReport = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const postedAt = performance.now();
  say(`  all accepted in ${((postedAt - started) / 1000).toFixed(1)} s; waiting until every event is rated…`);
  const ratedAt = await waitUntilRated(pool, org.id, acceptedEvents, started);
  const cpuAfter = readCpu(procs.pids);
  say(`  all rated after ${((ratedAt - started) / 1000).toFixed(1)} s`);
  const rated = await ratedLatency(pool, org.id);
  return {
    name,
    events: acceptedEvents,
    requests: bodies.length,
    acceptedPerSec: acceptedEvents / ((postedAt - started) / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    endToEndPerSec: acceptedEvents / ((ratedAt - started) / 1000),
    ratedP50Ms: rated.p50,
    ratedP99Ms: rated.p99,
    cpuMsPerEvent: cpuPerUnitMs(cpuBefore, cpuAfter, acceptedEvents),
  };
}

interface SustainedResult {
  offeredPerSec: number;
  sentPerSec: number;
  ratedPerSec: number;
  ratedP50Ms: number;
  ratedP99Ms: number;
  requestP99Ms: number;
  maxBacklog: number;
  finalBacklog: number;
  failed: number;
  cpuMsPerEvent: Record<string, number | null>;
}

/**
 * One-event requests at a steady offered rate (open loop: sends go out on
 * schedule whether or not earlier ones were answered) for `seconds`. The
 * backlog (accepted, not yet rated) is printed every 5 s.
 */
async function sustained(stack: StackFile, pool: Pool, prisma: PrismaClient, procs: Processes, ratePerSec: number, seconds: number): Promise<SustainedResult> {
  const org = await benchOrganization(prisma, 'sustained');
  const url = new URL(`${stack.api.url}/api/v1/events`);
  const prefix = `sustained-${randomUUID().slice(0, 8)}`;
  say(`sustained: ${n0(ratePerSec)} one-event requests/s offered for ${seconds} s…`);
  const latencies: number[] = [];
  const failures: string[] = [];
  let sent = 0;
  let inFlight = 0;
  let maxBacklog = 0;
  const cpuBefore = readCpu(procs.pids);
  const windowStart = new Date();
  const started = performance.now();
  const end = started + seconds * 1000;
  let nextReport = started + 5_000;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.floor(((Math.min(now, end) - started) / 1000) * ratePerSec);
      while (sent < due) {
        const body = JSON.stringify(makeEvent(`${prefix}-${sent}`, sent, new Date().toISOString()));
        sent += 1;
        inFlight += 1;
        post(url, org.key, body)
          .then((res) => {
            accepted(res);
            latencies.push(res.ms);
          })
          .catch((err: unknown) => failures.push(err instanceof Error ? err.message : String(err)))
          .finally(() => {
            inFlight -= 1;
          });
      }
      if (now >= nextReport) {
        nextReport += 5_000;
        void readIngestBacklog(pool, org.id).then((b) => {
          maxBacklog = Math.max(maxBacklog, b.pendingEvents);
          say(`  ${((now - started) / 1000).toFixed(0).padStart(3)} s: sent ${n0(sent)}, answered ${n0(latencies.length)}, in flight ${inFlight}, backlog ${n0(b.pendingEvents)} events (oldest ${b.oldestPendingAt ? ((Date.now() - b.oldestPendingAt.getTime()) / 1000).toFixed(1) : '0'} s)`);
        });
      }
      if (now >= end) resolve();
      else setTimeout(tick, 5);
    };
    tick();
  });
  const windowEnd = new Date();
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
  if (failures.length > 0) say(`  ${n0(failures.length)} requests failed, e.g. ${failures[0]}`);
  const { rows } = await pool.query<{ rated: string }>(
    `SELECT count(*) AS rated FROM usage_events WHERE organization_id = $1 AND rated_at >= $2 AND rated_at < $3`,
    [org.id, windowStart, windowEnd],
  );
  const finalBacklog = (await readIngestBacklog(pool, org.id)).pendingEvents;
  say(`  offering done; ${n0(finalBacklog)} events still pending; waiting until every event is rated…`);
  await waitUntilRated(pool, org.id, sent - failures.length, performance.now());
  const cpuAfter = readCpu(procs.pids);
  const rated = await ratedLatency(pool, org.id);
  return {
    offeredPerSec: ratePerSec,
    sentPerSec: sent / seconds,
    ratedPerSec: Number(rows[0]?.rated ?? 0) / ((windowEnd.getTime() - windowStart.getTime()) / 1000),
    ratedP50Ms: rated.p50,
    ratedP99Ms: rated.p99,
    requestP99Ms: percentile(latencies, 99),
    maxBacklog,
    finalBacklog,
    failed: failures.length,
    cpuMsPerEvent: cpuPerUnitMs(cpuBefore, cpuAfter, sent - failures.length),
  };
}

async function entitlementLatency(stack: StackFile, prisma: PrismaClient, calls: number): Promise<{ quota: { p50: number; p99: number }; feature: { p50: number; p99: number } }> {
  const org = await benchOrganization(prisma, 'entitlements');
  // Features: the customers on a plan with a limit feature, two other plans an upgrade could bring.
  const plans = await Promise.all(
    [['bench-basic', '10', '5'], ['bench-pro', '50', '50'], ['bench-scale', '200', '500']].map(([key, fee, seats]) =>
      prisma.plan.create({ data: { organizationId: org.id, key: key!, name: key!, currency: 'usd', interval: 'month', baseFee: fee!, features: { create: { organizationId: org.id, feature: 'seats', kind: 'limit', limitValue: seats! } } } }),
    ),
  );
  for (let c = 0; c < CUSTOMERS; c++) {
    const customer = await prisma.customer.upsert({
      where: { organizationId_externalId: { organizationId: org.id, externalId: `bench-customer-${c}` } },
      create: { organizationId: org.id, externalId: `bench-customer-${c}` },
      update: {},
    });
    // Started an hour ago and marked as having its workflow: nothing bills these (a subscription without one would be
    // started by the next `npm start` or sweep and bill from its start date, loading the worker of later runs).
    await prisma.subscription.create({
      data: { organizationId: org.id, customerId: customer.id, planId: plans[0]!.id, startDate: new Date(Date.now() - 3_600_000), billingAnchorDay: 1, workflowStartedAt: new Date() },
    });
  }
  const url = new URL(`${stack.api.url}/api/v1/entitlements/check`);
  const measure = async (body: (i: number) => object) => {
    const latencies: number[] = [];
    for (let i = 0; i < calls + 50; i++) {
      const res = await post(url, org.key, JSON.stringify(body(i)));
      if (res.status !== 200) throw new Error(`POST /api/v1/entitlements/check answered ${res.status}: ${res.body.slice(0, 300)}`);
      if (i >= 50) latencies.push(res.ms); // the first 50 warm up connections and caches
    }
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  };
  const quota = await measure((i) => ({ customer_external_id: `bench-customer-${i % CUSTOMERS}`, event_type: EVENT_TYPE, quantity: 1 }));
  // Half allowed, half refused with upgrade options.
  const feature = await measure((i) => ({ customer_external_id: `bench-customer-${i % CUSTOMERS}`, feature: 'seats', quantity: i % 2 === 0 ? 3 : 20 }));
  return { quota, feature };
}

interface HeavyBodiesResult {
  bodies: number;
  bodyMiB: number;
  answers: Record<string, number>;
  seconds: number;
  apiPeakRssMiB: number | null;
  apiAlive: boolean;
}

/**
 * The API's memory bound under the heaviest bodies it accepts: `count` concurrent requests of 1,000 events whose
 * properties are 700 small keys each (~7.3 MB: every property is its own object on the heap), all sent at once.
 * Each must be answered 202 or 503 SERVER_BUSY (the body budget), and the API must still be up afterwards.
 */
async function heavyBodies(stack: StackFile, prisma: PrismaClient, count: number): Promise<HeavyBodiesResult> {
  const org = await benchOrganization(prisma, 'heavy');
  const url = new URL(`${stack.api.url}/api/v1/events`);
  const properties = Object.fromEntries(Array.from({ length: 700 }, (_, j) => [`p${j}`, j]));
  const prefix = `heavy-${randomUUID().slice(0, 8)}`;
  const bodies = Array.from({ length: count }, (_, b) =>
    JSON.stringify({ events: makeEvents(`${prefix}-${b}`, 1_000).map((e) => ({ ...e, properties })) }),
  );
  const bodyMiB = Buffer.byteLength(bodies[0]!) / 2 ** 20;
  say(`heavy bodies: ${count} concurrent requests of 1,000 events with 700-key properties (${bodyMiB.toFixed(1)} MiB each)…`);
  const rss = sampleRss(stack.api.pid, 50);
  const started = performance.now();
  const answers: Record<string, number> = {};
  await Promise.all(
    bodies.map(async (body) => {
      const res = await post(url, org.key, body).catch((err: unknown) => ({ status: 0, body: JSON.stringify({ code: (err as Error).message }) }));
      const code = res.status === 202 ? '202' : `${res.status} ${(JSON.parse(res.body || '{}') as { code?: string }).code ?? ''}`;
      answers[code] = (answers[code] ?? 0) + 1;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  rss.stop();
  const apiAlive = await fetch(`${stack.api.url}/health`).then((r) => r.ok, () => false);
  return { bodies: count, bodyMiB, answers, seconds, apiPeakRssMiB: rss.peak(), apiAlive };
}

/** Bytes usage_events takes per stored event: heap (with TOAST) and each index. */
async function storage(pool: Pool): Promise<{ rows: number; total: number; heap: number; indexes: { name: string; bytes: number }[] }> {
  const { rows: [table] } = await pool.query<{ rows: string; total: string; heap: string }>(
    `SELECT (SELECT count(*) FROM usage_events) AS rows, pg_total_relation_size('usage_events') AS total, pg_table_size('usage_events') AS heap`,
  );
  const { rows: indexes } = await pool.query<{ name: string; bytes: string }>(
    `SELECT indexrelid::regclass::text AS name, pg_relation_size(indexrelid) AS bytes FROM pg_index WHERE indrelid = 'usage_events'::regclass ORDER BY 2 DESC`,
  );
  return { rows: Number(table!.rows), total: Number(table!.total), heap: Number(table!.heap), indexes: indexes.map((i) => ({ name: i.name, bytes: Number(i.bytes) })) };
}

function cpuColumns(cpu: Record<string, number | null>): string[] {
  const f = (v: number | null | undefined): string => (v === null || v === undefined ? '?' : v.toFixed(3));
  const total = ['api', 'worker', 'temporal', 'postgres'].reduce((sum, k) => sum + (cpu[k] ?? 0), 0);
  return [f(cpu.api), f(cpu.worker), f(cpu.temporal), f(cpu.postgres), f(total), f(cpu.client)];
}

const serverCpu = (cpu: Record<string, number | null>): number => ['api', 'worker', 'temporal', 'postgres'].reduce((sum, k) => sum + (cpu[k] ?? 0), 0);

async function main(): Promise<void> {
  const { events, sustainSeconds } = options();
  const session = await acquireStack(say, 'bench-ingest-stack');
  const { stack } = session;
  const prisma = createPrismaClient(stack.databaseUrl, { max: 4 });
  const pool = createPgPool(stack.databaseUrl, { max: COMMIT_CONNECTIONS + 2 });
  const procs: Processes = {
    pids: {
      api: stack.api.pid,
      worker: stack.worker.pid,
      temporal: findProcess((argv) => /(^|\/)temporal$/.test(argv[0]!) && argv.includes('start-dev')),
      postgres: findProcess((argv) => /(^|\/)postgres$/.test(argv[0]!) && argv.includes('-D')),
    },
  };
  const apiRss = sampleRss(stack.api.pid);
  const workerRss = sampleRss(stack.worker.pid);
  try {
    say(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    say(`stack: API ${stack.api.url} (pid ${stack.api.pid}), worker pid ${stack.worker.pid}, Temporal pid ${procs.pids.temporal ?? '?'}, PostgreSQL pid ${procs.pids.postgres ?? '?'}`);
    say(`commit ceiling: single-row INSERT transactions over ${COMMIT_CONNECTIONS} connections for ${COMMIT_SECONDS} s…`);
    const commit = await commitCeiling(pool);
    say(`  ${n0(commit.perSec)} commits/s, p50 ${ms1(commit.p50)} ms, p99 ${ms1(commit.p99)} ms`);
    say(`raw ceiling: ${n0(events)} rows, ${RAW_CHUNK} per INSERT, one connection…`);
    const { perSec: raw, passes: rawPasses } = await rawCeiling(pool, makeEvents('raw', events));
    say(`  ${n0(raw)} rows/s (median of ${rawPasses.map(n0).join(', ')})`);
    say(`HTTP floor: ${n0(events)} one-event requests × 16 to a bare node:http server answering 202…`);
    const floor = await measureHttpFloor(
      makeEvents(`floor-${randomUUID().slice(0, 8)}`, events).map((e) => JSON.stringify(e)),
      16,
    );
    say(`  ${n0(floor.perSec)} requests/s; CPU per request: server ${floor.serverMs.toFixed(3)} ms, client ${floor.clientMs.toFixed(3)} ms`);

    const single = await closedLoop(stack, pool, prisma, procs, events, 1, 16);
    const sustain = await sustained(stack, pool, prisma, procs, TARGETS.sustainedOfferedOfCommit * commit.perSec, sustainSeconds);
    const bulk = await closedLoop(stack, pool, prisma, procs, events, 1_000, 4);
    say('entitlement checks: 1,000 sequential calls for a quota, 1,000 for a feature…');
    const entitlement = await entitlementLatency(stack, prisma, 1_000);
    // The target is the peak under the traffic above; the heavy bodies below have a bound of their own.
    const apiPeakRss = apiRss.peak();
    const heavy = await heavyBodies(stack, prisma, 8);
    const stored = await storage(pool);

    console.log(`\nIngest benchmark, ${new Date().toISOString()}: ${n0(events)} events per closed-loop scenario`);
    console.log(`commit ceiling ${n0(commit.perSec)} commits/s (p99 ${ms1(commit.p99)} ms); raw ceiling ${n0(raw)} rows/s`);
    console.log(`HTTP floor (a bare node:http server, 1 event × 16): ${n0(floor.perSec)} requests/s; CPU per request: server ${floor.serverMs.toFixed(3)} ms, client ${floor.clientMs.toFixed(3)} ms\n`);
    console.log(
      formatTable(
        ['scenario', 'requests', 'accepted ev/s', 'of ceiling', 'p50 ms', 'p99 ms', 'end-to-end ev/s', 'of ceiling', 'stored→rated p99 ms'],
        [
          [single.name, n0(single.requests), n0(single.acceptedPerSec), `${(single.acceptedPerSec / commit.perSec).toFixed(2)}× commit`, ms1(single.p50Ms), ms1(single.p99Ms), n0(single.endToEndPerSec), `${(single.endToEndPerSec / commit.perSec).toFixed(2)}× commit`, ms1(single.ratedP99Ms)],
          [bulk.name, n0(bulk.requests), n0(bulk.acceptedPerSec), `${(bulk.acceptedPerSec / raw).toFixed(2)}× raw`, ms1(bulk.p50Ms), ms1(bulk.p99Ms), n0(bulk.endToEndPerSec), `${(bulk.endToEndPerSec / raw).toFixed(2)}× raw`, ms1(bulk.ratedP99Ms)],
        ],
      ),
    );
    console.log(
      `\nsustained ${sustainSeconds} s: offered ${n0(sustain.offeredPerSec)}/s (${TARGETS.sustainedOfferedOfCommit}× commit), sent ${n0(sustain.sentPerSec)}/s, rated ${n0(sustain.ratedPerSec)}/s ` +
        `(${(sustain.ratedPerSec / sustain.offeredPerSec).toFixed(2)}× offered); stored→rated p50 ${ms1(sustain.ratedP50Ms)} ms, p99 ${ms1(sustain.ratedP99Ms)} ms; ` +
        `request p99 ${ms1(sustain.requestP99Ms)} ms; backlog at most ${n0(sustain.maxBacklog)} events, ${n0(sustain.finalBacklog)} at the end; ${n0(sustain.failed)} requests failed`,
    );
    console.log('\nCPU milliseconds per event (from /proc, each process with its children):\n');
    console.log(
      formatTable(
        ['scenario', 'API', 'worker', 'Temporal', 'PostgreSQL', 'total (servers)', 'bench client'],
        [
          [single.name, ...cpuColumns(single.cpuMsPerEvent)],
          ['sustained', ...cpuColumns(sustain.cpuMsPerEvent)],
          [bulk.name, ...cpuColumns(bulk.cpuMsPerEvent)],
        ],
      ),
    );
    // What 0.5 × the commit ceiling allows per event on this machine, against what 1 × 16 took and the protocol's share of it.
    const budgetMs = (os.cpus().length * 1000) / (TARGETS.singleAcceptedOfCommit * commit.perSec);
    const singleMachineMs = serverCpu(single.cpuMsPerEvent) + (single.cpuMsPerEvent.client ?? 0);
    console.log(
      `\n1 event × 16, machine CPU per event: ${singleMachineMs.toFixed(3)} ms (servers and client); ${TARGETS.singleAcceptedOfCommit} × the commit ceiling allows ` +
        `${budgetMs.toFixed(3)} ms on ${os.cpus().length} cores; the HTTP floor alone takes ${(floor.serverMs + floor.clientMs).toFixed(3)} ms`,
    );
    console.log(`\nentitlement check, quota: p50 ${entitlement.quota.p50.toFixed(2)} ms, p99 ${entitlement.quota.p99.toFixed(2)} ms; feature: p50 ${entitlement.feature.p50.toFixed(2)} ms, p99 ${entitlement.feature.p99.toFixed(2)} ms`);
    console.log(`peak RSS during the scenarios above (VmRSS sampled): API ${apiPeakRss?.toFixed(0) ?? '?'} MiB, worker ${workerRss.peak()?.toFixed(0) ?? '?'} MiB`);
    const heavyAnswers = Object.entries(heavy.answers).map(([code, n]) => `${n} × ${code}`).join(', ');
    console.log(
      `heavy bodies: ${heavy.bodies} × ${heavy.bodyMiB.toFixed(1)} MiB at once answered in ${heavy.seconds.toFixed(1)} s (${heavyAnswers}); API peak RSS ${heavy.apiPeakRssMiB?.toFixed(0) ?? '?'} MiB, ${heavy.apiAlive ? 'up afterwards' : 'DOWN afterwards'}`,
    );
    const perRow = (bytes: number): string => (stored.rows > 0 ? (bytes / stored.rows).toFixed(0) : '?');
    console.log(`\nstorage: usage_events holds ${n0(stored.rows)} rows, ${perRow(stored.total)} B per event: heap (with TOAST) ${perRow(stored.heap)} B, ${stored.indexes.map((i) => `${i.name} ${perRow(i.bytes)} B`).join(', ')}`);

    const bulkP99Target = TARGETS.bulkP99OfRawTime * ((4 * 1_000) / raw) * 1000;
    const checks: [string, boolean][] = [
      [`1-event × 16 accepted ≥ ${TARGETS.singleAcceptedOfCommit}× commit ceiling (${(single.acceptedPerSec / commit.perSec).toFixed(2)}×)`, single.acceptedPerSec >= TARGETS.singleAcceptedOfCommit * commit.perSec],
      [`1-event × 16 p99 ≤ ${TARGETS.singleP99OfCommitP99}× commit p99 (${ms1(single.p99Ms)} ms vs ${ms1(TARGETS.singleP99OfCommitP99 * commit.p99)} ms: ${(single.p99Ms / commit.p99).toFixed(1)}×)`, single.p99Ms <= TARGETS.singleP99OfCommitP99 * commit.p99],
      [`1-event × 16 CPU ≤ ${TARGETS.singleCpuMsPerEvent} ms per event, all servers (${serverCpu(single.cpuMsPerEvent).toFixed(3)} ms)`, serverCpu(single.cpuMsPerEvent) <= TARGETS.singleCpuMsPerEvent],
      [`sustained rated ≥ ${TARGETS.sustainedRatedOfOffered}× offered (${(sustain.ratedPerSec / sustain.offeredPerSec).toFixed(2)}×)`, sustain.ratedPerSec >= TARGETS.sustainedRatedOfOffered * sustain.offeredPerSec],
      [`sustained stored→rated p99 ≤ ${TARGETS.sustainedP99Ms} ms (${ms1(sustain.ratedP99Ms)} ms)`, sustain.ratedP99Ms <= TARGETS.sustainedP99Ms],
      [`1,000 × 4 accepted ≥ ${TARGETS.bulkAcceptedOfRaw}× raw (${(bulk.acceptedPerSec / raw).toFixed(2)}×)`, bulk.acceptedPerSec >= TARGETS.bulkAcceptedOfRaw * raw],
      [`1,000 × 4 end-to-end ≥ ${TARGETS.bulkEndToEndOfRaw}× raw (${(bulk.endToEndPerSec / raw).toFixed(2)}×)`, bulk.endToEndPerSec >= TARGETS.bulkEndToEndOfRaw * raw],
      [`1,000 × 4 p99 ≤ ${TARGETS.bulkP99OfRawTime} × (4,000 rows ÷ raw) = ${ms1(bulkP99Target)} ms (${ms1(bulk.p99Ms)} ms)`, bulk.p99Ms <= bulkP99Target],
      [`1,000 × 4 CPU ≤ ${TARGETS.bulkCpuMsPerEvent} ms per event, all servers (${serverCpu(bulk.cpuMsPerEvent).toFixed(3)} ms)`, serverCpu(bulk.cpuMsPerEvent) <= TARGETS.bulkCpuMsPerEvent],
      [`entitlement check (quota) p99 ≤ ${TARGETS.entitlementP99Ms} ms (${entitlement.quota.p99.toFixed(2)} ms)`, entitlement.quota.p99 <= TARGETS.entitlementP99Ms],
      [`entitlement check (feature) p99 ≤ ${TARGETS.entitlementP99Ms} ms (${entitlement.feature.p99.toFixed(2)} ms)`, entitlement.feature.p99 <= TARGETS.entitlementP99Ms],
      [`API peak RSS ≤ ${TARGETS.apiRssMiB} MiB (${apiPeakRss?.toFixed(0) ?? 'unreadable'} MiB)`, (apiPeakRss ?? Infinity) <= TARGETS.apiRssMiB],
      [
        `heavy bodies: each answered 202 or 503 SERVER_BUSY, the API up afterwards (${heavyAnswers}; API peak RSS ${heavy.apiPeakRssMiB?.toFixed(0) ?? '?'} MiB)`,
        heavy.apiAlive && Object.keys(heavy.answers).every((code) => code === '202' || code === '503 SERVER_BUSY'),
      ],
    ];
    console.log('');
    for (const [label, ok] of checks) console.log(`${ok ? 'PASS' : 'FAIL'}  ${label}`);
  } finally {
    apiRss.stop();
    workerRss.stop();
    closeHttpClient();
    await Promise.allSettled([prisma.$disconnect(), pool.end()]);
    await session.stop();
  }
}


main().catch((err: unknown) => {
  process.stderr.write(`bench:ingest failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

// `npm run bench:credits [-- --events N --rounds R --entries M]`: what prepaid credits cost (issue 15),
// on the stack `npm start` runs (.data/stack.json), or on one this benchmark starts and stops.
// - burning: 1,000-event requests through the API, rated (and burned) by the worker's ingest batches,
//   for an organization without wallets and one whose every customer has a wallet and burn rates,
//   alternated R times; prints CPU milliseconds per event of each process (from /proc) for both, each
//   round's ratio and their median (target: burning adds ≤ 20 %); each round starts with autovacuum idle, a VACUUM and a
//   checkpoint, and ends with a VACUUM and a checkpoint inside its window, so it pays for its own
//   cleanup and nobody else's;
// - balance reads: a wallet with M ledger entries (seeded in SQL), read 1,000 times through
//   GET /api/v1/customers/:id/wallet (target p99 ≤ 10 ms), beside the sum over every entry that a
//   ledger without running balances would need.
// Never part of `npm test`; numbers go to BENCHMARKS.md.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Pool } from 'pg';
import { createApiKey } from '../prisma/api-keys';
import { createPgPool, createPrismaClient, type PrismaClient } from '../prisma/client';
import { ensureWallet, insertGrant } from '../prisma/credit-ledger';
import { dec } from '../billing/decimal';
import { closeHttpClient, post, request } from './lib/http-client';
import { cpuPerUnitMs, findProcess, readCpu } from './lib/proc-cpu';
import { acquireStack } from './lib/stack-session';
import { formatTable, median, percentile } from './lib/stats';

const EVENT_TYPE = 'llm.completion';
const CUSTOMERS = 50;
const BATCH = 1_000;
const CONCURRENCY = 2;
const READS = 1_000;
const TARGET_BURN_OVERHEAD = 0.2;
const TARGET_BALANCE_P99_MS = 10;
const RATED_TIMEOUT_MS = 10 * 60_000;

const say = (line: string): void => {
  process.stdout.write(`[bench] ${line}\n`);
};
const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');

function options(): { events: number; rounds: number; entries: number } {
  const { values } = parseArgs({ options: { events: { type: 'string' }, rounds: { type: 'string' }, entries: { type: 'string' } }, strict: true });
  const whole = (raw: string | undefined, fallback: number, name: string, min: number): number => {
    const value = Number(raw ?? fallback);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min} (got ${raw})`);
    return value;
  };
  return { events: whole(values.events, 100_000, 'events', BATCH), rounds: whole(values.rounds, 6, 'rounds', 1), entries: whole(values.entries, 1_000_000, 'entries', 1) };
}

/** An organization with a sum meter and a count meter on the benchmark's event type; with `wallets`, burn rates and a wallet per customer. */
async function organization(prisma: PrismaClient, wallets: boolean): Promise<{ id: string; key: string }> {
  const org = await prisma.organization.create({ data: { name: `bench-credits-${wallets ? 'wallets' : 'plain'}-${randomUUID().slice(0, 8)}`, rateLimitPerSecond: 0 } });
  const tokens = await prisma.meter.create({ data: { organizationId: org.id, key: 'tokens', name: 'Tokens', eventType: EVENT_TYPE, aggregation: 'sum', dimension: 'model' } });
  const calls = await prisma.meter.create({ data: { organizationId: org.id, key: 'calls', name: 'Calls', eventType: EVENT_TYPE, aggregation: 'count' } });
  if (wallets) {
    const from = new Date('2025-01-01T00:00:00Z');
    await prisma.creditBurnRate.createMany({
      data: [
        { id: randomUUID(), organizationId: org.id, meterId: tokens.id, dimensionValue: null, credits: '1', perUnits: '1000', effectiveFrom: from, createdBy: 'bench' },
        { id: randomUUID(), organizationId: org.id, meterId: tokens.id, dimensionValue: 'gpt-4o', credits: '5', perUnits: '1000', effectiveFrom: from, createdBy: 'bench' },
        { id: randomUUID(), organizationId: org.id, meterId: calls.id, dimensionValue: null, credits: '0.5', perUnits: '1', effectiveFrom: from, createdBy: 'bench' },
      ],
    });
    for (let c = 0; c < CUSTOMERS; c++) {
      const customer = await prisma.customer.create({ data: { organizationId: org.id, externalId: `bench-customer-${c}` } });
      await prisma.$transaction(async (tx) => {
        const walletId = await ensureWallet(tx, org.id, customer.id);
        await insertGrant(tx, { organizationId: org.id, walletId, kind: 'purchased', credits: dec('1000000000'), priority: 100, expiresAt: null, pricePerCredit: dec('0.001'), currency: 'usd', description: null, idempotencyKey: randomUUID(), createdBy: 'bench' });
      });
    }
  }
  const key = await createApiKey(prisma, org.id, 'bench', { type: 'system', id: 'bench' }, ['ingest', 'read']);
  return { id: org.id, key: key.key };
}

function requestBodies(n: number): string[] {
  const start = Date.now() - 60_000;
  const prefix = randomUUID().slice(0, 8);
  const bodies: string[] = [];
  for (let i = 0; i < n; i += BATCH) {
    const events = Array.from({ length: Math.min(BATCH, n - i) }, (_, k) => {
      const j = i + k;
      return {
        idempotency_key: `${prefix}-${j}`,
        customer_external_id: `bench-customer-${j % CUSTOMERS}`,
        event_type: EVENT_TYPE,
        quantity: String(500 + (j % 1000)),
        timestamp: new Date(start + (j % 60_000)).toISOString(),
        properties: { model: j % 3 === 0 ? 'gpt-4o' : 'gpt-4o-mini' },
      };
    });
    bodies.push(JSON.stringify({ events }));
  }
  return bodies;
}

async function ratedCount(pool: Pool, organizationId: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM usage_events WHERE organization_id = $1 AND status = 'rated'`, [organizationId]);
  return Number(rows[0]?.n ?? 0);
}

/** Until PostgreSQL has no autovacuum at work (at most a minute): what an earlier round left behind is not charged to the next. */
async function settle(pool: Pool): Promise<void> {
  const until = performance.now() + 60_000;
  while (performance.now() < until) {
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'`);
    if (Number(rows[0]!.n) === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Posts the events, waits until all are rated, then vacuums and checkpoints (so the round pays for the
 * dead rows and dirty pages it made, instead of whichever round runs while autovacuum and the
 * checkpointer catch up): CPU milliseconds per event of each process over the whole.
 */
async function ingestRound(apiUrl: string, pool: Pool, pids: Record<string, number | null>, org: { id: string; key: string }, events: number): Promise<Record<string, number | null>> {
  const bodies = requestBodies(events);
  const url = new URL(`${apiUrl}/api/v1/events`);
  // Outside the window: whatever an earlier round or run left (dead rows, dirty pages) is cleaned first.
  await settle(pool);
  await pool.query('VACUUM');
  await pool.query('CHECKPOINT');
  const before = readCpu(pids);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < bodies.length) {
      const res = await post(url, org.key, bodies[next++]!);
      if (res.status !== 202) throw new Error(`POST /api/v1/events answered ${res.status}: ${res.body.slice(0, 300)}`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  while ((await ratedCount(pool, org.id)) < events) {
    if (performance.now() - started > RATED_TIMEOUT_MS) throw new Error(`events not rated after ${RATED_TIMEOUT_MS / 60_000} min; is the worker running?`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await pool.query('VACUUM');
  await pool.query('CHECKPOINT');
  return cpuPerUnitMs(before, readCpu(pids), events);
}

/** A wallet with `entries` burn entries after its grant, written in SQL (as burns write them: balance_after running down). */
async function seedLedger(prisma: PrismaClient, pool: Pool, entries: number): Promise<{ customer: string; key: string; walletId: string }> {
  const org = await prisma.organization.create({ data: { name: `bench-credits-ledger-${randomUUID().slice(0, 8)}`, rateLimitPerSecond: 0 } });
  const customer = await prisma.customer.create({ data: { organizationId: org.id, externalId: 'bench-ledger-customer' } });
  const { walletId, grantId } = await prisma.$transaction(async (tx) => {
    const walletId = await ensureWallet(tx, org.id, customer.id);
    const { grantId } = await insertGrant(tx, { organizationId: org.id, walletId, kind: 'purchased', credits: dec(entries * 2), priority: 100, expiresAt: null, pricePerCredit: dec('0.001'), currency: 'usd', description: null, idempotencyKey: 'bench', createdBy: 'bench' });
    return { walletId, grantId };
  });
  const chunk = 100_000;
  for (let from = 1; from <= entries; from += chunk) {
    const to = Math.min(entries, from + chunk - 1);
    await pool.query(
      `WITH t AS (
         INSERT INTO credit_transactions (id, organization_id, wallet_id, kind, key, credits, created_by)
         SELECT gen_random_uuid(), $1, $2, 'burn', 'bench-burn-' || i, 1, 'bench' FROM generate_series($4::int, $5::int) AS i
         RETURNING id, substr(key, 12)::int AS i)
       INSERT INTO credit_ledger_entries (id, organization_id, transaction_id, wallet_id, grant_id, position, debit, credit, amount, balance_after)
       SELECT gen_random_uuid(), $1, t.id, $2, $3, 1, 'grant', 'usage', 1, $6::numeric - t.i FROM t ORDER BY t.i`,
      [org.id, walletId, grantId, from, to, entries * 2],
    );
    say(`  ${n0(to)}/${n0(entries)} entries`);
  }
  // As after any bulk load: the reads then measure the steady state, not autovacuum catching up on a million new rows.
  await pool.query('VACUUM (ANALYZE) credit_ledger_entries, credit_transactions');
  const key = await createApiKey(prisma, org.id, 'bench', { type: 'system', id: 'bench' }, ['read']);
  return { customer: customer.externalId, key: key.key, walletId };
}

async function main(): Promise<void> {
  const { events, rounds, entries } = options();
  const session = await acquireStack(say, 'bench-credits-stack');
  const { stack } = session;
  const prisma = createPrismaClient(stack.databaseUrl, { max: 4 });
  const pool = createPgPool(stack.databaseUrl, { max: 4 });
  const pids = {
    api: stack.api.pid,
    worker: stack.worker.pid,
    temporal: findProcess((argv) => /(^|\/)temporal$/.test(argv[0]!) && argv.includes('start-dev')),
    postgres: findProcess((argv) => /(^|\/)postgres$/.test(argv[0]!) && argv.includes('-D')),
  };
  const total = (cpu: Record<string, number | null>): number => Object.values(cpu).reduce<number>((s, v) => s + (v ?? 0), 0);
  try {
    say(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const rows: string[][] = [];
    const sums = { plain: 0, wallets: 0 };
    // Each round's two kinds run back to back, so its ratio compares like with like; the verdict is the median
    // of the rounds' ratios: a round that the shared host or PostgreSQL's own background work disturbed (seen:
    // ten times the CPU per event for one kind) is then one outlier among R, not a share of the whole sum.
    const ratios: number[] = [];
    // Unmeasured: the first requests pay for cold caches, JIT and the stack settling (seen: the first round
    // without wallets cost three times the second), which would be charged to whichever kind ran first.
    say(`warm-up, not measured: ${n0(events / 4)} events with and without wallets…`);
    for (const wallets of [false, true]) await ingestRound(stack.api.url, pool, pids, await organization(prisma, wallets), Math.max(BATCH, Math.round(events / 4 / BATCH) * BATCH));
    for (let r = 1; r <= rounds; r++) {
      // Alternating which kind goes first, so a machine that speeds up or slows down over the run favours neither.
      const perKind = { plain: 0, wallets: 0 };
      for (const wallets of r % 2 === 1 ? [false, true] : [true, false]) {
        const org = await organization(prisma, wallets);
        say(`round ${r}, ${wallets ? `${CUSTOMERS} customers with wallets and burn rates` : 'no wallets'}: ${n0(events)} events in ${BATCH}-event requests × ${CONCURRENCY}…`);
        const cpu = await ingestRound(stack.api.url, pool, pids, org, events);
        if (wallets) {
          const { rows: burned } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM credit_transactions WHERE organization_id = $1 AND kind = 'burn'`, [org.id]);
          if (Number(burned[0]!.n) === 0) throw new Error('no burn was written: are burn rates and wallets in place?');
        }
        sums[wallets ? 'wallets' : 'plain'] += total(cpu);
        perKind[wallets ? 'wallets' : 'plain'] = total(cpu);
        rows.push([`${r}`, wallets ? 'wallets' : 'none', ...['api', 'worker', 'temporal', 'postgres'].map((p) => cpu[p]?.toFixed(3) ?? '?'), total(cpu).toFixed(3)]);
      }
      ratios.push(perKind.wallets / perKind.plain - 1);
    }
    const summed = sums.wallets / sums.plain - 1;
    const overhead = median(ratios);

    say(`balance reads: seeding a wallet with ${n0(entries)} ledger entries…`);
    const ledger = await seedLedger(prisma, pool, entries);
    const url = new URL(`${stack.api.url}/api/v1/customers/${ledger.customer}/wallet`);
    const latencies: number[] = [];
    for (let i = 0; i < READS; i++) {
      const res = await request('GET', url, ledger.key);
      if (res.status !== 200) throw new Error(`GET wallet answered ${res.status}: ${res.body.slice(0, 200)}`);
      latencies.push(res.ms);
    }
    const sumMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await pool.query(`SELECT sum(CASE WHEN credit = 'grant' THEN amount ELSE -amount END) FROM credit_ledger_entries WHERE wallet_id = $1`, [ledger.walletId]);
      sumMs.push(performance.now() - started);
    }

    console.log(`\nCredits benchmark, ${new Date().toISOString()}: ${n0(events)} events per round, ${rounds} rounds\n`);
    console.log('CPU milliseconds per event (from /proc, each process with its children):');
    console.log(formatTable(['round', 'wallets', 'API', 'worker', 'Temporal', 'PostgreSQL', 'servers'], rows));
    const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;
    console.log(`\nburning adds, round by round: ${ratios.map(pct).join(', ')}; median ${pct(overhead)}`);
    console.log(`servers, summed over the rounds: ${(sums.plain / rounds).toFixed(3)} ms/event without wallets, ${(sums.wallets / rounds).toFixed(3)} with: ${pct(summed)}`);
    console.log(`balance read through the API, ${n0(entries)} entries on the wallet, ${READS} sequential reads: p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`);
    console.log(`(a sum over every entry of that wallet instead: median ${percentile(sumMs, 50).toFixed(1)} ms)\n`);
    console.log(`${overhead <= TARGET_BURN_OVERHEAD ? 'PASS' : 'FAIL'}  burning adds ≤ ${TARGET_BURN_OVERHEAD * 100} % CPU per event (median of ${rounds} rounds: ${pct(overhead)})`);
    const p99 = percentile(latencies, 99);
    console.log(`${p99 <= TARGET_BALANCE_P99_MS ? 'PASS' : 'FAIL'}  balance read p99 ≤ ${TARGET_BALANCE_P99_MS} ms with ${n0(entries)} entries (${p99.toFixed(2)} ms)`);
  } finally {
    closeHttpClient();
    await Promise.allSettled([prisma.$disconnect(), pool.end()]);
    await session.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

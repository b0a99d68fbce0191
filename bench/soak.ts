import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createApiKey } from '../prisma/api-keys';
import { createPgPool, createPrismaClient } from '../prisma/client';
import { startEmbeddedPostgres } from '../prisma/embedded-postgres';
import { applyMigrations } from '../prisma/migrate';
import { freePort, startDevServer } from '../temporal/dev-server';
import { DEFAULT_NAMESPACE } from '../temporal/names';
import { writeWorkflowBundle } from '../worker/interceptors';
import { ingestBooksProblems, readIngestBooks } from '../test/harness/ingest-books';
import { startProcess, type TestProcess } from '../test/harness/processes';
import { findProcess, treeCpuSeconds } from './lib/proc-cpu';
import { rssMiB } from './lib/rss-sampler';
import { formatTable, percentile } from './lib/stats';

/*
 * Soak and scale-out (issue 13, points 7 and 8), by hand, into BENCHMARKS.md:
 *
 *   npm run bench:soak                                     # 20 min, 1 API, 1 worker killed every 3 min
 *   npm run bench:soak -- --apis 2 --workers 2 --minutes 3 # two of everything
 *
 * Starts its own PostgreSQL (embedded, in a temporary directory), Temporal dev
 * server (in memory), N API processes and M worker processes, all on
 * 127.0.0.1. It first measures the most one-event requests per second the APIs
 * accept at concurrency 16 (the "maximum"), then offers half of that, open loop,
 * for the soak, round robin over the APIs, while a worker is killed with
 * SIGKILL every --kill-every seconds and a new one started at once. A request
 * that fails is sent again with the same idempotency key, as a client must.
 * Every window it prints the answers, request p50/p99, the unrated backlog and
 * each process's RSS; at the end, once everything is rated, whether the books
 * balance (test/harness/ingest-books.ts: every event stored once, rated, in
 * exactly one processed batch, counted once) and which worker ran how many
 * batches. The workers run at LOG_LEVEL=debug so their activity lines can be
 * counted per process: a few lines per batch, part of their CPU figure.
 */

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '20' },
    apis: { type: 'string', default: '1' },
    workers: { type: 'string', default: '1' },
    'kill-every': { type: 'string', default: '180' },
    'probe-seconds': { type: 'string', default: '20' },
    'window-seconds': { type: 'string', default: '60' },
    share: { type: 'string', default: '0.5' },
  },
});
const positive = (name: string, raw: string | undefined): number => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number (got "${raw}")`);
  return n;
};
const MINUTES = positive('minutes', args.minutes);
const APIS = Math.max(1, Math.floor(positive('apis', args.apis)));
const WORKERS = Math.max(1, Math.floor(positive('workers', args.workers)));
const KILL_EVERY_S = positive('kill-every', args['kill-every']);
const PROBE_S = positive('probe-seconds', args['probe-seconds']);
const WINDOW_S = Math.max(5, positive('window-seconds', args['window-seconds']));
const SHARE = positive('share', args.share);
/** requests in flight at most; past it the client is the bottleneck, and says so */
const MAX_IN_FLIGHT = 4_000;

const say = (line: string): void => void process.stdout.write(`[soak] ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number | null, digits = 0): string => (n === null ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

/** 202, another status, or no answer (connection refused or reset, 10 s without one). */
type Answer = { status: number } | { status: null };

/** A client gives up on one event after trying this long; a soak that needs it has failed. */
const GIVE_UP_MS = 120_000;

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-soak-'));
  fs.chmodSync(root, 0o755);
  say(`${APIS} API and ${WORKERS} worker process(es); PostgreSQL and Temporal of its own in ${root}`);
  const postgres = await startEmbeddedPostgres({ dataDir: path.join(root, 'postgres'), port: await freePort() });
  const cleanup: (() => Promise<unknown>)[] = [() => postgres.stop()];
  const processes: TestProcess[] = [];
  let ticker: NodeJS.Timeout | undefined;
  let killer: NodeJS.Timeout | undefined;
  try {
    applyMigrations(postgres.url);
    const temporal = await startDevServer({ port: await freePort(), ui: false, namespace: DEFAULT_NAMESPACE, log: () => undefined });
    cleanup.unshift(() => temporal.stop());
    const bundlePath = path.join(root, 'workflow-bundle.js');
    await writeWorkflowBundle(bundlePath, say);

    const prisma = createPrismaClient(postgres.url, { max: 2 });
    const pool = createPgPool(postgres.url, { max: 2 });
    cleanup.unshift(() => Promise.allSettled([prisma.$disconnect(), pool.end()]));
    const org = await prisma.organization.create({ data: { name: 'soak', rateLimitPerSecond: 0 } });
    await prisma.quotaLimit.create({ data: { organizationId: org.id, eventType: 'api_call', limitValue: '1000000000', mode: 'SOFT', resetWindow: 'month' } });
    const { key } = await createApiKey(prisma, org.id, 'soak', { type: 'system', id: 'bench' }, ['ingest']);

    const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
      ...process.env,
      DATABASE_URL: postgres.url,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: DEFAULT_NAMESPACE,
      HOST: '127.0.0.1',
      RATE_LIMIT_PER_ORGANIZATION_PER_SECOND: '0',
      RATE_LIMIT_PER_IP_PER_SECOND: '0',
      LEDGERFLOW_WORKFLOW_BUNDLE: bundlePath,
      LEDGERFLOW_SECRET_KEY: randomBytes(32).toString('base64'),
      // The worker's debug lines name each activity it ran: the batches per worker are counted from them.
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'json',
      ...extra,
    });
    const apiPorts = await Promise.all(Array.from({ length: APIS }, () => freePort()));
    const apis = apiPorts.map((port, i) => startProcess(`api-${i + 1}`, 'api/main.ts', env({ PORT: String(port), LOG_LEVEL: 'info' })));
    processes.push(...apis);
    let workerCount = 0;
    /** when each worker process became ready and when it was killed (or the run ended) */
    const lifetimes = new Map<TestProcess, { ready: number; gone: number | null }>();
    const startWorker = async (): Promise<TestProcess> => {
      const started = startProcess(`worker-${++workerCount}`, 'worker/main.ts', env({}));
      processes.push(started);
      await started.printed(/worker ready on task queue /, 120_000);
      lifetimes.set(started, { ready: Date.now(), gone: null });
      return started;
    };
    await Promise.all(apis.map((a) => a.printed(/api listening on /)));
    const workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker()));
    say(`ready: APIs on ${apiPorts.join(', ')}`);

    const agents = apiPorts.map(() => new http.Agent({ keepAlive: true, maxSockets: 64 }));
    const perApi = apiPorts.map(() => 0);
    let nextApi = 0;
    const post = (idempotencyKey: string): Promise<Answer> => {
      const i = nextApi++ % APIS;
      const body = JSON.stringify({ idempotency_key: idempotencyKey, customer_external_id: `c-${idempotencyKey.length % 7}`, event_type: 'api_call', quantity: 1, timestamp: new Date().toISOString() });
      return new Promise((resolve) => {
        let settled = false;
        const settle = (answer: Answer): void => {
          if (settled) return;
          settled = true;
          if (answer.status === 202) perApi[i]! += 1;
          resolve(answer);
        };
        const req = http.request(
          { host: '127.0.0.1', port: apiPorts[i], path: '/api/v1/events', method: 'POST', agent: agents[i], headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => settle({ status: res.statusCode ?? 0 }));
            res.on('close', () => settle(res.complete ? { status: res.statusCode ?? 0 } : { status: null }));
          },
        );
        req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
        req.on('error', () => settle({ status: null }));
        req.end(body);
      });
    };
    /**
     * Sends until answered 202, the same key each time, as a client must:
     * again after no answer, a 5xx or a 429, never after another 4xx (a
     * refusal, counted). The latency recorded runs from the first attempt.
     */
    let retries = 0;
    let refused = 0;
    let abandoned = 0;
    const deliver = async (idempotencyKey: string): Promise<number | null> => {
      const started = performance.now();
      for (;;) {
        const { status } = await post(idempotencyKey);
        if (status === 202) return performance.now() - started;
        if (status !== null && status < 500 && status !== 429) {
          refused += 1;
          return null;
        }
        if (performance.now() - started > GIVE_UP_MS) {
          abandoned += 1;
          return null;
        }
        retries += 1;
        await sleep(250);
      }
    };
    let sent = 0;

    // The maximum: closed loop, concurrency 16, one event per request.
    say(`probing the maximum: one-event requests at concurrency 16 for ${PROBE_S} s…`);
    const probeEnd = Date.now() + PROBE_S * 1000;
    let probed = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (Date.now() < probeEnd) {
          await deliver(`probe-${sent++}`);
          probed += 1;
        }
      }),
    );
    const maximum = probed / PROBE_S;
    const rate = Math.max(1, Math.round(maximum * SHARE));
    say(`maximum ${fmt(maximum)} requests/s; offering ${fmt(rate)}/s (${SHARE} ×) for ${MINUTES} min, open loop; a worker killed every ${KILL_EVERY_S || '∞'} s`);
    await waitForDrain(pool, org.id, 120_000);

    // The soak: open loop at `rate`.
    const cpu = new Map<number, number>();
    const readCpuOf = (pids: (number | undefined)[]): void => {
      for (const pid of pids) {
        if (pid === undefined) continue;
        const seconds = treeCpuSeconds(pid);
        if (seconds !== null) cpu.set(pid, seconds);
      }
    };
    // The servers this run started (its own ports, so not the npm start stack's).
    const tempPort = temporal.address.split(':')[1]!;
    const tempPid = findProcess((argv) => /(^|\/)temporal$/.test(argv[0]!) && argv.includes('start-dev') && argv.includes(tempPort));
    const pgPort = new URL(postgres.url).port;
    const pgPid = findProcess((argv) => /(^|\/)postgres$/.test(argv[0]!) && argv.includes('-D') && argv.includes(pgPort));
    const cpuBaseline = new Map<number, number>();
    for (const pid of [...apis.map((a) => a.child.pid), ...workers.map((w) => w.child.pid), tempPid, pgPid]) {
      if (pid === undefined || pid === null) continue;
      const s = treeCpuSeconds(pid);
      if (s !== null) cpuBaseline.set(pid, s);
    }
    const soakStarted = Date.now();
    const soakEnd = soakStarted + MINUTES * 60_000;
    let soakSent = 0;
    let inFlight = 0;
    let skipped = 0;
    let windowLatencies: number[] = [];
    ticker = setInterval(() => {
      const due = Math.floor(((Date.now() - soakStarted) / 1000) * rate) - soakSent;
      for (let n = 0; n < due; n++) {
        soakSent += 1;
        if (inFlight >= MAX_IN_FLIGHT) {
          skipped += 1;
          continue;
        }
        inFlight += 1;
        void deliver(`soak-${sent++}`).then((ms) => {
          if (ms !== null) windowLatencies.push(ms);
          inFlight -= 1;
        });
      }
    }, 10);

    let kills = 0;
    let nextVictim = 0;
    const restartMs: number[] = [];
    const restarting = new Set<number>();
    const restartFailures: string[] = [];
    if (KILL_EVERY_S > 0) {
      killer = setInterval(() => {
        const i = nextVictim++ % workers.length;
        // A slot whose new worker is not ready yet is left alone this time.
        if (restarting.has(i)) return;
        restarting.add(i);
        kills += 1;
        const victim = workers[i]!;
        readCpuOf([victim.child.pid]);
        const t0 = Date.now();
        void victim
          .kill()
          .then(async () => {
            lifetimes.get(victim)!.gone = Date.now();
            workers[i] = await startWorker();
            restartMs.push(Date.now() - t0);
            // Its CPU from its start on counts: a restart's cost is part of the soak's.
            const pid = workers[i]!.child.pid;
            if (pid !== undefined) cpuBaseline.set(pid, 0);
          })
          .catch((err: unknown) => restartFailures.push(err instanceof Error ? err.message : String(err)))
          .finally(() => restarting.delete(i));
      }, KILL_EVERY_S * 1000);
    }

    const windows: string[][] = [];
    const windowStats: { offered: number; answered: number; p99: number; oldestS: number; apiRss: (number | null)[]; workerRss: (number | null)[] }[] = [];
    let lastSent = 0;
    let lastRetries = 0;
    while (Date.now() < soakEnd) {
      await sleep(Math.min(WINDOW_S * 1000, soakEnd - Date.now()));
      const latencies = windowLatencies;
      windowLatencies = [];
      const { rows: [backlog] } = await pool.query<{ pending: number; oldest_s: number | null }>(
        `SELECT count(*)::int AS pending, extract(epoch FROM now() - min(received_at))::float AS oldest_s FROM usage_events WHERE organization_id = $1 AND status <> 'rated'`,
        [org.id],
      );
      const apiRss = apis.map((a) => (a.child.pid ? rssMiB(a.child.pid) : null));
      const workerRss = workers.map((w) => (w.child.pid ? rssMiB(w.child.pid) : null));
      readCpuOf([...apis.map((a) => a.child.pid), ...workers.map((w) => w.child.pid), tempPid ?? undefined, pgPid ?? undefined]);
      const p99 = latencies.length ? percentile(latencies, 99) : 0;
      windowStats.push({ offered: soakSent - lastSent, answered: latencies.length, p99, oldestS: backlog!.oldest_s ?? 0, apiRss, workerRss });
      const row = [
        `${Math.round((Date.now() - soakStarted) / 1000)}`,
        fmt((soakSent - lastSent) / WINDOW_S),
        fmt(latencies.length / WINDOW_S),
        latencies.length ? fmt(percentile(latencies, 50), 1) : '–',
        latencies.length ? fmt(p99, 1) : '–',
        fmt(retries - lastRetries),
        fmt(backlog!.pending),
        backlog!.oldest_s === null ? '–' : fmt(backlog!.oldest_s, 1),
        apiRss.map((r) => fmt(r)).join('/'),
        workerRss.map((r) => fmt(r)).join('/'),
        String(kills),
      ];
      windows.push(row);
      say(`t=${row[0]}s offered ${row[1]}/s answered ${row[2]}/s p50 ${row[3]} ms p99 ${row[4]} ms retries ${row[5]} backlog ${row[6]} (oldest ${row[7]} s) RSS API ${row[8]} MiB worker ${row[9]} MiB kills ${row[10]}`);
      lastSent = soakSent;
      lastRetries = retries;
    }
    clearInterval(ticker);
    if (killer) clearInterval(killer);
    say('offering done; waiting for answers in flight and for every event to be rated…');
    while (inFlight > 0 || restarting.size > 0) await sleep(100);
    for (const w of workers) lifetimes.get(w)!.gone ??= Date.now();
    const drainedIn = await waitForDrain(pool, org.id, 300_000);
    readCpuOf([...apis.map((a) => a.child.pid), ...workers.map((w) => w.child.pid), tempPid ?? undefined, pgPid ?? undefined]);

    const books = await readIngestBooks(pool, org.id);
    const problems = ingestBooksProblems(books, sent);
    const batchesByWorker = processes
      .filter((p) => p.name.startsWith('worker-'))
      .map((w) => {
        const life = lifetimes.get(w);
        return {
          name: w.name,
          livedS: life ? ((life.gone ?? Date.now()) - life.ready) / 1000 : 0,
          batches: w.everything().split('\n').filter((l) => l.includes('"activity":"processBatch"') && l.includes('"msg":"activity completed"')).length,
        };
      });

    console.log(`\nSoak, ${new Date(soakStarted).toISOString()}: ${APIS} API, ${WORKERS} worker(s), ${MINUTES} min at ${fmt(rate)} one-event requests/s (${SHARE} × the measured maximum ${fmt(maximum)}/s), a worker killed every ${KILL_EVERY_S || '∞'} s\n`);
    console.log(formatTable(['t s', 'offered/s', 'answered/s', 'p50 ms', 'p99 ms', 'retries', 'unrated', 'oldest s', 'API RSS MiB', 'worker RSS MiB', 'kills'], windows));
    const soakEvents = soakSent - skipped;
    const cpuMs = (pid: number | null | undefined): string => {
      if (pid === null || pid === undefined) return '–';
      const used = (cpu.get(pid) ?? 0) - (cpuBaseline.get(pid) ?? 0);
      return fmt((used * 1000) / soakEvents, 3);
    };
    const workerCpu = processes.filter((p) => p.name.startsWith('worker-')).reduce((sum, w) => sum + Math.max(0, (cpu.get(w.child.pid ?? -1) ?? 0) - (cpuBaseline.get(w.child.pid ?? -1) ?? 0)), 0);
    console.log(`\nCPU ms per soak event: API ${apis.map((a) => cpuMs(a.child.pid)).join(' / ')}, workers (all, killed ones until their last reading) ${fmt((workerCpu * 1000) / soakEvents, 3)}, Temporal ${cpuMs(tempPid)}, PostgreSQL ${cpuMs(pgPid)}`);
    console.log(`requests answered per API: ${perApi.map((n, i) => `api-${i + 1} ${fmt(n)}`).join(', ')}`);
    console.log(`batches processed per worker process: ${batchesByWorker.map((w) => `${w.name} ${fmt(w.batches)}`).join(', ')}`);
    console.log(`kills ${kills}, a new worker ready after ${restartMs.length ? `${fmt(percentile(restartMs, 50) / 1000, 1)} s (p50), ${fmt(Math.max(...restartMs) / 1000, 1)} s (max)` : '–'}; client retries ${fmt(retries)}; refused ${fmt(refused)}; given up after ${GIVE_UP_MS / 1000} s ${fmt(abandoned)}; sends skipped at the in-flight cap ${fmt(skipped)}`);
    console.log(`drained ${fmt(drainedIn / 1000, 1)} s after the last send; events sent ${fmt(sent)} (probe ${fmt(probed)}), stored ${fmt(books.stored)}, rated ${fmt(books.rated)}, batches ${JSON.stringify(books.batchesByStatus)}`);
    const third = Math.max(1, Math.floor(windowStats.length / 3));
    const first = windowStats.slice(0, third);
    const last = windowStats.slice(-third);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const apiRssFirst = mean(first.flatMap((w) => w.apiRss.filter((x): x is number => x !== null)));
    const apiRssLast = mean(last.flatMap((w) => w.apiRss.filter((x): x is number => x !== null)));
    const workerRssFirst = mean(first.flatMap((w) => w.workerRss.filter((x): x is number => x !== null)));
    const workerRssLast = mean(last.flatMap((w) => w.workerRss.filter((x): x is number => x !== null)));
    const p99First = mean(first.map((w) => w.p99));
    const p99Last = mean(last.map((w) => w.p99));
    const deadApis = apis.filter((a) => a.child.exitCode !== null || a.child.signalCode !== null).map((a) => a.name);
    const slowWindows = windowStats.filter((w, i) => i < windowStats.length - 1 && w.answered < w.offered * 0.95).length;
    const oldestS = Math.max(0, ...windowStats.map((w) => w.oldestS));
    const idleWorkers = batchesByWorker.filter((w) => w.livedS >= 60 && w.batches === 0).map((w) => w.name);
    const verdicts: [boolean, string][] = [
      [problems.length === 0, `books balance: no lost or duplicated events${problems.length ? ` (${problems.join('; ')})` : ''}`],
      [refused === 0 && abandoned === 0 && skipped === 0, `every send answered 202 (refused ${refused}, given up ${abandoned}, skipped at the in-flight cap ${skipped})`],
      [slowWindows === 0, `every window answered ≥ 0.95 × what it offered (${slowWindows} did not)`],
      [oldestS <= 30, `the oldest unrated event never waited over 30 s (at most ${fmt(oldestS, 1)} s)`],
      [deadApis.length === 0, `every API process alive at the end${deadApis.length ? ` (gone: ${deadApis.join(', ')})` : ''}`],
      [restartFailures.length === 0, `every killed worker replaced${restartFailures.length ? ` (${restartFailures.join('; ')})` : ''}`],
      [apiRssLast <= apiRssFirst * 1.2, `API RSS flat: last third ${fmt(apiRssLast)} MiB vs first third ${fmt(apiRssFirst)} MiB (≤ 1.2×)`],
      [
        workerRssLast <= workerRssFirst * 1.2,
        `worker RSS flat: last third ${fmt(workerRssLast)} MiB vs first third ${fmt(workerRssFirst)} MiB (≤ 1.2×)${KILL_EVERY_S > 0 ? `; each worker lives ≤ ${KILL_EVERY_S * Math.max(1, WORKERS)} s here, so this compares lives, not one life (--kill-every 0 for that)` : ''}`,
      ],
      [p99Last <= p99First * 1.5 || p99Last <= 50, `request p99 stable: last third ${fmt(p99Last, 1)} ms vs first third ${fmt(p99First, 1)} ms (≤ 1.5×, or ≤ 50 ms; from each event's first attempt)`],
    ];
    if (APIS > 1) verdicts.push([perApi.every((n) => n > 0), `every API served requests (${perApi.map((n) => fmt(n)).join(', ')})`]);
    if (WORKERS > 1) verdicts.push([idleWorkers.length === 0, `every worker process that lived 60 s or more ran batches${idleWorkers.length ? ` (idle: ${idleWorkers.join(', ')})` : ''}`]);
    console.log('');
    for (const [ok, what] of verdicts) console.log(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
    process.exitCode = verdicts.every(([ok]) => ok) ? 0 : 1;
    agents.forEach((a) => a.destroy());
  } finally {
    if (ticker) clearInterval(ticker);
    if (killer) clearInterval(killer);
    await Promise.allSettled(processes.map((p) => p.stop()));
    for (const step of cleanup) await step().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Waits until none of the organization's events is unrated; returns how long that took. */
async function waitForDrain(pool: ReturnType<typeof createPgPool>, organizationId: string, boundMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { rows: [left] } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_events WHERE organization_id = $1 AND status <> 'rated'`, [organizationId]);
    const { rows: [waiting] } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ingest_batches WHERE organization_id = $1 AND processing_batch_id IS NULL AND accepted > 0`, [organizationId]);
    if (left!.n === 0 && waiting!.n === 0) return Date.now() - started;
    if (Date.now() - started > boundMs) throw new Error(`${left!.n} events still unrated ${boundMs / 1000} s after the last send`);
    await sleep(500);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});

// `npm run bench:temporal-ceiling [-- --workflows N --concurrency C]`: how many
// per-subscription workflows per second the Temporal dev server and one Node
// worker on this machine can take through "start → one step → wait", with no
// database work at all. It bounds bench:period-close from above: a billing run
// does this plus the close transaction. Starts its own dev server (SQLite file
// in WAL, as `npm start` does) and an in-process worker; never part of `npm test`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startDevServer } from '../temporal/dev-server';
import { percentile } from './lib/stats';

const say = (line: string): void => {
  process.stdout.write(`[ceiling] ${line}\n`);
};

function options(): { workflows: number; concurrency: number } {
  const { values } = parseArgs({ options: { workflows: { type: 'string' }, concurrency: { type: 'string' } }, strict: true });
  const whole = (raw: string | undefined, fallback: number, name: string): number => {
    const value = Number(raw ?? fallback);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number ≥ 1 (got ${raw})`);
    return value;
  };
  return { workflows: whole(values.workflows, 2_000, 'workflows'), concurrency: whole(values.concurrency, 32, 'concurrency') };
}

/** Optional worker knobs from the environment, for comparing tunings (printed with the results). */
function workerTuning(): { workflowThreadPoolSize?: number; maxConcurrentWorkflowTaskExecutions?: number; maxCachedWorkflows?: number } {
  const n = (raw: string | undefined) => (raw ? Number(raw) : undefined);
  const tuning = {
    workflowThreadPoolSize: n(process.env.CEILING_THREADS),
    maxConcurrentWorkflowTaskExecutions: n(process.env.CEILING_WFT_SLOTS),
    maxCachedWorkflows: n(process.env.CEILING_CACHE),
  };
  return Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined));
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

async function inLanes(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

async function main(): Promise<void> {
  const { workflows, concurrency } = options();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-ceiling-'));
  say(`starting a dev server (SQLite in ${dir}, WAL)…`);
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.db'), ui: false, namespace: 'default', log: say });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  const drafted = new Map<string, number>();
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: server.address }),
    namespace: 'default',
    taskQueue: 'ceiling',
    workflowsPath: require.resolve('./lib/ceiling-workflows'),
    ...workerTuning(),
    activities: {
      draft: async (id: string) => {
        drafted.set(id, Date.now());
      },
    },
  });
  const running = worker.run();
  const results: string[] = [];
  try {
    for (const mode of ['none', 'local', 'remote'] as const) {
      drafted.clear();
      const started = new Map<string, number>();
      const cpu0 = machineCpu();
      const self0 = process.cpuUsage();
      const t0 = Date.now();
      await inLanes(workflows, concurrency, async (i) => {
        const id = `${mode}-${i}`;
        started.set(id, Date.now());
        await client.workflow.start('ceilingProbe', { taskQueue: 'ceiling', workflowId: `ceiling-${id}`, args: [id, mode] });
        if (mode === 'none') drafted.set(id, Date.now());
      });
      const startsSeconds = (Date.now() - t0) / 1000;
      while (drafted.size < workflows) {
        await new Promise((r) => setTimeout(r, 200));
        if (Date.now() - t0 > 15 * 60_000) throw new Error(`${mode}: only ${drafted.size} of ${workflows} steps after 15 minutes`);
      }
      const cpu1 = machineCpu();
      const self = process.cpuUsage(self0);
      const last = Math.max(...drafted.values());
      const seconds = (last - t0) / 1000;
      const latencies = [...drafted].map(([id, at]) => (at - started.get(id)!) / 1000).sort((a, b) => a - b);
      const line = `${mode.padEnd(6)} ${workflows} workflows: starts ${startsSeconds.toFixed(1)} s, all steps done ${seconds.toFixed(1)} s → ${(workflows / seconds).toFixed(1)}/s; start→step p50 ${percentile(latencies, 50).toFixed(2)} s, p99 ${percentile(latencies, 99).toFixed(2)} s; machine CPU busy ${(((cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total)) * 100).toFixed(0)} % of ${os.cpus().length} cores, this process (worker + client) ${((self.user + self.system) / 1e6).toFixed(1)} core-s`;
      say(line);
      results.push(line);
      say(`terminating the ${mode} probes…`);
      await inLanes(workflows, concurrency, async (i) => {
        await client.workflow.getHandle(`ceiling-${mode}-${i}`).terminate('benchmark over');
      });
    }
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  say(`worker tuning: ${JSON.stringify(workerTuning())} (defaults where absent)`);
  say(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const line of results) say(line);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

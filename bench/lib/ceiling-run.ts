// The Temporal ceiling of bench/temporal-ceiling.ts as a function, so
// bench:period-close can measure it in the same sitting as the close it bounds.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startDevServer } from '../../temporal/dev-server';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../../worker/create-worker';
import { inLanes } from './lanes';
import { percentile } from './stats';
import { CLOCK_TICKS, machineCpu, treeCpuSeconds } from './proc-cpu';

export type CeilingMode = 'none' | 'local' | 'remote';

export interface CeilingResult {
  mode: CeilingMode;
  workflows: number;
  /** workflows through their step per second (starts per second for `none`) */
  perSecond: number;
  /** CPU per workflow, ms: the whole machine, the dev server (null when its pid is unknown), this process (worker + client) */
  cpuMs: { machine: number; temporal: number | null; self: number };
  line: string;
}

/** Optional worker knobs from the environment, for comparing tunings (printed with the results). */
export function workerTuning(): { workflowThreadPoolSize?: number; maxConcurrentWorkflowTaskExecutions?: number; maxCachedWorkflows?: number } {
  const n = (raw: string | undefined) => (raw ? Number(raw) : undefined);
  const tuning = {
    workflowThreadPoolSize: n(process.env.CEILING_THREADS),
    maxConcurrentWorkflowTaskExecutions: n(process.env.CEILING_WFT_SLOTS),
    // The product worker's cache size unless told otherwise, so the ceiling is tuned as the worker it bounds.
    maxCachedWorkflows: n(process.env.CEILING_CACHE) ?? DEFAULT_MAX_CACHED_WORKFLOWS,
  };
  return Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined));
}

/**
 * Starts its own dev server (SQLite in WAL, as `npm start` runs it) and an
 * in-process worker, pushes `workflows` probes per mode through "start → one
 * step → wait", and stops both.
 */
export async function measureCeiling(opts: { workflows: number; concurrency: number; modes: readonly CeilingMode[]; say: (line: string) => void }): Promise<CeilingResult[]> {
  const { workflows, concurrency, say } = opts;
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
    workflowsPath: require.resolve('./ceiling-workflows'),
    ...workerTuning(),
    activities: {
      draft: async (id: string) => {
        drafted.set(id, Date.now());
      },
    },
  });
  const running = worker.run();
  const results: CeilingResult[] = [];
  try {
    for (const mode of opts.modes) {
      drafted.clear();
      const started = new Map<string, number>();
      const cpu0 = machineCpu();
      const temporal0 = server.pid === undefined ? null : treeCpuSeconds(server.pid);
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
      const temporal1 = server.pid === undefined ? null : treeCpuSeconds(server.pid);
      const self = process.cpuUsage(self0);
      const cpuMs = {
        machine: ((cpu1.busy - cpu0.busy) / CLOCK_TICKS / workflows) * 1000,
        temporal: temporal0 === null || temporal1 === null ? null : ((temporal1 - temporal0) / workflows) * 1000,
        self: (self.user + self.system) / 1000 / workflows,
      };
      const last = Math.max(...drafted.values());
      const seconds = (last - t0) / 1000;
      const latencies = [...drafted].map(([id, at]) => (at - started.get(id)!) / 1000).sort((a, b) => a - b);
      const line = `${mode.padEnd(6)} ${workflows} workflows: starts ${startsSeconds.toFixed(1)} s, all steps done ${seconds.toFixed(1)} s → ${(workflows / seconds).toFixed(1)}/s; start→step p50 ${percentile(latencies, 50).toFixed(2)} s, p99 ${percentile(latencies, 99).toFixed(2)} s; machine CPU busy ${(((cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total)) * 100).toFixed(0)} % of ${os.cpus().length} cores; CPU per workflow: machine ${cpuMs.machine.toFixed(1)} ms, Temporal ${cpuMs.temporal?.toFixed(1) ?? '?'} ms, this process (worker + client) ${cpuMs.self.toFixed(1)} ms`;
      say(line);
      results.push({ mode, workflows, perSecond: workflows / seconds, cpuMs, line });
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
  return results;
}

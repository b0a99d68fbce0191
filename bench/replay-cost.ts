// `npm run bench:replay-cost [-- --runs N --history <name>]`: the worker's CPU per
// workflow run, without a server: a recorded history (test/harness/histories)
// replayed N times through one replay worker, with the workflow bundle built
// with tracing off and with tracing on (Temporal's OpenTelemetry workflow
// interceptors, spans to a sink that drops them), alternating three rounds so
// the machine's noise shows. What it measures is the workflow thread's own
// work per run — evaluating the bundle's modules for the run, activations,
// the SDK's promise hooks — the part of a billing run's cost that is ours to
// shape. Never part of `npm test`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { writeWorkflowBundle } from '../worker/interceptors';

const say = (line: string): void => {
  process.stdout.write(`[bench] ${line}\n`);
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, history: { type: 'string' } }, strict: true });
  const runs = Number(values.runs ?? 300);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number ≥ 1 (got ${values.runs})`);
  const name = values.history ?? 'billing-run-paid-local-standing-read';
  const historyFile = path.join(__dirname, '..', 'test', 'harness', 'histories', `${name}.history.pb`);
  if (!fs.existsSync(historyFile)) throw new Error(`--history: no ${historyFile} (see test/harness/histories)`);
  const history = temporal.api.history.v1.History.decode(fs.readFileSync(historyFile));
  say(`${runs} replays of ${name} (${history.events?.length ?? 0} events) per round, ${os.cpus().length} CPUs, Node ${process.version}`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-replay-cost-'));
  const bundles = { 'tracing off': path.join(dir, 'untraced.js'), 'tracing on': path.join(dir, 'traced.js') };
  say('bundling the workflows twice…');
  await writeWorkflowBundle(bundles['tracing off'], say, { enabled: false });
  await writeWorkflowBundle(bundles['tracing on'], say, { enabled: true });
  // The traced bundle's workflows call the exporter sink; here it drops what it gets.
  const sinks = { exporter: { export: { fn: () => undefined } } } as never;

  const replay = async (codePath: string, count: number, prefix: string): Promise<number> => {
    async function* histories() {
      for (let i = 0; i < count; i++) yield { workflowId: `${prefix}-${i}`, history };
    }
    const before = process.cpuUsage();
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath }, sinks }, histories())) {
      if (result.error) throw result.error;
    }
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000 / count;
  };

  const results: Record<string, number[]> = { 'tracing off': [], 'tracing on': [] };
  for (const [label, file] of Object.entries(bundles)) await replay(file, 30, `warm-${label}`);
  for (let round = 1; round <= 3; round++) {
    for (const [label, file] of Object.entries(bundles)) {
      const ms = await replay(file, runs, `r${round}-${label}`);
      results[label]!.push(ms);
      say(`round ${round}, ${label}: ${ms.toFixed(2)} ms of CPU per run`);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const off = median(results['tracing off']!);
  const on = median(results['tracing on']!);
  say(`median: tracing off ${off.toFixed(2)} ms per run, tracing on ${on.toFixed(2)} ms (+${(on - off).toFixed(2)} ms, ${((on / off - 1) * 100).toFixed(0)} %)`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

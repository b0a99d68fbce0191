// `npm run bench:temporal-ceiling [-- --workflows N --concurrency C]`: how many
// per-subscription workflows per second the Temporal dev server and one Node
// worker on this machine can take through "start → one step → wait", with no
// database work at all. It bounds bench:period-close from above: a billing run
// does this plus the close transaction. Starts its own dev server (SQLite file
// in WAL, as `npm start` does) and an in-process worker; never part of `npm test`.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { measureCeiling, workerTuning } from './lib/ceiling-run';

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

async function main(): Promise<void> {
  const { workflows, concurrency } = options();
  const results = await measureCeiling({ workflows, concurrency, modes: ['none', 'local', 'remote'], say });
  say(`worker tuning: ${JSON.stringify(workerTuning())} (defaults where absent)`);
  say(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const r of results) say(r.line);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

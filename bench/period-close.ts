// `npm run bench:period-close [-- --subscriptions N --events-per-subscription K --concurrency C]`:
// N subscriptions with usage close into draft invoices through N `billingRun`
// workflows on the stack `npm start` runs (.data/stack.json), or on one this
// benchmark starts and stops. Prints drafts/s, total time, per-run latency and
// the worker's peak RSS against issue 3's target. Never part of `npm test`.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { createPgPool } from '../prisma/client';
import { BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/names';
import { BillingPeriod, OrganizationId, SubscriptionId } from '../temporal/search-attribute-keys';
import { BENCH_PERIOD, seedPeriodCloseTenant, type SeededTenant } from './lib/period-close-seed';
import { sampleRss } from './lib/rss-sampler';
import { acquireStack } from './lib/stack-session';
import { peakRssMiB, percentile } from './lib/stats';

const TARGET_SECONDS = 120;
const DRAFT_TIMEOUT_MS = 15 * 60_000;
const PROGRESS_EVERY_MS = 3_000;
const POLL_EVERY_MS = 1_000;
const TERMINATE_CONCURRENCY = 32;

const say = (line: string): void => {
  process.stdout.write(`[bench] ${line}\n`);
};
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function options(): { subscriptions: number; eventsPerSubscription: number; concurrency: number } {
  const { values } = parseArgs({
    options: { subscriptions: { type: 'string' }, 'events-per-subscription': { type: 'string' }, concurrency: { type: 'string' } },
    strict: true,
  });
  const whole = (raw: string | undefined, fallback: number, name: string, min: number): number => {
    const value = Number(raw ?? fallback);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min} (got ${raw})`);
    return value;
  };
  return {
    subscriptions: whole(values.subscriptions, 10_000, 'subscriptions', 1),
    eventsPerSubscription: whole(values['events-per-subscription'], 10, 'events-per-subscription', 0),
    concurrency: whole(values.concurrency, 32, 'concurrency', 1),
  };
}

/** Set by Ctrl-C / SIGTERM: stop starting and waiting, then clean up as after a normal run. */
let interrupted: NodeJS.Signals | null = null;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = signal;
    say(`${signal}: stopping; cleaning up first (terminating the benchmark's billing runs)…`);
  });
}

/** Runs `work` over `items` with at most `concurrency` in flight (stops taking new items once interrupted). */
async function inLanes<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>, untilInterrupted = true): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && !(untilInterrupted && interrupted)) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

async function main(): Promise<void> {
  const opts = options();
  const session = await acquireStack(say, 'bench-period-close-stack');
  const { stack } = session;
  const pool = createPgPool(stack.databaseUrl, { max: 2 });
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection, namespace: stack.temporal.namespace });
  const workflowIds: string[] = [];
  let tenant: SeededTenant | null = null;
  try {
    say(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
    say(`stack: ${session.started ? 'started by this benchmark' : 'already running'}; worker pid ${stack.worker.pid}, Temporal ${stack.temporal.address}, task queue ${stack.temporal.taskQueue}`);

    say(`seeding ${fmt(opts.subscriptions)} subscriptions × ${opts.eventsPerSubscription} events straight into PostgreSQL…`);
    const seedStarted = performance.now();
    tenant = await seedPeriodCloseTenant(pool, { ...opts, progress: say });
    const organizationId = tenant.organizationId;
    say(`  organization "${tenant.name}": ${fmt(tenant.subscriptionIds.length)} subscriptions, ${fmt(tenant.events)} usage events, in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

    const rss = sampleRss(stack.worker.pid);
    const startedAt = new Map<string, number>();
    const period = `${BENCH_PERIOD.start.slice(0, 10)}/${BENCH_PERIOD.end.slice(0, 10)}`;
    say(`starting ${fmt(tenant.subscriptionIds.length)} billing runs for ${period} (grace 0 s), ${opts.concurrency} starts in flight…`);
    const t0 = Date.now();
    let started = 0;
    let startsDoneAt = 0;
    const starting = inLanes(tenant.subscriptionIds, opts.concurrency, async (subscriptionId) => {
      const input: BillingRunInput = {
        organizationId,
        subscriptionId,
        periodStart: BENCH_PERIOD.start,
        periodEnd: BENCH_PERIOD.end,
        lateEventGraceSeconds: 0,
      };
      const workflowId = billingRunWorkflowId(subscriptionId, BENCH_PERIOD.start);
      startedAt.set(subscriptionId, Date.now());
      workflowIds.push(workflowId);
      await client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: stack.temporal.taskQueue,
        args: [input],
        // The same attributes the subscription workflow gives its billing runs.
        typedSearchAttributes: [
          { key: OrganizationId, value: organizationId },
          { key: SubscriptionId, value: subscriptionId },
          { key: BillingPeriod, value: period },
        ],
      });
      started += 1;
    }).then(() => {
      startsDoneAt = Date.now();
    });

    // Poll the draft count (one indexed count per second) until every run has drafted.
    const expected = tenant.subscriptionIds.length;
    let drafts = 0;
    let lastReport = t0;
    let lastDrafts = 0;
    let startError: unknown = null;
    starting.catch((err: unknown) => {
      startError = err;
    });
    while (drafts < expected) {
      await new Promise((r) => setTimeout(r, POLL_EVERY_MS));
      if (startError) throw startError;
      if (interrupted) throw new Error(`interrupted by ${interrupted}`);
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM invoices WHERE organization_id = $1`, [organizationId]);
      drafts = Number(rows[0]?.n ?? 0);
      const now = Date.now();
      if (now - t0 > DRAFT_TIMEOUT_MS) throw new Error(`only ${drafts}/${expected} drafts after ${DRAFT_TIMEOUT_MS / 60_000} min; is the worker running? (pid ${stack.worker.pid})`);
      if (now - lastReport >= PROGRESS_EVERY_MS || drafts >= expected) {
        const rate = (drafts - lastDrafts) / ((now - lastReport) / 1000);
        say(`  ${((now - t0) / 1000).toFixed(0).padStart(4)} s  started ${fmt(started)}/${fmt(expected)}  drafts ${fmt(drafts)}/${fmt(expected)}  ${fmt(rate)} drafts/s  worker RSS ${fmt(rss.current() ?? NaN)} MiB`);
        lastReport = now;
        lastDrafts = drafts;
      }
    }
    await starting;
    rss.stop();

    const { rows: invoices } = await pool.query<{ subscription_id: string; created_at: Date; status: string; total: string; lines: string }>(
      `SELECT i.subscription_id, i.created_at, i.status, i.total, (SELECT count(*) FROM invoice_lines l WHERE l.invoice_id = i.id) AS lines
         FROM invoices i WHERE i.organization_id = $1`,
      [organizationId],
    );
    const latencies = invoices.map((i) => i.created_at.getTime() - startedAt.get(i.subscription_id)!);
    const lastDraftAt = Math.max(...invoices.map((i) => i.created_at.getTime()));
    const totalSeconds = (lastDraftAt - t0) / 1000;
    const notDraft = invoices.filter((i) => i.status !== 'draft').length;
    const lineCount = invoices.reduce((n, i) => n + Number(i.lines), 0);
    const peakSampled = rss.peak();
    const hwm = peakRssMiB(stack.worker.pid);

    console.log(`\nPeriod-close benchmark: ${fmt(expected)} subscriptions, ${fmt(tenant.events)} usage events (${opts.eventsPerSubscription} per subscription), ${opts.concurrency} workflow starts in flight\n`);
    console.log(`drafts:            ${fmt(invoices.length)} invoices (${fmt(lineCount)} lines), ${notDraft === 0 ? 'all in status draft' : `${notDraft} NOT in status draft`}`);
    console.log(`total time:        ${totalSeconds.toFixed(1)} s (first workflow start → last draft's created_at)`);
    console.log(`throughput:        ${(invoices.length / totalSeconds).toFixed(1)} drafts/s`);
    console.log(`workflow starts:   ${((startsDoneAt - t0) / 1000).toFixed(1)} s for all ${fmt(expected)} (${(expected / ((startsDoneAt - t0) / 1000)).toFixed(0)} starts/s)`);
    console.log(`per run (start → draft): p50 ${(percentile(latencies, 50) / 1000).toFixed(2)} s, p99 ${(percentile(latencies, 99) / 1000).toFixed(2)} s, max ${(Math.max(...latencies) / 1000).toFixed(2)} s`);
    console.log(`worker RSS:        peak ${fmt(peakSampled ?? NaN)} MiB during the run (VmRSS sampled every 250 ms); VmHWM since the worker started ${fmt(hwm ?? NaN)} MiB`);
    console.log('');
    const pass = invoices.length === expected && notDraft === 0 && totalSeconds <= TARGET_SECONDS;
    console.log(`${pass ? 'PASS' : 'FAIL'}  all ${fmt(expected)} drafts in ≤ ${TARGET_SECONDS} s (${totalSeconds.toFixed(1)} s)`);
    console.log('');
  } finally {
    // The runs now wait for finance approval for ever: end them so the stack is not left with open workflows.
    if (workflowIds.length > 0) await terminateRuns(client, workflowIds);
    if (tenant) {
      // The stack's startup sweep starts a subscription workflow for every active subscription; these must not get one.
      await pool.query(`UPDATE subscriptions SET status = 'canceled', canceled_at = $2 WHERE organization_id = $1 AND status = 'active'`, [tenant.organizationId, BENCH_PERIOD.end]);
      say(`  canceled the benchmark tenant's subscriptions (as of ${BENCH_PERIOD.end.slice(0, 10)}) so no later \`npm start\` sweeps them into subscription workflows`);
    }
    await Promise.allSettled([pool.end(), connection.close()]);
    if (session.started) {
      say('stopping the stack this benchmark started…');
      await session.stop();
    }
  }
}

async function terminateRuns(client: Client, workflowIds: string[]): Promise<void> {
  say(`terminating the benchmark's ${fmt(workflowIds.length)} billing runs (they wait for approval)…`);
  const begun = performance.now();
  let terminated = 0;
  let gone = 0;
  await inLanes(
    workflowIds,
    TERMINATE_CONCURRENCY,
    async (workflowId) => {
      try {
        await client.workflow.getHandle(workflowId).terminate('bench:period-close finished');
        terminated += 1;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        gone += 1; // never started, or already closed
      }
    },
    false,
  );
  say(`  terminated ${fmt(terminated)} billing runs${gone ? ` (${fmt(gone)} were not running)` : ''} in ${((performance.now() - begun) / 1000).toFixed(1)} s; their draft invoices stay in PostgreSQL`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:period-close failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

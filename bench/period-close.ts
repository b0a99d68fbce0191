// `npm run bench:period-close [-- --scenario many|large --subscriptions N --events-per-subscription K --concurrency C]`:
// N subscriptions with usage close into draft invoices through N `billingRun`
// workflows on the stack `npm start` runs (.data/stack.json), or on one this
// benchmark starts and stops. Each target is a ratio to a ceiling measured in
// the same run (issue 12, point 12):
// - `many` (10,000 × 10 events): drafts/s against the Temporal ceiling
//   (bench/lib/ceiling-run.ts: empty workflows of a billing run's shape);
// - `large` (1 × 1,000,000 events): the close against a plain GROUP BY day
//   over the same rows, and the worker's peak RSS.
// Prints the phase timing of the runs from their Temporal histories. Never part of `npm test`.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { createPgPool } from '../prisma/client';
import { BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/names';
import { BillingPeriod, OrganizationId, SubscriptionId } from '../temporal/search-attribute-keys';
import { measureCeiling, type CeilingResult } from './lib/ceiling-run';
import { BENCH_EVENT_TYPE, BENCH_PERIOD, seedPeriodCloseTenant, type SeededTenant } from './lib/period-close-seed';
import { CLOCK_TICKS, cpuPerUnitMs, findProcess, machineCpu, readCpu } from './lib/proc-cpu';
import { sampleRss } from './lib/rss-sampler';
import { acquireStack } from './lib/stack-session';
import { peakRssMiB, percentile } from './lib/stats';
import { localActivityMarker } from '../test/harness/histories';

/** Issue 12, point 12: drafts/s ≥ 0.8 × the Temporal ceiling; one large customer's close ≤ 4 × a plain GROUP BY day with the worker's peak RSS ≤ 500 MiB. */
const TARGET_CEILING_SHARE = 0.8;
const TARGET_GROUP_BY_RATIO = 4;
const TARGET_RSS_MIB = 500;
const HISTORY_SAMPLE = 200;
const DRAFT_TIMEOUT_MS = 15 * 60_000;
const PROGRESS_EVERY_MS = 3_000;
const POLL_EVERY_MS = 1_000;
const TERMINATE_CONCURRENCY = 32;

const say = (line: string): void => {
  process.stdout.write(`[bench] ${line}\n`);
};
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

type Scenario = 'many' | 'large';

function options(): { scenario: Scenario; ceilingWorkflows: number; subscriptions: number; eventsPerSubscription: number; concurrency: number } {
  const { values } = parseArgs({
    options: { scenario: { type: 'string' }, 'ceiling-workflows': { type: 'string' }, subscriptions: { type: 'string' }, 'events-per-subscription': { type: 'string' }, concurrency: { type: 'string' } },
    strict: true,
  });
  const scenario = (values.scenario ?? 'many') as Scenario;
  if (scenario !== 'many' && scenario !== 'large') throw new Error(`--scenario must be many or large (got ${values.scenario})`);
  const whole = (raw: string | undefined, fallback: number, name: string, min: number): number => {
    const value = Number(raw ?? fallback);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min} (got ${raw})`);
    return value;
  };
  const subscriptions = whole(values.subscriptions, scenario === 'many' ? 10_000 : 1, 'subscriptions', 1);
  return {
    scenario,
    // As many empty workflows as billing runs by default: the same count, the same cache pressure.
    ceilingWorkflows: whole(values['ceiling-workflows'], subscriptions, 'ceiling-workflows', 1),
    subscriptions,
    eventsPerSubscription: whole(values['events-per-subscription'], scenario === 'many' ? 10 : 1_000_000, 'events-per-subscription', 0),
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

    let ceiling: number | null = null;
    let probe: CeilingResult | null = null;
    if (opts.scenario === 'many') {
      const probes = opts.ceilingWorkflows;
      say(`ceiling: ${fmt(probes)} empty billing-run-shaped workflows (start → one activity → wait) on a dev server of their own, ${opts.concurrency} starts in flight…`);
      const [remote] = await measureCeiling({ workflows: probes, concurrency: opts.concurrency, modes: ['remote'], say });
      probe = remote!;
      ceiling = probe.perSecond;
    }

    say(`seeding ${fmt(opts.subscriptions)} subscriptions × ${fmt(opts.eventsPerSubscription)} events straight into PostgreSQL…`);
    const seedStarted = performance.now();
    tenant = await seedPeriodCloseTenant(pool, { ...opts, progress: say });
    const organizationId = tenant.organizationId;
    say(`  organization "${tenant.name}": ${fmt(tenant.subscriptionIds.length)} subscriptions, ${fmt(tenant.events)} usage events, in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

    const groupBy = opts.scenario === 'large' ? await timeGroupByDay(pool, tenant) : [];
    const rss = sampleRss(stack.worker.pid);
    const startedAt = new Map<string, number>();
    const period = `${BENCH_PERIOD.start.slice(0, 10)}/${BENCH_PERIOD.end.slice(0, 10)}`;
    say(`starting ${fmt(tenant.subscriptionIds.length)} billing runs for ${period} (grace 0 s), ${opts.concurrency} starts in flight…`);
    // CPU of each process over the drafting, per draft: what bounds drafts/s on a shared 2-core machine.
    const pids = {
      worker: stack.worker.pid,
      temporal: findProcess((argv) => /(^|\/)temporal$/.test(argv[0]!) && argv.includes('start-dev')),
      postgres: findProcess((argv) => /(^|\/)postgres$/.test(argv[0]!) && argv.includes('-D')),
    };
    const cpuBefore = readCpu(pids);
    const machineBefore = machineCpu();
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
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM invoices WHERE organization_id = $1 AND period_start = $2`, [organizationId, BENCH_PERIOD.start]);
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
    const cpuAfter = readCpu(pids);
    const machineAfter = machineCpu();

    const { rows: invoices } = await pool.query<{ subscription_id: string; created_at: Date; status: string; total: string; lines: string }>(
      `SELECT i.subscription_id, i.created_at, i.status, i.total, (SELECT count(*) FROM invoice_lines l WHERE l.invoice_id = i.id) AS lines
         FROM invoices i WHERE i.organization_id = $1 AND i.period_start = $2`,
      [organizationId, BENCH_PERIOD.start],
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
    const perDraft = cpuPerUnitMs(cpuBefore, cpuAfter, invoices.length);
    const machineMs = ((machineAfter.busy - machineBefore.busy) / CLOCK_TICKS / invoices.length) * 1000;
    const busy = ((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * 100;
    const ms = (name: string): string => (perDraft[name] === null || perDraft[name] === undefined ? '?' : perDraft[name]!.toFixed(1));
    console.log(`CPU per draft:     worker ${ms('worker')} ms, Temporal ${ms('temporal')} ms, PostgreSQL ${ms('postgres')} ms, this client ${ms('client')} ms; machine ${machineMs.toFixed(1)} ms (${busy.toFixed(0)} % of ${os.cpus().length} cores busy)`);
    console.log('');
    const phases = await phaseTimings(client, workflowIds);
    const f2 = (x: number): string => x.toFixed(2);
    console.log(
      `phases (Temporal histories of ${fmt(phases.runs)} runs, ${fmt(phases.local)} of them closed as a local activity: scheduled and queued = the workflow task that ran it): start → close scheduled p50 ${f2(phases.toScheduled.p50)} s; close queued p50 ${f2(phases.queued.p50)} s, p99 ${f2(phases.queued.p99)} s; close activity p50 ${f2(phases.close.p50)} s, p99 ${f2(phases.close.p99)} s, max ${f2(phases.close.max)} s`,
    );
    console.log('');
    const allDrafted = invoices.length === expected && notDraft === 0;
    if (!allDrafted) console.log(`FAIL  ${fmt(expected - invoices.length)} runs did not draft`);
    if (ceiling !== null) {
      const share = invoices.length / totalSeconds / ceiling;
      console.log(`ceiling:           ${ceiling.toFixed(1)} empty billing-run-shaped workflows/s (same sitting)`);
      if (probe) {
        const own = (perDraft.worker ?? 0) + (perDraft.client ?? 0);
        console.log(
          `a draft against a probe, CPU ms: machine ${machineMs.toFixed(1)} vs ${probe.cpuMs.machine.toFixed(1)} (a draft costs ${(machineMs / probe.cpuMs.machine).toFixed(2)} probes); ` +
            `Temporal ${ms('temporal')} vs ${probe.cpuMs.temporal?.toFixed(1) ?? '?'}; worker + client ${own.toFixed(1)} vs ${probe.cpuMs.self.toFixed(1)}; PostgreSQL ${ms('postgres')} vs none`,
        );
      }
      console.log(`${share >= TARGET_CEILING_SHARE ? 'PASS' : 'FAIL'}  drafts/s ${(invoices.length / totalSeconds).toFixed(1)} = ${share.toFixed(2)} × the Temporal ceiling (target ≥ ${TARGET_CEILING_SHARE})`);
    }
    if (groupBy.length > 0) {
      const plain = percentile(groupBy, 50) / 1000;
      const ratio = phases.close.max / plain;
      console.log(`GROUP BY day:      ${groupBy.map((ms) => (ms / 1000).toFixed(2)).join(' / ')} s over the same ${fmt(tenant.events)} rows (median ${plain.toFixed(2)} s)`);
      console.log(`${ratio <= TARGET_GROUP_BY_RATIO ? 'PASS' : 'FAIL'}  the close took ${phases.close.max.toFixed(2)} s = ${ratio.toFixed(2)} × a plain GROUP BY day (target ≤ ${TARGET_GROUP_BY_RATIO})`);
    }
    const peak = peakSampled ?? NaN;
    // The issue's memory target is for the one large customer; for many runs the worker's cache (WORKER_MAX_CACHED_WORKFLOWS) bounds it.
    if (opts.scenario === 'large') console.log(`${peak <= TARGET_RSS_MIB ? 'PASS' : 'FAIL'}  worker peak RSS ${fmt(peak)} MiB during the run (target ≤ ${TARGET_RSS_MIB} MiB)`);
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

/** The plain aggregate the close is measured against: one GROUP BY day over the first customer's rows, filtered as the close filters them, three times (warm). */
async function timeGroupByDay(pool: ReturnType<typeof createPgPool>, tenant: SeededTenant): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await pool.query(
      `SELECT date_trunc('day', "timestamp" AT TIME ZONE 'UTC') AS day, sum(quantity), count(*), sum(cost), sum(revenue)
         FROM usage_events
        WHERE organization_id = $1 AND customer_external_id = 'bench-customer-1' AND event_type = $2 AND "timestamp" >= $3 AND "timestamp" < $4
        GROUP BY 1`,
      [tenant.organizationId, BENCH_EVENT_TYPE, BENCH_PERIOD.start, BENCH_PERIOD.end],
    );
    times.push(performance.now() - t0);
    say(`  GROUP BY day over the tenant's events: ${(times[i]! / 1000).toFixed(2)} s`);
  }
  return times;
}

interface Spread {
  p50: number;
  p99: number;
  max: number;
}

/**
 * Where each run's time went, from the histories of up to HISTORY_SAMPLE runs: start → close scheduled → started →
 * completed. A close run locally (LOCAL_CLOSE_PATCH) has no activity task: it was queued for as long as the workflow
 * task that ran it waited to start, and it ended at its marker's complete_time, which the SDK counts from that task's
 * start (its original_schedule_time is the worker's clock, not the server's). A try that failed and fell back to the
 * activity is skipped: its run is timed by that activity.
 */
async function phaseTimings(client: Client, workflowIds: readonly string[]): Promise<{ runs: number; local: number; toScheduled: Spread; queued: Spread; close: Spread }> {
  const step = Math.max(1, Math.floor(workflowIds.length / HISTORY_SAMPLE));
  const sample = workflowIds.filter((_, i) => i % step === 0).slice(0, HISTORY_SAMPLE);
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
  const toScheduled: number[] = [];
  const queued: number[] = [];
  const close: number[] = [];
  let local = 0;
  for (const id of sample) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const started = events.find((e) => e.workflowExecutionStartedEventAttributes);
    if (!started) continue;
    const markers = events.map(localActivityMarker);
    const at = markers.findIndex((m) => m?.activityType === 'closePeriod' && !m.failed);
    if (at >= 0) {
      // the task that ran it: the last one started before its marker
      const taskStarted = events.slice(0, at).findLast((e) => e.workflowTaskStartedEventAttributes);
      const taskScheduled = events.slice(0, at).findLast((e) => e.workflowTaskScheduledEventAttributes);
      if (!taskStarted || !taskScheduled) continue;
      local += 1;
      toScheduled.push(ms(taskScheduled.eventTime) - ms(started.eventTime));
      queued.push(ms(taskStarted.eventTime) - ms(taskScheduled.eventTime));
      close.push(markers[at]!.completeTimeMs - ms(taskStarted.eventTime));
      continue;
    }
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'closePeriod');
    if (!scheduled) continue;
    const id0 = Number(scheduled.eventId);
    const begun = events.find((e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId ?? -1) === id0);
    const done = events.find((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) === id0);
    if (!begun || !done) continue;
    toScheduled.push(ms(scheduled.eventTime) - ms(started.eventTime));
    queued.push(ms(begun.eventTime) - ms(scheduled.eventTime));
    close.push(ms(done.eventTime) - ms(begun.eventTime));
  }
  const spread = (xs: number[]): Spread => ({ p50: percentile(xs, 50) / 1000, p99: percentile(xs, 99) / 1000, max: Math.max(...xs) / 1000 });
  return { runs: close.length, local, toScheduled: spread(toScheduled), queued: spread(queued), close: spread(close) };
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

import { Resource } from '@opentelemetry/resources';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { Pool } from 'pg';
import type Stripe from 'stripe';
import { createActivities, createLogNotifier, type Notifier } from '../activities';
import { MARGIN_EVALUATIONS_AT_ONCE } from '../activities/margins/evaluate-alerts';
import { marginEvaluationsTaskQueue } from '../temporal/workflow-ids';
import type { PrismaClient } from '../prisma/client';
import type { StripeAccounts } from '../activities/stripe/accounts';
import type { OutboundPolicy } from '../billing/outbound-urls';
import type { Logger } from '../temporal/log';
import type { Tracing } from '../temporal/tracing';
import { workerInterceptors } from './interceptors';

export interface LedgerflowWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  prisma: PrismaClient;
  /** plain pg for the ingest activities */
  pool: Pool;
  /** used by the sweeper to start ingest workflows */
  client: Client;
  /** defaults to one log line per notification */
  notifier?: Notifier;
  /** Stripe client for billing runs (finalize, collect); without it a billing run fails at its Stripe step with a clear error */
  stripe?: Stripe;
  /** clients of organizations with their own Stripe key, tried before `stripe` */
  stripeAccounts?: StripeAccounts;
  /** false on Temporal's time-skipping test server, which has no custom search attributes (default true) */
  searchAttributes?: boolean;
  /** a prebuilt workflow bundle (tests, production images); without it the workflows are bundled at start */
  workflowBundlePath?: string;
  /** workflow runs kept in memory between tasks (default DEFAULT_MAX_CACHED_WORKFLOWS) */
  maxCachedWorkflows?: number;
  /** where organizations' own URLs (CRM webhook) may point; default: public https only (OUTBOUND_DEVELOPMENT) */
  outbound?: OutboundPolicy;
  /** where workflow and activity spans go (temporal/tracing.ts); default: nowhere */
  tracing?: Pick<Tracing, 'enabled' | 'spanProcessor' | 'resource'>;
  /** the process's log: activities' debug lines (LOG_LEVEL=debug) */
  log?: Logger;
}

/**
 * Runs kept in the worker's cache between workflow tasks. At a period end
 * thousands of billing runs draft and then wait days for approval; cached,
 * each holds about 0.4 MiB (the SDK's default, sized from the heap, let the
 * worker reach 1.8 GiB for 10,000 runs). An evicted run is replayed from its
 * history when it next has work (a decision, a reminder), which costs
 * milliseconds.
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 500;

/** Ledgerflow's worker: the workflows and activities on its task queue, and the margin evaluations on theirs. */
export interface LedgerflowWorker {
  /** Runs until shutdown(), or until either part fails (the other then shuts down too, and this rejects with the failure). */
  run(): Promise<void>;
  /** Lets running activities finish (up to the grace time) and stops polling. */
  shutdown(): void;
}

/**
 * Builds the worker that runs Ledgerflow's workflows and activities on one task queue, and beside it the margin
 * watch's evaluations on the margin task queue (temporal/workflow-ids.ts) at most MARGIN_EVALUATIONS_AT_ONCE at a
 * time: after the worker was down, every organization's watch starts together, and on the main queue their
 * evaluations held its activity slots while they waited for database connections.
 */
export async function createLedgerflowWorker(options: LedgerflowWorkerOptions): Promise<LedgerflowWorker> {
  const workflows = options.workflowBundlePath
    ? { workflowBundle: { codePath: options.workflowBundlePath } }
    : { workflowsPath: require.resolve('../workflows') };
  const activities = createActivities({
    prisma: options.prisma,
    pool: options.pool,
    temporal: options.client,
    taskQueue: options.taskQueue,
    notifier: options.notifier ?? createLogNotifier(),
    ...(options.stripe ? { stripe: options.stripe } : {}),
    ...(options.stripeAccounts ? { stripeAccounts: options.stripeAccounts } : {}),
    ...(options.searchAttributes === false ? { searchAttributes: false } : {}),
    ...(options.outbound ? { outbound: options.outbound } : {}),
  });
  // Request ids and trace context from the API to the workflows' activities, their spans exported when tracing is on.
  const intercepted = workerInterceptors(options.tracing ?? { enabled: false, spanProcessor: new NoopSpanProcessor(), resource: Resource.empty() }, { prebuiltBundle: options.workflowBundlePath !== undefined, ...(options.log ? { log: options.log } : {}) });
  // Let a running activity finish its transaction on SIGTERM before we go.
  const shutdownGraceTime = '10 seconds';
  const main = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...workflows,
    // evaluateMarginAlerts too: margin watches started before they moved to the margin queue evaluate here.
    activities,
    ...intercepted,
    maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    shutdownGraceTime,
  });
  let margins: Worker;
  try {
    margins = await Worker.create({
      connection: options.connection,
      namespace: options.namespace,
      taskQueue: marginEvaluationsTaskQueue(options.taskQueue),
      activities: { evaluateMarginAlerts: activities.evaluateMarginAlerts },
      interceptors: { activity: intercepted.interceptors?.activity ?? [] },
      maxConcurrentActivityTaskExecutions: MARGIN_EVALUATIONS_AT_ONCE,
      shutdownGraceTime,
    });
  } catch (err) {
    // A Worker never run keeps its hold on the connection: run it to its end at once, so the connection can close.
    await main.runUntil(Promise.resolve()).catch(() => undefined);
    throw err;
  }
  const parts = [main, margins];
  let stopped = false;
  let started = false;
  const shutdown = (): void => {
    stopped = true;
    for (const part of parts) if (part.getState() === 'RUNNING') part.shutdown();
  };
  return {
    shutdown,
    async run() {
      if (started) throw new Error('this Ledgerflow worker has run already');
      started = true;
      // Shut down before it ran: each part starts and stops at once (a Worker never run keeps its hold on the connection).
      if (stopped) {
        await Promise.all(parts.map((part) => part.runUntil(Promise.resolve())));
        return;
      }
      // Either part ending ends the other; the failure that came first is the one to report.
      const failures: unknown[] = [];
      await Promise.all(parts.map((part) => part.run().catch((reason: unknown) => void failures.push(reason)).finally(shutdown)));
      if (failures.length > 0) throw failures[0];
    },
  };
}

import { Resource } from '@opentelemetry/resources';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { Pool } from 'pg';
import type Stripe from 'stripe';
import { createActivities, createLogNotifier, type Notifier } from '../activities';
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

/** Builds the worker that runs Ledgerflow's workflows and activities on one task queue. */
export async function createLedgerflowWorker(options: LedgerflowWorkerOptions): Promise<Worker> {
  const workflows = options.workflowBundlePath
    ? { workflowBundle: { codePath: options.workflowBundlePath } }
    : { workflowsPath: require.resolve('../workflows') };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...workflows,
    activities: createActivities({
      prisma: options.prisma,
      pool: options.pool,
      temporal: options.client,
      taskQueue: options.taskQueue,
      notifier: options.notifier ?? createLogNotifier(),
      ...(options.stripe ? { stripe: options.stripe } : {}),
      ...(options.stripeAccounts ? { stripeAccounts: options.stripeAccounts } : {}),
      ...(options.searchAttributes === false ? { searchAttributes: false } : {}),
      ...(options.outbound ? { outbound: options.outbound } : {}),
    }),
    // Request ids and trace context from the API to the workflows' activities, their spans exported when tracing is on.
    ...workerInterceptors(options.tracing ?? { enabled: false, spanProcessor: new NoopSpanProcessor(), resource: Resource.empty() }, { prebuiltBundle: options.workflowBundlePath !== undefined, ...(options.log ? { log: options.log } : {}) }),
    maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    // Let a running activity finish its transaction on SIGTERM before we go.
    shutdownGraceTime: '10 seconds',
  });
}

import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities, createLogNotifier, type Notifier } from '../activities';
import type { PrismaClient } from '../prisma/client';

export interface LedgerflowWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  prisma: PrismaClient;
  /** used by the sweeper to start ingest workflows */
  client: Client;
  /** defaults to one log line per notification */
  notifier?: Notifier;
  /** a prebuilt workflow bundle (tests, production images); without it the workflows are bundled at start */
  workflowBundlePath?: string;
}

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
      temporal: options.client,
      taskQueue: options.taskQueue,
      notifier: options.notifier ?? createLogNotifier(),
    }),
    // Let a running activity finish its transaction on SIGTERM before we go.
    shutdownGraceTime: '10 seconds',
  });
}

import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Notifier, OutgoingNotification } from '../../activities';
import { createLedgerflowWorker, type LedgerflowWorker, type LedgerflowWorkerOptions } from '../../worker/create-worker';
import { closeTestPrisma, testPool, testPrisma, uniqueTaskQueue } from './fixtures';

/** A notifier that keeps what it was asked to send, for assertions. */
export class RecordingNotifier implements Notifier {
  readonly sent: OutgoingNotification[] = [];
  /** `forwardTo`: a real channel notifier (e.g. over the Slack and SMTP fakes) that gets each notification first */
  constructor(private readonly forwardTo?: Notifier) {}
  async send(notification: OutgoingNotification): Promise<void> {
    await this.forwardTo?.send(notification);
    this.sent.push(notification);
  }
}

export interface TestWorker {
  client: Client;
  taskQueue: string;
  notifier: RecordingNotifier;
  worker: LedgerflowWorker;
  /** stops the worker and closes every connection this helper opened, and the test Prisma client */
  close(): Promise<void>;
}

/**
 * An in-process Ledgerflow worker on a task queue of its own, with the
 * harness's prebuilt workflow bundle, against the real Temporal and database.
 */
export async function startTestWorker(name: string, { forwardTo, ...extra }: Pick<LedgerflowWorkerOptions, 'stripe' | 'outbound'> & { forwardTo?: Notifier } = {}): Promise<TestWorker> {
  const address = required('TEMPORAL_ADDRESS');
  const namespace = required('TEMPORAL_NAMESPACE');
  const taskQueue = uniqueTaskQueue(name);
  const notifier = new RecordingNotifier(forwardTo);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await createLedgerflowWorker({
    connection: nativeConnection,
    namespace,
    taskQueue,
    prisma: testPrisma(),
    pool: testPool(),
    client,
    notifier,
    workflowBundlePath: required('LEDGERFLOW_WORKFLOW_BUNDLE'),
    ...extra,
  });
  const running = worker.run();
  return {
    client,
    taskQueue,
    notifier,
    worker,
    async close() {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      await closeTestPrisma();
    },
  };
}

/** Polls until `check` returns a value other than undefined; for waiting on work started elsewhere. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run integration tests through jest's integration project`);
  return value;
}

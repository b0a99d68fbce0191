import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createLedgerflowWorker, type LedgerflowWorker } from '../worker/create-worker';
import { closeTestPrisma, testPool, testPrisma, uniqueTaskQueue } from './harness/fixtures';

/*
 * createLedgerflowWorker's two parts (the main task queue, and the margin evaluations' queue) run and stop as one,
 * on the real Temporal dev server.
 */
let native: NativeConnection;
let connection: Connection;

beforeAll(async () => {
  native = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
});

afterAll(async () => {
  await native?.close();
  await connection?.close();
  await closeTestPrisma();
});

const build = (name: string): Promise<LedgerflowWorker> =>
  createLedgerflowWorker({
    connection: native,
    namespace: process.env.TEMPORAL_NAMESPACE!,
    taskQueue: uniqueTaskQueue(name),
    prisma: testPrisma(),
    pool: testPool(),
    client: new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE! }),
    workflowBundlePath: process.env.LEDGERFLOW_WORKFLOW_BUNDLE!,
  });

test('a shutdown ends both parts, and a worker runs once', async () => {
  const worker = await build('create-worker-run');
  const running = worker.run();
  await expect(worker.run()).rejects.toThrow('this Ledgerflow worker has run already');
  worker.shutdown();
  await expect(running).resolves.toBeUndefined();
});

test('a worker shut down before it ran: run() ends at once, and the connection can close after (afterAll)', async () => {
  const worker = await build('create-worker-early');
  worker.shutdown();
  await expect(worker.run()).resolves.toBeUndefined();
});

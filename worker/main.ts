import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createPrismaClient, databaseUrl } from '../prisma/client';
import { DEFAULT_NAMESPACE, TASK_QUEUE } from '../temporal/names';
import { ensureSweeperSchedule } from '../temporal/schedules';
import { registerSearchAttributes } from '../temporal/search-attributes';
import { createLedgerflowWorker } from './create-worker';

/**
 * The worker process: `node --import tsx worker/main.ts`.
 * Env: DATABASE_URL (required), TEMPORAL_ADDRESS (127.0.0.1:7233),
 * TEMPORAL_NAMESPACE (default), TEMPORAL_TASK_QUEUE (ledgerflow),
 * SWEEPER_INTERVAL_SECONDS (60).
 */
async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const namespace = process.env.TEMPORAL_NAMESPACE ?? DEFAULT_NAMESPACE;
  const taskQueue = TASK_QUEUE;
  const sweeperEverySeconds = positiveInteger('SWEEPER_INTERVAL_SECONDS', process.env.SWEEPER_INTERVAL_SECONDS, 60);

  const prisma = createPrismaClient(databaseUrl());
  const clientConnection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([prisma.$disconnect(), clientConnection.close(), nativeConnection.close()]);
  };

  try {
    // The API starts workflows with these attributes; against a fresh cluster
    // (docker compose) the worker may be the first to come up. Safe to repeat.
    await registerSearchAttributes(clientConnection, namespace);
    await ensureSweeperSchedule(client, { taskQueue, everySeconds: sweeperEverySeconds });
    const worker = await createLedgerflowWorker({ connection: nativeConnection, namespace, taskQueue, prisma, client });

    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      console.log(`worker received ${signal}, finishing running tasks…`);
      worker.shutdown();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);

    const running = worker.run();
    console.log(`worker ready on task queue ${taskQueue}`);
    console.log(`  namespace ${namespace}, Temporal ${address}, orphan-batch sweeper every ${sweeperEverySeconds}s`);
    await running;
    console.log('worker stopped');
  } finally {
    await closeAll();
  }
}

function positiveInteger(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number of seconds (got "${raw}")`);
  return value;
}

main().catch((err: unknown) => {
  console.error(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});

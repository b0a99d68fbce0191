import { createServer, type Server } from 'node:http';
import v8 from 'node:v8';
import { createPgPool, createPrismaClient, databaseUrl } from '../prisma/client';
import { assertClaimsMatchDatabase } from '../prisma/usage-claims';
import { createTemporalClient } from '../temporal/client';
import { createLogger, logFn } from '../temporal/log';
import { installTracing } from '../temporal/tracing';
import { TASK_QUEUE } from '../temporal/names';
import { createApi } from './app';
import { apiConfigFromEnv } from './config';
import { API_OLD_SPACE_MIB } from './node-flags';

/**
 * The API process: env in (DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_TASK_QUEUE, PORT, HOST, RATE_LIMIT_PER_ORGANIZATION_PER_SECOND,
 * RATE_LIMIT_PER_IP_PER_SECOND, INGEST_*, LOG_LEVEL, LOG_FORMAT,
 * OTEL_EXPORTER_OTLP_ENDPOINT), one line out when it listens, and a clean
 * stop on SIGINT/SIGTERM. Its log is JSON lines on stdout (temporal/log.ts).
 */
const log = createLogger('api');

async function main(): Promise<void> {
  // First: the Temporal client's interceptors and the request spans find the tracer provider.
  const tracing = installTracing('ledgerflow-api');
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number (got "${process.env.PORT}")`);
  const config = { ...apiConfigFromEnv(), log: logFn(log), accessLog: log };
  const url = databaseUrl();

  const prisma = createPrismaClient(url, { max: 5 });
  // Before any event is stored: on a restored cluster its transaction id would be mistaken for an old one.
  await assertClaimsMatchDatabase(prisma);
  const pgPool = createPgPool(url, { max: 10, log: (message) => log.warn(message) });
  const temporal = await createTemporalClient();
  const api = createApi({ prisma, pgPool, temporal: temporal.client, taskQueue: TASK_QUEUE }, config);

  const server: Server = createServer(api.handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  // Outlive the idle timeout of load balancers in front (commonly 60 s), so they never reuse a closed socket.
  server.keepAliveTimeout = 65_000;
  log.info(`api listening on http://${host}:${port}`);
  const heapLimitMiB = Math.round(v8.getHeapStatistics().heap_size_limit / 1024 / 1024);
  const bodies = config.bodyBudgetBytes > 0 ? `request bodies in process at most ${Math.round(config.bodyBudgetBytes / 1024 / 1024)} MiB` : 'request bodies in process unbounded (API_BODY_BUDGET_BYTES=0)';
  log.info(`  memory: heap limit ${heapLimitMiB} MiB, ${bodies}`);
  if (config.bodyBudgetBytes === 0 && heapLimitMiB <= 2 * API_OLD_SPACE_MIB) {
    log.warn('  request bodies are unbounded (API_BODY_BUDGET_BYTES=0) under a bounded heap: a flood of bulk bodies can end the process out of memory');
  }
  if (heapLimitMiB > 2 * API_OLD_SPACE_MIB) {
    log.warn(`  the API runs without its Node flags (api/node-flags.ts: --max-old-space-size=${API_OLD_SPACE_MIB}); start it with \`npm run api\` or add them to the node command line`);
  }
  if (tracing.enabled) log.info('  tracing: spans exported over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`api: ${signal} received, shutting down`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    api.stop();
    server.close(() => {
      Promise.allSettled([pgPool.end(), prisma.$disconnect(), temporal.close(), tracing.shutdown()])
        .then(() => process.exit(0))
        .catch(() => process.exit(1));
    });
    server.closeIdleConnections();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  log.fatal({ err }, `api failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { notifierFromEnv } from '../activities/channels';
import { createStripeAccounts } from '../activities/stripe/accounts';
import { createStripeClient } from '../activities/stripe/client';
import { outboundPolicyFromEnv } from '../billing/outbound-urls';
import { createPgPool, createPrismaClient, databaseUrl } from '../prisma/client';
import { assertClaimsMatchDatabase } from '../prisma/usage-claims';
import { installTemporalRuntime } from '../temporal/runtime';
import { createLogger, logFn } from '../temporal/log';
import { requestIdInterceptor } from '../temporal/request-id';
import { installTracing } from '../temporal/tracing';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import { DEFAULT_NAMESPACE, TASK_QUEUE } from '../temporal/names';
import { marginEvaluationsTaskQueue } from '../temporal/workflow-ids';
import { MARGIN_EVALUATIONS_AT_ONCE } from '../activities/margins/evaluate-alerts';
import { ensureMarginWatchSchedules } from '../temporal/margin-watch-schedule';
import { ensureSweeperSchedule } from '../temporal/schedules';
import { registerSearchAttributes } from '../temporal/search-attributes';
import { Batcher } from './batcher';
import { WebhookDispatcher } from './webhook-dispatcher';
import { createLedgerflowWorker, DEFAULT_MAX_CACHED_WORKFLOWS } from './create-worker';
import { bundleTracesWorkflows } from './interceptors';

/**
 * The worker process: `node --import tsx worker/main.ts`.
 * Env: DATABASE_URL (required), TEMPORAL_ADDRESS (127.0.0.1:7233),
 * TEMPORAL_NAMESPACE (default), TEMPORAL_TASK_QUEUE (ledgerflow),
 * SWEEPER_INTERVAL_SECONDS (60), INGEST_BATCH_WINDOW_MS (250),
 * INGEST_MAX_OPEN_BATCHES (4 per organization), WORKER_MAX_CACHED_WORKFLOWS (500),
 * TEMPORAL_LOG_LEVEL (WARN; INFO shows worker states and the bundle report),
 * LOG_LEVEL (info) and LOG_FORMAT (json; text for people), tracing:
 * OTEL_EXPORTER_OTLP_ENDPOINT (unset: no spans; see temporal/tracing.ts),
 * OUTBOUND_DEVELOPMENT (0; 1 lets organizations' CRM and SMTP URLs use plain
 * http/SMTP and loopback or private addresses); alerts: SLACK_BOT_TOKEN, SLACK_API_URL,
 * ALERT_SLACK_CHANNEL, SMTP_URL, ALERT_EMAIL_FROM, ALERT_EMAIL_TO (see
 * activities/channels/index.ts; with none set, notifications are logged);
 * Stripe: STRIPE_SECRET_KEY and, for stripe-mock or a proxy, STRIPE_API_BASE
 * (e.g. http://127.0.0.1:12111). Without a key billing runs draft and wait
 * for approval as usual, and fail at the Stripe step with a message saying so.
 */
const log = createLogger('worker');

async function main(): Promise<void> {
  installTemporalRuntime(process.env, log);
  const tracing = installTracing('ledgerflow-worker');
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const namespace = process.env.TEMPORAL_NAMESPACE ?? DEFAULT_NAMESPACE;
  const taskQueue = TASK_QUEUE;
  const sweeperEverySeconds = positiveInteger('SWEEPER_INTERVAL_SECONDS', process.env.SWEEPER_INTERVAL_SECONDS, 60);
  const batchWindowMs = positiveInteger('INGEST_BATCH_WINDOW_MS', process.env.INGEST_BATCH_WINDOW_MS, 250);
  const maxOpenBatches = positiveInteger('INGEST_MAX_OPEN_BATCHES', process.env.INGEST_MAX_OPEN_BATCHES, 4);
  const maxCachedWorkflows = positiveInteger('WORKER_MAX_CACHED_WORKFLOWS', process.env.WORKER_MAX_CACHED_WORKFLOWS, DEFAULT_MAX_CACHED_WORKFLOWS);

  const prisma = createPrismaClient(databaseUrl());
  const pool = createPgPool(databaseUrl(), { max: 10, log: (message) => log.warn(message) });
  const clientConnection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  // What activities start or message (billing runs, reconciliations) carries the request id and trace they run under.
  const client = new Client({ connection: clientConnection, namespace, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor(), requestIdInterceptor] } });
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([prisma.$disconnect(), pool.end(), clientConnection.close(), nativeConnection.close(), tracing.shutdown()]);
  };

  // The start-time margin-watch pass runs in the background; a shutdown stops it between organizations and waits for it before closing the connections it uses.
  const marginWatchSync = new AbortController();
  let marginWatches: Promise<void> = Promise.resolve();
  try {
    // A restored cluster whose transaction ids run behind the usage claims would take late usage for billed.
    await assertClaimsMatchDatabase(prisma);
    // First: a half-configured alert channel stops the worker at start, not at its first alert.
    const notifier = notifierFromEnv(prisma, process.env, (line) => log.info(line));
    const outbound = outboundPolicyFromEnv(process.env);
    // The API starts workflows with these attributes; against a fresh cluster
    // (docker compose) the worker may be the first to come up. Safe to repeat.
    await registerSearchAttributes(clientConnection, namespace);
    await ensureSweeperSchedule(client, { taskQueue, everySeconds: sweeperEverySeconds });
    // Each organization's margin watch at its marginWatchEveryMinutes; the sweeper does the same for organizations created (or changed) later.
    // In the background: after an upgrade that changes every schedule's spec this is one update per organization, which must not hold up
    // billing; a failure here is retried by the next sweep.
    marginWatches = ensureMarginWatchSchedules(client, prisma, { taskQueue, limit: 100_000, signal: marginWatchSync.signal }).then(
      (set) => {
        if (set.length > 0) log.info(`margin-watch schedules set for ${set.length} organization(s)`);
      },
      (err: unknown) => log.warn(`margin-watch schedules not brought up to date at start (the sweeper goes on from there): ${err instanceof Error ? err.message : String(err)}`),
    );
    const stripe = stripeFromEnv();
    // Organizations with their own stripe_secret_key use it, through the same API base.
    const stripeAccounts = createStripeAccounts(prisma, stripeApiBase() ? { apiBase: stripeApiBase() } : {});
    const bundlePath = process.env.LEDGERFLOW_WORKFLOW_BUNDLE;
    if (bundlePath && tracing.enabled && !bundleTracesWorkflows(fs.readFileSync(bundlePath, 'utf8'))) {
      log.warn(`LEDGERFLOW_WORKFLOW_BUNDLE (${bundlePath}) was built with tracing off: activities are traced, workflows are not. Unset it to bundle at start, or build the bundle with tracing on.`);
    }
    const worker = await createLedgerflowWorker({
      connection: nativeConnection,
      namespace,
      taskQueue,
      prisma,
      pool,
      client,
      notifier,
      stripeAccounts,
      maxCachedWorkflows,
      outbound,
      tracing,
      log,
      ...(stripe ? { stripe } : {}),
      // A bundle built ahead of time (images, tests) instead of bundling the workflows at start.
      ...(bundlePath ? { workflowBundlePath: bundlePath } : {}),
    });

    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      marginWatchSync.abort();
      log.info(`worker received ${signal}, finishing running tasks…`);
      worker.shutdown();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);

    const running = worker.run();
    // Forms processing batches from the events the API stored and starts their workflows.
    const batcher = new Batcher({ pool, temporal: client, taskQueue, databaseUrl: databaseUrl(), windowMs: batchWindowMs, maxOpenBatches, log: logFn(log.child({ component: 'batcher' }), 'warn') });
    await batcher.start();
    // Starts a delivery workflow per outbound webhook delivery as its transaction commits.
    const webhooks = new WebhookDispatcher({ pool, temporal: client, taskQueue, databaseUrl: databaseUrl(), log: logFn(log.child({ component: 'webhooks' }), 'warn') });
    await webhooks.start();
    log.info(`worker ready on task queue ${taskQueue}, margin evaluations on ${marginEvaluationsTaskQueue(taskQueue)} (${MARGIN_EVALUATIONS_AT_ONCE} at a time)`);
    log.info(`  namespace ${namespace}, Temporal ${address}, orphan-batch sweeper every ${sweeperEverySeconds}s`);
    log.info(`  ingest: batches of up to 1,000 events or ${batchWindowMs} ms of arrivals, at most ${maxOpenBatches} open per organization`);
    if (outbound.allowDevelopmentTargets) log.warn('  OUTBOUND_DEVELOPMENT=1: organizations\' CRM, SMTP and webhook URLs may use plain http/SMTP and reach loopback and private addresses (development only)');
    log.info(`  Stripe: ${stripe ? (process.env.STRIPE_API_BASE ?? 'api.stripe.com') : 'not configured (set STRIPE_SECRET_KEY)'}`);
    log.info(`  tracing: ${tracing.enabled ? 'spans exported over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)' : 'off (set OTEL_EXPORTER_OTLP_ENDPOINT)'}`);
    try {
      await running;
    } finally {
      // Before the pool closes: a claim in progress finishes (or is taken up again by the next batcher).
      await batcher.stop();
      await webhooks.stop();
    }
    log.info('worker stopped');
  } finally {
    marginWatchSync.abort();
    await marginWatches;
    await closeAll();
  }
}

function positiveInteger(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number (got "${raw}")`);
  return value;
}

const stripeApiBase = (): string | undefined => process.env.STRIPE_API_BASE || undefined;

function stripeFromEnv() {
  const apiKey = process.env.STRIPE_SECRET_KEY;
  if (!apiKey) return undefined;
  const apiBase = stripeApiBase();
  return createStripeClient({ apiKey, ...(apiBase ? { apiBase } : {}) });
}

main().catch((err: unknown) => {
  log.fatal({ err }, `worker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

// The web app's server: Express 5 serving React Router's production build
// (web/build, made by `npm run web:build`). Loaders and actions get the
// Prisma and Temporal clients through the load context (web/app/context.ts).
// Env: DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, WEB_HOST (HOST),
// WEB_PORT (default 3001), TEMPORAL_UI_URL (default http://127.0.0.1:8233),
// TRUST_PROXY, and the sign-in limit's SIGN_IN_MAX_ATTEMPTS_PER_EMAIL,
// SIGN_IN_MAX_ATTEMPTS_PER_IP, SIGN_IN_LIMIT_WINDOW_SECONDS (web/sign-in-limit.ts), LOG_LEVEL,
// LOG_FORMAT and OTEL_EXPORTER_OTLP_ENDPOINT (temporal/log.ts, temporal/tracing.ts).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createRequestHandler } from '@react-router/express';
import express from 'express';
import type { ServerBuild } from 'react-router';
import { createPgPool, createPrismaClient } from '../prisma/client';
import { createTemporalClient } from '../temporal/client';
import { createLogger, logFn } from '../temporal/log';
import { installTracing } from '../temporal/tracing';
import { identified, pathTemplate } from '../services/request-context';
import { createServer } from 'node:http';
import type { WebContext } from './app/context';
import { outboundPolicyFromEnv } from '../billing/outbound-urls';
import { SignInLimit, signInLimitOptions } from './sign-in-limit';

const BUILD_DIR = path.join(__dirname, 'build');
const SERVER_BUILD = path.join(BUILD_DIR, 'server', 'index.js');

const log = createLogger('web');

async function main(): Promise<void> {
  const tracing = installTracing('ledgerflow-web');
  if (!fs.existsSync(SERVER_BUILD)) throw new Error(`${path.relative(process.cwd(), SERVER_BUILD)} is missing: run \`npm run web:build\` first`);
  // The server build is CommonJS (web/react-router.config.ts), loaded as such.
  const build = createRequire(__filename)(SERVER_BUILD) as ServerBuild;
  const limitOptions = signInLimitOptions();
  const prisma = createPrismaClient(undefined, { max: 5 });
  // The sign-in limit's counters (rate-limiter-flexible speaks pg, not Prisma) and the services' SQL read models.
  const pgPool = createPgPool(undefined, { max: 4, log: (message) => log.warn(message) });
  const temporal = await createTemporalClient();
  const signInLimit = new SignInLimit(pgPool, limitOptions, logFn(log));
  const context: Omit<WebContext, 'clientIp'> = {
    prisma,
    pool: pgPool,
    temporal: temporal.client,
    temporalNamespace: temporal.client.options.namespace,
    temporalUiUrl: (process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233').replace(/\/+$/, ''),
    signInLimit,
    outbound: outboundPolicyFromEnv(process.env),
  };

  const app = express();
  app.disable('x-powered-by');
  // Behind a TLS-terminating proxy, set TRUST_PROXY so cookies are marked Secure.
  if (process.env.TRUST_PROXY) app.set('trust proxy', process.env.TRUST_PROXY);
  // Fingerprinted file names: cache them for good.
  app.use('/assets', express.static(path.join(BUILD_DIR, 'client', 'assets'), { immutable: true, maxAge: '1y' }));
  app.use(express.static(path.join(BUILD_DIR, 'client'), { maxAge: '1h' }));
  app.all('*splat', createRequestHandler({ build, getLoadContext: (req): WebContext => ({ ...context, clientIp: req.ip ?? req.socket.remoteAddress ?? 'unknown' }) }));

  const host = process.env.WEB_HOST ?? process.env.HOST ?? '127.0.0.1';
  const port = Number(process.env.WEB_PORT ?? 3001);
  // Each request gets an id (X-Request-Id) and a span; what its loader or action sends to Temporal carries both.
  const server = createServer(identified(app, { routeOf: pathTemplate, log }));
  server.listen(port, host, () => {
    log.info(`web listening on http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`);
  });
  server.on('error', (err) => {
    log.fatal({ err }, `web could not listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  });

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close(() => {
      void Promise.allSettled([prisma.$disconnect(), pgPool.end(), temporal.close(), tracing.shutdown()]).then(() => process.exit(0));
    });
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  log.fatal({ err }, `web failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

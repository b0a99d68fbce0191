import { createServer } from 'node:http';
import { outboundPolicyFromEnv } from '../billing/outbound-urls';
import { createPgPool, databaseUrl } from '../prisma/client';
import { createLogger, logFn } from '../temporal/log';
import { createProxy, defaultProxyConfig } from './app';

/**
 * The AI proxy process (README "AI proxy"): env in (DATABASE_URL, LEDGERFLOW_SECRET_KEY, LEDGERFLOW_API_URL,
 * PROXY_PORT, HOST, PROXY_UPSTREAM_TIMEOUT_MS, PROXY_EVENT_FLUSH_MS, OUTBOUND_DEVELOPMENT, LOG_LEVEL, LOG_FORMAT), one line out when it
 * listens, and a clean stop on SIGINT/SIGTERM that posts the events of the calls already answered.
 */
const log = createLogger('proxy');

function wholeEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min} (got "${raw}")`);
  return value;
}

async function main(): Promise<void> {
  const port = wholeEnv('PROXY_PORT', 3002, 0);
  const host = process.env.HOST ?? '127.0.0.1';
  const apiUrl = (process.env.LEDGERFLOW_API_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const pool = createPgPool(databaseUrl(), { max: 4, log: (message) => log.warn(message) });
  const proxy = createProxy(pool, {
    ...defaultProxyConfig,
    apiUrl,
    upstreamTimeoutMs: wholeEnv('PROXY_UPSTREAM_TIMEOUT_MS', defaultProxyConfig.upstreamTimeoutMs, 1),
    eventFlushMs: wholeEnv('PROXY_EVENT_FLUSH_MS', defaultProxyConfig.eventFlushMs, 1),
    outbound: outboundPolicyFromEnv(process.env),
    log: logFn(log),
  });
  const server = createServer(proxy.handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  server.keepAliveTimeout = 65_000;
  log.info(`proxy listening on http://${host}:${port} (Ledgerflow API ${apiUrl})`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`proxy: ${signal} received, shutting down`);
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    server.close(() => {
      proxy
        .idle()
        .then(() => {
          proxy.close();
          return pool.end();
        })
        .then(() => process.exit(0))
        .catch(() => process.exit(1));
    });
    server.closeIdleConnections();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  log.fatal({ err }, `proxy failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** TEMPORAL_LOG_LEVEL, default WARN: the SDK's INFO lines (worker state, the bundle's webpack report) only when asked for. */
export function temporalLogLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const raw = (env.TEMPORAL_LOG_LEVEL ?? '').trim().toUpperCase();
  if (raw === '') return 'WARN';
  if (!(LEVELS as readonly string[]).includes(raw)) throw new Error(`TEMPORAL_LOG_LEVEL must be one of ${LEVELS.join(', ')} (got "${env.TEMPORAL_LOG_LEVEL}")`);
  return raw as LogLevel;
}

/**
 * Installs the Temporal SDK's runtime with a logger at TEMPORAL_LOG_LEVEL
 * and, when TEMPORAL_METRICS_ADDRESS is set (host:port), the SDK's own
 * Prometheus exporter there (`GET /metrics`: task slots, poll and schedule
 * latencies, workflow and activity outcomes, cache size). Call once per
 * process before any worker or native connection is made (the worker's
 * main, the integration tests' setup).
 */
export function installTemporalRuntime(env: NodeJS.ProcessEnv = process.env): void {
  const metricsAddress = env.TEMPORAL_METRICS_ADDRESS?.trim();
  if (metricsAddress && !/^[^\s:]+:\d{1,5}$/.test(metricsAddress)) throw new Error(`TEMPORAL_METRICS_ADDRESS must be host:port, e.g. 127.0.0.1:9464 (got "${metricsAddress}")`);
  Runtime.install({
    logger: new DefaultLogger(temporalLogLevel(env)),
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress, countersTotalSuffix: true } } } } : {}),
  });
}

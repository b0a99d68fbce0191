import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './log';
import { isMarginEvaluationsTaskQueue } from './workflow-ids';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** TEMPORAL_LOG_LEVEL, default WARN: the SDK's INFO lines (worker state, the bundle's webpack report) only when asked for. */
export function temporalLogLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const raw = (env.TEMPORAL_LOG_LEVEL ?? '').trim().toUpperCase();
  if (raw === '') return 'WARN';
  if (!(LEVELS as readonly string[]).includes(raw)) throw new Error(`TEMPORAL_LOG_LEVEL must be one of ${LEVELS.join(', ')} (got "${env.TEMPORAL_LOG_LEVEL}")`);
  return raw as LogLevel;
}

const PINO_LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

const NO_WORKFLOWS = 'No workflows registered, not polling for workflow tasks';

/**
 * What the SDK says that is so by design: the margin task queue's worker (worker/create-worker.ts) runs activities
 * only, and every worker process and test worker would otherwise warn about it once at start. Said of any other task
 * queue it is a misconfiguration, and stays.
 */
const byDesign = (message: string, meta?: Record<string, unknown>): boolean =>
  message === NO_WORKFLOWS && typeof meta?.taskQueue === 'string' && isMarginEvaluationsTaskQueue(meta.taskQueue);

class SdkLogger extends DefaultLogger {
  override log(level: LogLevel, message: string, meta?: Record<string, unknown>): void {
    if (!byDesign(message, meta)) super.log(level, message, meta);
  }
}

/** The Temporal SDK's log (worker states, activity failures) as lines of `logger`, from `level` up. */
export function temporalSdkLogger(logger: Logger, level: LogLevel): DefaultLogger {
  const sdk = logger.child({ component: 'temporal-sdk' });
  return new SdkLogger(level, ({ level: entryLevel, message, meta }) => sdk[PINO_LEVELS[entryLevel]]({ ...meta }, message));
}

/**
 * Installs the Temporal SDK's runtime with a logger at TEMPORAL_LOG_LEVEL
 * (into the process's structured log when `logger` is given, else the SDK's
 * console format) and, when TEMPORAL_METRICS_ADDRESS is set (host:port),
 * the SDK's own Prometheus exporter there (`GET /metrics`: task slots, poll
 * and schedule latencies, workflow and activity outcomes, cache size). Call
 * once per process before any worker or native connection is made (the
 * worker's main, the integration tests' setup).
 */
export function installTemporalRuntime(env: NodeJS.ProcessEnv = process.env, logger?: Logger): void {
  const metricsAddress = env.TEMPORAL_METRICS_ADDRESS?.trim();
  if (metricsAddress && !/^[^\s:]+:\d{1,5}$/.test(metricsAddress)) throw new Error(`TEMPORAL_METRICS_ADDRESS must be host:port, e.g. 127.0.0.1:9464 (got "${metricsAddress}")`);
  const level = temporalLogLevel(env);
  Runtime.install({
    logger: logger ? temporalSdkLogger(logger, level) : new SdkLogger(level),
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress, countersTotalSuffix: true } } } } : {}),
  });
}

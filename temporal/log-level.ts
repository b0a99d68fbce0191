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
 * Installs the Temporal SDK's runtime with a logger at TEMPORAL_LOG_LEVEL.
 * Call once per process before any worker or native connection is made
 * (the worker's main, the integration tests' setup).
 */
export function installTemporalRuntime(env: NodeJS.ProcessEnv = process.env): void {
  Runtime.install({ logger: new DefaultLogger(temporalLogLevel(env)) });
}

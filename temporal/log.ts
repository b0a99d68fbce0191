import { trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import { currentLogContext } from './request-id';

/*
 * The processes' log: one JSON object a line on stdout (pino, chosen for
 * being the most used structured logger in Node, fast, with serializers and
 * formatters to keep secrets and row data out), each line with the time, the level, the
 * service, the message and what the work belongs to: the HTTP request's id
 * and, in the worker, the workflow and activity (temporal/request-id.ts),
 * and the trace id when tracing is on (temporal/tracing.ts).
 * LOG_LEVEL (info) picks what is written; LOG_FORMAT=text writes the same
 * lines for people (`npm start` uses it), JSON is the default.
 */

export type { Logger };
export type LogFormat = 'json' | 'text';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function logLevel(env: NodeJS.ProcessEnv = process.env): (typeof LEVELS)[number] {
  const raw = (env.LOG_LEVEL ?? '').trim().toLowerCase();
  if (raw === '') return 'info';
  if (!(LEVELS as readonly string[]).includes(raw)) throw new Error(`LOG_LEVEL must be one of ${LEVELS.join(', ')} (got "${env.LOG_LEVEL}")`);
  return raw as (typeof LEVELS)[number];
}

export function logFormat(env: NodeJS.ProcessEnv = process.env): LogFormat {
  const raw = (env.LOG_FORMAT ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'json') return 'json';
  if (raw === 'text') return 'text';
  throw new Error(`LOG_FORMAT must be json or text (got "${env.LOG_FORMAT}")`);
}

/** Keys a log line never shows the value of, wherever they sit in what is logged (any case, any depth to 8). */
const SECRET_KEY = /pass(word)?|secret|token|authorization|api[-_]?key|cookie|credential|private[-_]?key/i;

function censored(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Error) return serializeError(value);
  if (Array.isArray(value)) return value.map((item) => censored(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? '[redacted]' : censored(item, depth + 1);
  return out;
}

/**
 * An error as its type, message, code and stack (and its cause's type and
 * message) — not every property it carries: a database error's `detail` holds
 * row values, a client library's error its request's arguments.
 */
function serializeError(err: unknown): Record<string, unknown> {
  // Already reduced (the log formatter runs before pino's serializers), or not an error at all.
  if (!(err instanceof Error)) return typeof err === 'object' && err !== null ? (err as Record<string, unknown>) : { message: String(err) };
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error ? { type: err.cause.constructor.name, message: err.cause.message } : undefined;
  return { type: err.constructor.name, message: err.message, ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}), stack: err.stack, ...(cause ? { cause } : {}) };
}

/** The process's logger; `out` replaces stdout (tests). */
export function createLogger(service: string, env: NodeJS.ProcessEnv = process.env, out?: { write(line: string): void }): Logger {
  const format = logFormat(env);
  const sink = out ?? process.stdout;
  const destination = format === 'text' ? { write: (line: string) => sink.write(textLine(line)) } : out;
  return pino(
    {
      level: logLevel(env),
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: (object) => censored(object) as Record<string, unknown> },
      mixin: () => {
        const traceId = currentTraceId();
        return traceId ? { ...currentLogContext(), traceId } : { ...currentLogContext() };
      },
      serializers: { err: serializeError, error: serializeError },
    },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

/** The trace the current work belongs to (a sampled span is active); undefined when nothing is traced. */
function currentTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context && context.traceFlags & 1 ? context.traceId : undefined;
}

/** `message`, then the error (if any): the shape of the modules' `log` options. */
export type LogFn = (message: string, err?: unknown) => void;

export function logFn(logger: Logger, level: 'warn' | 'error' = 'error'): LogFn {
  return (message, err) => (err === undefined ? logger[level](message) : logger[level]({ err }, message));
}

const STANDARD = new Set(['level', 'time', 'service', 'msg', 'pid', 'hostname']);

/** A JSON line as `warn: message key=value …` (info lines without the level). */
function textLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const fields = Object.entries(entry)
    .filter(([k]) => !STANDARD.has(k))
    .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('');
  const level = entry.level === 'info' ? '' : `${String(entry.level)}: `;
  return `${level}${String(entry.msg ?? '')}${fields}\n`;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { nodeArgs } from '../../api/node-flags';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/** A real API or worker process (`node --import tsx <file>`), its output kept for when a test fails. */
export interface TestProcess {
  name: string;
  child: ChildProcess;
  /** the last lines it printed */
  output(): string;
  /** everything it printed on stdout and stderr, from the start */
  everything(): string;
  /** resolves when it prints a line matching `pattern`, rejects if it exits first or `timeoutMs` passes */
  printed(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** kill -9: no shutdown hook runs */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs` */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The environment of an API and worker pair on a database and Temporal of
 * their own, the API on `apiPort`: the test's environment plus `extra`.
 */
export function processStackEnv(target: { databaseUrl: string; temporalAddress: string; namespace: string; apiPort: number }, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // The harness's prebuilt bundle is built with tracing off: a traced worker bundles its workflows at start.
  const { LEDGERFLOW_WORKFLOW_BUNDLE, ...inherited } = process.env;
  const traced = Boolean(extra.OTEL_EXPORTER_OTLP_ENDPOINT || extra.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  return {
    ...inherited,
    ...(traced || LEDGERFLOW_WORKFLOW_BUNDLE === undefined ? {} : { LEDGERFLOW_WORKFLOW_BUNDLE }),
    DATABASE_URL: target.databaseUrl,
    TEMPORAL_ADDRESS: target.temporalAddress,
    TEMPORAL_NAMESPACE: target.namespace,
    HOST: '127.0.0.1',
    PORT: String(target.apiPort),
    INGEST_BATCH_WINDOW_MS: '100',
    RATE_LIMIT_PER_ORGANIZATION_PER_SECOND: '0',
    ...extra,
  };
}

export function startProcess(name: string, file: string, env: NodeJS.ProcessEnv): TestProcess {
  const child = spawn(process.execPath, nodeArgs(file), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const all: Buffer[] = [];
  const watchers: { pattern: RegExp; resolve(): void }[] = [];
  let exitedWith: string | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedWith = `code ${code}, signal ${signal}`;
      resolve();
    });
  });
  let partial = '';
  const onData = (chunk: Buffer): void => {
    all.push(chunk);
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > 200) lines.shift();
      for (const w of watchers.filter((x) => x.pattern.test(line))) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const output = (): string => `--- ${name} (last lines) ---\n${lines.slice(-60).join('\n')}`;
  return {
    name,
    child,
    output,
    everything: () => Buffer.concat(all).toString('utf8'),
    printed(pattern, timeoutMs = 60_000) {
      if (lines.some((l) => pattern.test(l))) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms\n${output()}`)), timeoutMs);
        watchers.push({
          pattern,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${exitedWith}) before printing ${pattern}\n${output()}`));
        });
      });
    },
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 15_000) {
      if (!alive()) return;
      const killer = setTimeout(() => alive() && child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(killer);
    },
  };
}

/** The API and the worker as processes with `env`, once both are ready (both stopped if either fails to start). */
export async function startApiAndWorker(env: NodeJS.ProcessEnv): Promise<{ api: TestProcess; worker: TestProcess; stop(): Promise<void> }> {
  const api = startProcess('api', 'api/main.ts', env);
  const worker = startProcess('worker', 'worker/main.ts', env);
  const stop = async (): Promise<void> => {
    await Promise.allSettled([api.stop(), worker.stop()]);
  };
  try {
    await Promise.all([api.printed(/api listening on /), worker.printed(/worker ready on task queue /, 120_000)]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { api, worker, stop };
}

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { cliNotFoundMessage, findOrBuildTemporalCli, TemporalCliNotFound } from './cli';
import { registerSearchAttributes } from './search-attributes';
import { DEFAULT_NAMESPACE } from './names';

export interface TemporalHandle {
  /** host:port of the frontend gRPC service */
  address: string;
  namespace: string;
  /** Temporal Web UI base URL, when there is one */
  uiUrl: string | null;
  /** true when this process started the server (and stop() ends it) */
  started: boolean;
  /** the started CLI server's process id (benchmarks read its CPU time); absent for one found or started otherwise */
  pid?: number;
  stop(): Promise<void>;
}

export interface StartTemporalOptions {
  /** SQLite file for the dev server; omit for an in-memory server (tests). */
  dbFile?: string;
  port?: number;
  uiPort?: number;
  ui?: boolean;
  namespace?: string;
  log?: (line: string) => void;
}

/**
 * Uses TEMPORAL_ADDRESS when set (starting nothing), otherwise starts the
 * Temporal CLI dev server. Either way our search attributes are registered.
 */
export async function ensureTemporal(options: StartTemporalOptions = {}): Promise<TemporalHandle> {
  const namespace = options.namespace ?? process.env.TEMPORAL_NAMESPACE ?? DEFAULT_NAMESPACE;
  const log = options.log ?? (() => undefined);
  const external = process.env.TEMPORAL_ADDRESS;
  if (external) {
    await waitForTemporal(external, namespace, 30_000);
    const connection = await Connection.connect({ address: external });
    try {
      await registerSearchAttributes(connection, namespace);
    } finally {
      await connection.close();
    }
    return { address: external, namespace, uiUrl: process.env.TEMPORAL_UI_URL ?? null, started: false, stop: async () => undefined };
  }
  return startDevServer({ ...options, namespace, log });
}

export async function startDevServer(options: StartTemporalOptions & { namespace: string; log: (line: string) => void }): Promise<TemporalHandle> {
  const port = options.port ?? (await freePort());
  const ui = options.ui ?? true;
  const uiPort = ui ? (options.uiPort ?? (await freePort())) : undefined;
  let cli;
  try {
    cli = await findOrBuildTemporalCli(options.log);
  } catch (err) {
    if (err instanceof TemporalCliNotFound) throw new Error(cliNotFoundMessage(err.message));
    throw err;
  }
  if (!cli) return startWithSdkDownload({ ...options, port, uiPort });

  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', options.namespace, '--log-level', 'warn'];
  if (uiPort) args.push('--ui-port', String(uiPort), '--ui-ip', '127.0.0.1');
  else args.push('--headless');
  if (options.dbFile) {
    fs.mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
    // SQLite's defaults (rollback journal, synchronous=FULL) fsync on every
    // persistence write, which caps the dev server near 50 workflow starts/s on
    // this machine; WAL with synchronous=NORMAL survives a process crash and is
    // about 4× faster (a power loss may drop the last transactions: a dev server).
    args.push('--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');
  }
  const child = spawn(cli.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      output.push(line);
      if (output.length > 50) output.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const address = `127.0.0.1:${port}`;
  try {
    await Promise.race([waitForTemporal(address, options.namespace, 60_000), exitedEarly(child, output)]);
    const connection = await Connection.connect({ address });
    try {
      await registerSearchAttributes(connection, options.namespace);
    } finally {
      await connection.close();
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    address,
    namespace: options.namespace,
    uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : null,
    started: true,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    stop: () => stopChild(child),
  };
}

/** Last resort on machines with internet: the SDK downloads the CLI itself. */
async function startWithSdkDownload(options: StartTemporalOptions & { namespace: string; port: number; uiPort?: number; log: (line: string) => void }): Promise<TemporalHandle> {
  options.log('No Temporal CLI and no Go toolchain found; asking the Temporal SDK to download the CLI…');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  try {
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port: options.port,
        namespace: options.namespace,
        ui: Boolean(options.uiPort),
        uiPort: options.uiPort,
        dbFilename: options.dbFile,
      },
    });
    const address = `127.0.0.1:${options.port}`;
    await registerSearchAttributes(env.connection as unknown as Connection, options.namespace);
    return {
      address,
      namespace: options.namespace,
      uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : null,
      started: true,
      stop: () => env.teardown(),
    };
  } catch (err) {
    throw new Error(cliNotFoundMessage(`the SDK download failed too: ${(err as Error).message}`));
  }
}

export async function waitForTemporal(address: string, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal at ${address} was not ready within ${timeoutMs / 1000}s: ${(lastError as Error)?.message}`);
}

function exitedEarly(child: ChildProcess, output: string[]): Promise<never> {
  return new Promise((_, reject) => {
    child.once('exit', (code, signal) => {
      reject(new Error(`Temporal dev server exited during start (code ${code}, signal ${signal}):\n${output.join('\n')}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

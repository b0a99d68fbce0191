import fs from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../prisma/embedded-postgres';
import { DEFAULT_PG_PORT, PG_DATA_DIR } from './paths';

export interface LocalDatabase {
  url: string;
  /** what `url` points at, for progress output */
  source: 'DATABASE_URL' | 'embedded (started)' | 'embedded (already running)';
  /** stops the embedded PostgreSQL when this process started it; otherwise does nothing */
  stop(): Promise<void>;
}

// Same credentials prisma/embedded-postgres.ts creates the cluster with.
const embeddedUrl = (port: number): string => `postgresql://postgres:ledgerflow@127.0.0.1:${port}/ledgerflow`;

/**
 * DATABASE_URL when set; otherwise the embedded PostgreSQL under
 * .data/postgres, reused when another process (a running `npm start`) already
 * has it up, started otherwise.
 */
export async function openLocalDatabase(log: (line: string) => void): Promise<LocalDatabase> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) return { url: fromEnv, source: 'DATABASE_URL', stop: async () => undefined };

  const runningPort = runningEmbeddedPort(PG_DATA_DIR);
  if (runningPort !== null) return { url: embeddedUrl(runningPort), source: 'embedded (already running)', stop: async () => undefined };

  const port = Number(process.env.LEDGERFLOW_PG_PORT ?? DEFAULT_PG_PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`LEDGERFLOW_PG_PORT must be a port number (got ${process.env.LEDGERFLOW_PG_PORT})`);
  const pg = await startEmbeddedPostgres({
    dataDir: PG_DATA_DIR,
    port,
    log: (line) => {
      if (/FATAL|PANIC/.test(line)) log(line);
    },
  });
  return { url: pg.url, source: 'embedded (started)', stop: () => stopPostgres(pg.stop) };
}

/** The port of a live postmaster for dataDir, from its postmaster.pid (line 1 pid, line 4 port). */
export function runningEmbeddedPort(dataDir: string): number | null {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0);
    return port;
  } catch (err) {
    // EPERM: alive, but owned by the postgres system user.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? port : null;
  }
}

/**
 * embedded-postgres's stop() waits for an 'exit' event that never comes when
 * the server already went down (a terminal's Ctrl-C reaches it directly), so
 * also accept the server removing its postmaster.pid, and give up after 15 s.
 */
async function stopPostgres(stop: () => Promise<void>): Promise<void> {
  const pidFile = path.join(PG_DATA_DIR, 'postmaster.pid');
  let timer: NodeJS.Timeout | undefined;
  const gone = new Promise<void>((resolve) => {
    const deadline = Date.now() + 15_000;
    timer = setInterval(() => {
      if (!fs.existsSync(pidFile) || Date.now() > deadline) resolve();
    }, 100);
  });
  try {
    await Promise.race([stop(), gone]);
  } finally {
    clearInterval(timer);
  }
}

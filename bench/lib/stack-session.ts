import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DATA_DIR, ROOT } from '../../scripts/lib/paths';
import { readStackFile, type StackFile } from '../../scripts/lib/stack-file';
import { waitForQuietMachine } from './quiet-machine';

export interface StackSession {
  stack: StackFile;
  /** true when this benchmark started the stack (and stop() ends it) */
  started: boolean;
  /** where the started stack's output goes (null for a stack someone else runs) */
  logFile: string | null;
  stop(): Promise<void>;
}

const STACK_START_TIMEOUT_MS = 5 * 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The stack `npm start` runs, when .data/stack.json names live processes. */
function runningStackFile(): StackFile | null {
  const stack = readStackFile();
  return stack && alive(stack.pid) && alive(stack.api.pid) && alive(stack.worker.pid) ? stack : null;
}

/**
 * Uses the running stack, or starts one (the same runner as `npm start`,
 * scripts/stack.ts) with its output in a log file so the benchmark's own lines
 * stay readable, and stops it again at the end. Detached, so a Ctrl-C reaches
 * only the benchmark, which cleans up its workflows before stopping the stack.
 * Either way it returns once the machine has settled (bench/lib/quiet-machine.ts),
 * since the ceilings are measured next.
 */
export async function acquireStack(say: (line: string) => void, logName: string): Promise<StackSession> {
  const running = runningStackFile();
  if (running) {
    await waitForQuietMachine(say);
    return { stack: running, started: false, logFile: null, stop: async () => undefined };
  }

  fs.mkdirSync(DATA_DIR, { recursive: true });
  const logFile = path.join(DATA_DIR, `${logName}.log`);
  const log = fs.openSync(logFile, 'w');
  say(`no running stack (.data/stack.json); starting one like \`npm start\` does, output in ${path.relative(ROOT, logFile)}…`);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'stack.ts')], { cwd: ROOT, stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const stack = await waitForStackFile(child, logFile);
    await waitForQuietMachine(say);
    return { stack, started: true, logFile, stop: () => stopStack(child, exited) };
  } catch (err) {
    await stopStack(child, exited);
    throw err;
  }
}

async function waitForStackFile(child: ChildProcess, logFile: string): Promise<StackFile> {
  const deadline = Date.now() + STACK_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      throw new Error(`the stack exited during start (code ${child.exitCode}, signal ${child.signalCode}):\n${tail}`);
    }
    const stack = readStackFile();
    if (stack && stack.pid === child.pid) return stack;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the stack was not ready within ${STACK_START_TIMEOUT_MS / 60_000} min; see ${logFile}`);
}

/** SIGINT, as Ctrl-C would: the runner stops the API, worker, Temporal and PostgreSQL in order. */
async function stopStack(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  child.kill('SIGINT');
  await exited;
  clearTimeout(killer);
}

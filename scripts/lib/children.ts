import { spawn, type ChildProcess } from 'node:child_process';
import { nodeArgs } from '../../api/node-flags';
import readline from 'node:readline';
import { ROOT } from './paths';

export interface ManagedChild {
  name: string;
  process: ChildProcess;
  /** resolves with the exit code (or signal) once the child is gone */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** resolves when the child prints a line matching pattern (on stdout or stderr) */
  printed(pattern: RegExp): Promise<void>;
  /** SIGTERM, then SIGKILL after graceMs */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs `node --import tsx <file>` with its output prefixed by `[name] `.
 * The child gets its own process group so a terminal's Ctrl-C reaches only
 * the stack runner, which then stops the children in order (API first, so
 * nothing new is accepted while the worker drains).
 */
export function spawnTsChild(name: string, file: string, env: NodeJS.ProcessEnv): ManagedChild {
  const child = spawn(process.execPath, nodeArgs(file), {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const watchers: { pattern: RegExp; resolve(): void }[] = [];
  const onLine = (line: string): void => {
    for (const w of watchers.filter((w) => w.pattern.test(line))) {
      watchers.splice(watchers.indexOf(w), 1);
      w.resolve();
    }
  };
  prefixLines(child.stdout, name, process.stdout, onLine);
  prefixLines(child.stderr, name, process.stderr, onLine);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      process.stderr.write(`[${name}] could not start: ${err.message}\n`);
      resolve({ code: null, signal: null });
    });
  });
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    name,
    process: child,
    exited,
    printed: (pattern) => new Promise<void>((resolve) => watchers.push({ pattern, resolve })),
    async stop(graceMs = 15_000) {
      if (!alive()) return;
      const killer = setTimeout(() => {
        if (alive()) child.kill('SIGKILL');
      }, graceMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(killer);
    },
  };
}

function prefixLines(stream: NodeJS.ReadableStream | null, name: string, out: NodeJS.WritableStream, onLine: (line: string) => void): void {
  if (!stream) return;
  readline.createInterface({ input: stream }).on('line', (line) => {
    out.write(`[${name}] ${line}\n`);
    onLine(line);
  });
}

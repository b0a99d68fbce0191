import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat and /proc/stat times (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime of the process itself */
  own: number;
  /** cutime + cstime: children it has reaped (PostgreSQL backends that exited, for instance) */
  reaped: number;
}

function readStat(pid: number): ProcStat | null {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields after its last ')' are fixed.
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(fields[1]), own: Number(fields[11]) + Number(fields[12]), reaped: Number(fields[13]) + Number(fields[14]) };
  } catch {
    return null;
  }
}

function allProcesses(): ProcStat[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((s): s is ProcStat => s !== null);
}

/**
 * CPU seconds a process and all its descendants have used so far: every
 * live process's own time plus what each has reaped from children that
 * exited. Differences of two readings give the CPU a piece of work cost,
 * whatever the process tree did in between (PostgreSQL forks a backend per
 * connection).
 */
export function treeCpuSeconds(rootPid: number): number | null {
  const all = allProcesses();
  const children = new Map<number, ProcStat[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const root = all.find((p) => p.pid === rootPid);
  if (!root) return null;
  let ticks = 0;
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.pop()!;
    ticks += p.own + p.reaped;
    queue.push(...(children.get(p.pid) ?? []));
  }
  return ticks / CLOCK_TICKS;
}

/** The whole machine's CPU ticks so far (/proc/stat): busy and in all; differences give how busy it was between two readings. */
export function machineCpu(): { busy: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** The first process whose command line matches (for servers the stack file does not name). */
export function findProcess(matches: (argv: string[]) => boolean): number | null {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv.length > 0 && matches(argv)) return Number(name);
    } catch {
      // gone already
    }
  }
  return null;
}

/** CPU seconds per named process tree, read together. */
export type CpuReading = Record<string, number | null>;

export function readCpu(pids: Record<string, number | null>): CpuReading {
  const reading: CpuReading = {};
  for (const [name, pid] of Object.entries(pids)) reading[name] = pid === null ? null : treeCpuSeconds(pid);
  // This benchmark's own process, for comparison: it shares the two cores.
  const self = process.cpuUsage();
  reading.client = (self.user + self.system) / 1e6;
  return reading;
}

/** CPU per unit of work between two readings, in milliseconds, by process (null when unreadable). */
export function cpuPerUnitMs(before: CpuReading, after: CpuReading, units: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const name of Object.keys(after)) {
    const a = after[name];
    const b = before[name];
    out[name] = a === null || a === undefined || b === null || b === undefined ? null : ((a - b) * 1000) / units;
  }
  return out;
}

import fs from 'node:fs';

/** Current resident set size (VmRSS) of a Linux process, in MiB; null when it cannot be read. */
export function rssMiB(pid: number): number | null {
  try {
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Samples a process's VmRSS on an interval and keeps the highest value: the
 * peak during a measurement, which VmHWM (peak since the process started)
 * cannot give for a long-running process that did other work before.
 */
export function sampleRss(pid: number, everyMs = 250): { current(): number | null; peak(): number | null; stop(): void } {
  let last: number | null = rssMiB(pid);
  let peak = last;
  const timer = setInterval(() => {
    last = rssMiB(pid);
    if (last !== null && (peak === null || last > peak)) peak = last;
  }, everyMs);
  timer.unref();
  return { current: () => last, peak: () => peak, stop: () => clearInterval(timer) };
}

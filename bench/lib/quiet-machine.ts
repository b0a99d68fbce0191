import { machineCpu } from './proc-cpu';

export interface QuietOptions {
  /** the machine counts as quiet below this share of all its CPU busy over one window (default 0.25) */
  busyBelow?: number;
  /** windows in a row that must be quiet (default 3) */
  windows?: number;
  windowMs?: number;
  /** give up waiting after this long and go on, saying so (default 90 s) */
  maxWaitMs?: number;
}

/**
 * Waits until the machine's CPU is mostly idle, so a ceiling measured next is
 * not measured against a stack still starting: a worker bundling its workflows,
 * schedules catching up, autovacuum after the last run. Measured ceilings
 * moved 3× between runs without it (3,068 to 9,657 commits/s), which made
 * every ratio to them meaningless. Returns the share busy in the last window.
 */
export async function waitForQuietMachine(say: (line: string) => void, options: QuietOptions = {}): Promise<number> {
  const busyBelow = options.busyBelow ?? 0.25;
  const windows = options.windows ?? 3;
  const windowMs = options.windowMs ?? 1_000;
  const maxWaitMs = options.maxWaitMs ?? 90_000;
  const started = Date.now();
  let quiet = 0;
  let busy = 1;
  let told = false;
  while (quiet < windows) {
    const before = machineCpu();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const after = machineCpu();
    busy = (after.busy - before.busy) / Math.max(1, after.total - before.total);
    quiet = busy < busyBelow ? quiet + 1 : 0;
    const waited = Date.now() - started;
    if (quiet < windows && waited >= maxWaitMs) {
      say(`the machine is still ${pct(busy)} busy after ${Math.round(waited / 1000)} s; measuring anyway (expect noisy ratios)`);
      return busy;
    }
    if (!told && quiet === 0 && waited >= 5_000) {
      say(`waiting for the machine to settle before measuring (${pct(busy)} of its CPU busy; quiet is below ${pct(busyBelow)})…`);
      told = true;
    }
  }
  say(`machine quiet after ${((Date.now() - started) / 1000).toFixed(0)} s (${pct(busy)} of its CPU busy over the last ${windowMs / 1000} s)`);
  return busy;
}

const pct = (share: number): string => `${Math.round(share * 100)} %`;

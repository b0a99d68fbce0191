/**
 * Lets at most `limit` calls of `run` work at once in this process; the rest
 * wait their turn, first come first served. A call that fails gives its turn
 * on as one that succeeds does; a call whose `signal` aborts while it waits
 * (the activity was cancelled, or its worker is shutting down), or had
 * aborted before, leaves with the signal's reason and never runs.
 *
 * For activities that many workflows may start at the same moment and that
 * each hold several database connections for a while (the margin watch after
 * the worker was down: one per organization): waiting here costs nothing,
 * while waiting for the pool ends in Prisma's P2028 after `maxWait`, and in a
 * retry of the whole activity.
 */
export function concurrencyGate(limit: number): <T>(work: () => Promise<T>, signal?: AbortSignal) => Promise<T> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`a concurrency gate needs a limit of at least 1 (got ${limit})`);
  let working = 0;
  const waiting: (() => void)[] = [];
  const turn = (signal?: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const go = (): void => {
        signal?.removeEventListener('abort', leave);
        resolve();
      };
      const leave = (): void => {
        const place = waiting.indexOf(go);
        if (place >= 0) waiting.splice(place, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', leave, { once: true });
      waiting.push(go);
    });
  return async (work, signal) => {
    signal?.throwIfAborted();
    if (working < limit) working += 1;
    // A turn handed over by a call that ended: `working` stays as it is.
    else await turn(signal);
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else working -= 1;
    }
  };
}

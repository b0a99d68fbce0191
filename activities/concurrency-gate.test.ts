import { concurrencyGate } from './concurrency-gate';

/** A piece of work that ends when told to, recording when it started. */
function controllable(log: string[], name: string) {
  let end!: (fail: boolean) => void;
  const work = () => {
    log.push(`start ${name}`);
    return new Promise<string>((resolve, reject) => {
      end = (fail) => (fail ? reject(new Error(`${name} failed`)) : resolve(name));
    });
  };
  return { work, end: (fail = false) => end(fail) };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('at most `limit` run at once; the others start in arrival order as turns free up, a failed one freeing its turn too', async () => {
  const gate = concurrencyGate(2);
  const log: string[] = [];
  const jobs = ['a', 'b', 'c', 'd', 'e'].map((name) => controllable(log, name));
  const results = jobs.map((j) => gate(j.work).catch((err: Error) => err.message));
  await settle();
  expect(log).toEqual(['start a', 'start b']);

  jobs[1]!.end(true); // b fails: c gets its turn
  await settle();
  expect(log).toEqual(['start a', 'start b', 'start c']);

  jobs[0]!.end(); // a ends: d
  await settle();
  expect(log).toEqual(['start a', 'start b', 'start c', 'start d']);

  jobs[2]!.end();
  jobs[3]!.end();
  await settle();
  expect(log.at(-1)).toBe('start e');
  jobs[4]!.end();
  expect(await Promise.all(results)).toEqual(['a', 'b failed', 'c', 'd', 'e']);

  // All turns are free again: two start at once.
  const more = ['f', 'g', 'h'].map((name) => controllable(log, name));
  const later = more.map((j) => gate(j.work));
  await settle();
  expect(log.slice(-2)).toEqual(['start f', 'start g']);
  more[0]!.end();
  more[1]!.end();
  await settle();
  expect(log.at(-1)).toBe('start h');
  more[2]!.end();
  expect(await Promise.all(later)).toEqual(['f', 'g', 'h']);
});

test('a limit below 1 is refused', () => {
  expect(() => concurrencyGate(0)).toThrow(/at least 1/);
});

test('a call whose signal aborts while it waits leaves the queue without running; the next in line gets the turn', async () => {
  const gate = concurrencyGate(1);
  const log: string[] = [];
  const [a, b, c] = ['a', 'b', 'c'].map((name) => controllable(log, name));
  const cancel = new AbortController();
  const first = gate(a!.work);
  const second = gate(b!.work, cancel.signal).catch((err: unknown) => `b: ${String(err)}`);
  const third = gate(c!.work);
  await settle();
  cancel.abort('cancelled');
  expect(await second).toBe('b: cancelled');
  a!.end();
  await settle();
  expect(log).toEqual(['start a', 'start c']);
  c!.end();
  expect([await first, await third]).toEqual(['a', 'c']);

  // Already aborted: refused at once, nothing held.
  expect(await gate(b!.work, AbortSignal.abort('gone')).catch((err: unknown) => String(err))).toBe('gone');
  expect(await gate(async () => 'free')).toBe('free');
});

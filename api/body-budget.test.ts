import { BodyBudget, bodyWeight, ClientGone } from './body-budget';
import { ApiError } from './errors';

const MiB = 1024 * 1024;
const tick = () => new Promise((r) => setImmediate(r));

describe('BodyBudget', () => {
  it('lets bodies in while they fit, and holds the next one until room is given back', async () => {
    const budget = new BodyBudget({ capacityBytes: 10 * MiB, maxWaitMs: 5_000 });
    const first = await budget.acquire(6 * MiB);
    const second = await budget.acquire(4 * MiB);
    expect(budget.inUseBytes).toBe(10 * MiB);

    let thirdIn = false;
    const third = budget.acquire(1 * MiB).then((release) => {
      thirdIn = true;
      return release;
    });
    await tick();
    expect(thirdIn).toBe(false);
    expect(budget.waiting).toBe(1);

    first();
    first(); // a second release of the same body gives nothing back twice
    (await third)();
    expect(thirdIn).toBe(true);
    second();
    expect(budget.inUseBytes).toBe(0);
  });

  it('serves waiting bulk bodies in arrival order: a smaller one does not pass a larger one waiting ahead of it', async () => {
    const budget = new BodyBudget({ capacityBytes: 10 * MiB, maxWaitMs: 5_000 });
    const held = await budget.acquire(8 * MiB);
    const order: string[] = [];
    const large = budget.acquire(9 * MiB).then((release) => (order.push('large'), release));
    const smaller = budget.acquire(1 * MiB).then((release) => (order.push('smaller'), release));
    await tick();
    expect(order).toEqual([]); // 1 MiB would fit next to the 8, but the 9 MiB body came first
    held();
    (await large)();
    (await smaller)();
    expect(order).toEqual(['large', 'smaller']);
  });

  it('gives small bodies (one event) a lane of their own: they go in while bulk bodies fill the budget and wait', async () => {
    const budget = new BodyBudget({ capacityBytes: 10 * MiB, maxWaitMs: 5_000 });
    const held = await budget.acquire(10 * MiB);
    let bulkIn = false;
    const bulk = budget.acquire(5 * MiB).then((release) => ((bulkIn = true), release));
    const oneEvent = await budget.acquire(300); // at once, though the budget's bulk room is spent and a bulk body waits
    expect(bulkIn).toBe(false);
    expect(budget.inUseBytes).toBe(10 * MiB + 300);
    oneEvent();
    held();
    (await bulk)();
    expect(bulkIn).toBe(true);
    expect(budget.inUseBytes).toBe(0);
  });

  it('takes a body larger than the whole budget when nothing else is in process', async () => {
    const budget = new BodyBudget({ capacityBytes: 1 * MiB, maxWaitMs: 5_000 });
    const huge = await budget.acquire(10 * MiB);
    expect(budget.inUseBytes).toBe(1 * MiB);
    huge();
    expect(budget.inUseBytes).toBe(0);
  });

  it('answers 503 SERVER_BUSY with Retry-After to a body that waited too long, and lets the ones behind it in', async () => {
    jest.useFakeTimers();
    try {
      const budget = new BodyBudget({ capacityBytes: 10 * MiB, maxWaitMs: 2_000 });
      const held = await budget.acquire(9 * MiB);
      const refused = budget.acquire(5 * MiB).catch((err: unknown) => err);
      jest.advanceTimersByTime(1_000);
      const fitsAfter = budget.acquire(1 * MiB); // arrives while the 5 MiB body waits: queued behind it
      jest.advanceTimersByTime(1_000);
      const err = (await refused) as ApiError;
      expect(err).toBeInstanceOf(ApiError);
      expect(err.status).toBe(503);
      expect(err.code).toBe('SERVER_BUSY');
      expect(err.headers).toEqual({ 'Retry-After': '2' });
      expect(err.details).toEqual({ in_process_bytes: 9 * MiB, limit_bytes: 10 * MiB, retry_after: 2 });
      expect(err.message).toBe('The API is working on 9MB of request bodies (room for 10MB); this request waited 2000 ms for room. Retry after 2 s');
      // The one behind it fits next to the 9 MiB held, so it goes in as soon as the one ahead gave up.
      (await fitsAfter)();
      expect(budget.waiting).toBe(0);
      held();
      expect(budget.inUseBytes).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('drops a waiting request whose client went away, and lets the ones behind it in', async () => {
    const budget = new BodyBudget({ capacityBytes: 10 * MiB, maxWaitMs: 5_000 });
    const held = await budget.acquire(8 * MiB);
    const gone = new AbortController();
    const abandoned = budget.acquire(9 * MiB, gone.signal).catch((err: unknown) => err);
    let nextIn = false;
    const next = budget.acquire(2 * MiB).then((release) => ((nextIn = true), release));
    await tick();
    expect([budget.waiting, nextIn]).toEqual([2, false]);
    gone.abort();
    expect(await abandoned).toBeInstanceOf(ClientGone);
    (await next)();
    expect(nextIn).toBe(true);
    held();
    expect([budget.inUseBytes, budget.waiting]).toEqual([0, 0]);
    // A client already gone never takes room.
    await expect(budget.acquire(1, gone.signal)).rejects.toBeInstanceOf(ClientGone);
    expect(budget.inUseBytes).toBe(0);
  });
});

describe('bodyWeight', () => {
  const limit = 10 * MiB;
  it('is the Content-Length of a plain body', () => {
    expect(bodyWeight({ 'content-length': '2048' }, limit)).toBe(2048);
    expect(bodyWeight({ 'content-length': String(limit) }, limit)).toBe(limit);
  });
  it('is the whole body limit when the size once read is unknown: chunked, or compressed', () => {
    expect(bodyWeight({ 'transfer-encoding': 'chunked' }, limit)).toBe(limit);
    expect(bodyWeight({ 'content-length': '100', 'content-encoding': 'gzip' }, limit)).toBe(limit);
  });
  it('is nothing for a request without a body, or one over the limit (answered 413 unread)', () => {
    expect(bodyWeight({}, limit)).toBe(0);
    expect(bodyWeight({ 'content-length': '0' }, limit)).toBe(0);
    expect(bodyWeight({ 'content-length': String(limit + 1) }, limit)).toBe(0);
  });
});

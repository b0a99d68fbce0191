import bytes from 'bytes';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { ApiError } from './errors';

export interface BodyBudgetOptions {
  /** request-body bytes the API works on at once (read, parsed, validated, being stored) */
  capacityBytes: number;
  /** how long a request may wait for room before it is answered 503 */
  maxWaitMs: number;
}

/** A request whose body is in process holds its weight of the budget; `release` gives it back (once). */
export type Release = () => void;

/** A body of at most this share of the budget (40 KiB of 10 MiB) is small: a few events. */
const SMALL_SHARE = 256;
/** Small bodies have this share of the budget to themselves (1.25 MiB of 10 MiB: thousands of one-event requests). */
const SMALL_LANE_SHARE = 8;
/** Once let in, a body must arrive within this time; a client that stalls longer is cut off and its room given back. */
export const BODY_READ_DEADLINE_MS = 30_000;

/** Thrown to a waiting request whose client went away: nobody is left to answer. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection while its request waited for room');
    this.name = 'ClientGone';
  }
}

interface Waiter {
  weight: number;
  grant: () => void;
  giveUp: (err: Error) => void;
}

/** One lane of the budget: bodies in process and, when they are spent, a queue in arrival order. */
class Lane {
  used = 0;
  readonly queue: Waiter[] = [];

  constructor(readonly capacity: number) {}

  fits(weight: number): boolean {
    return this.used === 0 || this.used + weight <= this.capacity;
  }

  take(weight: number): Release {
    this.used += weight;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= weight;
      this.grantWaiting();
    };
  }

  grantWaiting(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0]!.weight)) this.queue.shift()!.grant();
  }

  remove(waiter: Waiter): void {
    const at = this.queue.indexOf(waiter);
    if (at < 0) return;
    this.queue.splice(at, 1);
    // Those behind it may fit now.
    if (at === 0) this.grantWaiting();
  }
}

/**
 * Bounds the request bodies the API holds in memory at once, so its heap has
 * a ceiling no traffic can push it past: a parsed body takes up to ~9 times
 * its size on the heap, and a few dozen concurrent 10 MB bodies would
 * otherwise take gigabytes (or, under the heap limit the API runs with, end
 * the process). Each request takes its body's size from the budget before the
 * body is read and gives it back when it has been answered or its client went
 * away. Small bodies (a few events) have a lane of their own, so one-event
 * traffic never waits behind bulk uploads; in each lane requests wait in
 * arrival order, and one that waits longer than `maxWaitMs` gets 503
 * SERVER_BUSY with Retry-After, its body never read. A body larger than its
 * whole lane is taken when nothing else is in that lane.
 */
export class BodyBudget {
  private readonly bulk: Lane;
  private readonly small: Lane;
  private readonly smallBody: number;

  constructor(private readonly options: BodyBudgetOptions) {
    this.bulk = new Lane(options.capacityBytes);
    this.small = new Lane(Math.floor(options.capacityBytes / SMALL_LANE_SHARE));
    this.smallBody = Math.floor(options.capacityBytes / SMALL_SHARE);
  }

  /** Bytes held by requests in process. */
  get inUseBytes(): number {
    return this.bulk.used + this.small.used;
  }

  /** Requests waiting for room. */
  get waiting(): number {
    return this.bulk.queue.length + this.small.queue.length;
  }

  /**
   * Takes `bytes` of the budget, waiting for room in arrival order; rejects with the 503 after `maxWaitMs`, or with
   * ClientGone when `gone` fires first (the waiter leaves the queue either way).
   */
  acquire(bytes: number, gone?: AbortSignal): Promise<Release> {
    const small = bytes <= this.smallBody;
    const lane = small ? this.small : this.bulk;
    const weight = Math.min(Math.max(0, bytes), lane.capacity);
    if (gone?.aborted) return Promise.reject(new ClientGone());
    if (lane.queue.length === 0 && lane.fits(weight)) return Promise.resolve(lane.take(weight));
    return new Promise<Release>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        gone?.removeEventListener('abort', onGone);
      };
      const waiter: Waiter = {
        weight,
        grant: () => {
          done();
          resolve(lane.take(weight));
        },
        giveUp: (err) => {
          done();
          lane.remove(waiter);
          reject(err);
        },
      };
      const timer = setTimeout(() => waiter.giveUp(this.busy(lane)), this.options.maxWaitMs);
      const onGone = (): void => waiter.giveUp(new ClientGone());
      gone?.addEventListener('abort', onGone, { once: true });
      lane.queue.push(waiter);
    });
  }

  private busy(lane: Lane): ApiError {
    const retryAfter = Math.max(1, Math.ceil(this.options.maxWaitMs / 1000));
    const which = lane === this.small ? 'small request bodies' : 'request bodies';
    return new ApiError(
      503,
      'SERVER_BUSY',
      `The API is working on ${bytes.format(lane.used)} of ${which} (room for ${bytes.format(lane.capacity)}); this request waited ${this.options.maxWaitMs} ms for room. Retry after ${retryAfter} s`,
      { in_process_bytes: lane.used, limit_bytes: lane.capacity, retry_after: retryAfter },
      { 'Retry-After': String(retryAfter) },
    );
  }
}

/**
 * What a request's body may take once read: its Content-Length, or the body
 * limit when the length is unknown (chunked) or the body is compressed (it
 * may inflate up to the limit). Nothing for a body over the limit: it is
 * refused (413) without being read.
 */
export function bodyWeight(headers: { 'content-length'?: string; 'content-encoding'?: string; 'transfer-encoding'?: string }, limitBytes: number): number {
  const encoded = (headers['content-encoding'] ?? 'identity').trim().toLowerCase() !== 'identity';
  const length = Number(headers['content-length']);
  if (headers['content-length'] !== undefined && Number.isSafeInteger(length) && length > limitBytes) return 0;
  if (!encoded && headers['content-length'] !== undefined && Number.isSafeInteger(length) && length >= 0) return length;
  return headers['transfer-encoding'] !== undefined || encoded ? limitBytes : 0;
}

/** Cuts off a request whose body has not arrived within BODY_READ_DEADLINE_MS of being let in. */
export function readDeadline(req: IncomingMessage): void {
  const timer = setTimeout(() => {
    if (!req.complete) req.destroy();
  }, BODY_READ_DEADLINE_MS);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
}

/**
 * Express middleware: a request with a body takes its weight from the budget before any parser reads it, and gives
 * it back when the response is done or the client went away (waiting or not).
 */
export function budgetedBodies(budget: BodyBudget, limitBytes: number): RequestHandler {
  return (req, res, next) => {
    const weight = bodyWeight(req.headers, limitBytes);
    if (weight === 0) return next();
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    res.once('close', onClose);
    budget.acquire(weight, gone.signal).then(
      (release) => {
        res.off('close', onClose);
        if (res.closed || req.destroyed) {
          release();
          return;
        }
        res.once('close', release);
        readDeadline(req);
        next();
      },
      (err: unknown) => {
        res.off('close', onClose);
        if (!(err instanceof ClientGone)) next(err);
      },
    );
  };
}

import type { RequestHandler } from 'express';
import { ApiError } from './errors';

export interface BodyBudgetOptions {
  /** request-body bytes the API works on at once (read, parsed, validated, being stored) */
  capacityBytes: number;
  /** how long a request may wait for room before it is answered 503 */
  maxWaitMs: number;
}

interface Waiter {
  weight: number;
  grant: () => void;
  timer: NodeJS.Timeout;
}

/** A body of at most this share of the budget (40 KiB of 10 MiB) is small: it does not queue behind bulk bodies. */
const SMALL_SHARE = 256;

/** A request whose body is already in process holds this much of the budget; its `release` gives it back (once). */
export type Release = () => void;

/**
 * Bounds the request bodies the API holds in memory at once, so its heap has
 * a ceiling no traffic can push it past: a parsed and validated body takes
 * several times its size on the heap, and a few dozen concurrent 10 MB
 * bodies would otherwise take gigabytes (or, under the heap limit the API
 * runs with, end the process). Each request takes its body's size from the
 * budget before the body is read and gives it back when it has been answered;
 * when the budget is spent, requests wait in arrival order, and one that
 * waits longer than `maxWaitMs` gets 503 SERVER_BUSY with Retry-After, its
 * body never read. A body larger than the whole budget is taken when nothing
 * else is in process. Small bodies (one-event requests: a few hundred bytes)
 * go past waiting bulk ones whenever they fit.
 */
export class BodyBudget {
  private used = 0;
  private readonly queue: Waiter[] = [];

  constructor(private readonly options: BodyBudgetOptions) {}

  /** Bytes held by requests in process. */
  get inUseBytes(): number {
    return this.used;
  }

  /** Requests waiting for room. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Takes `bytes` of the budget, waiting for room in arrival order; rejects with the 503 after `maxWaitMs`. */
  acquire(bytes: number): Promise<Release> {
    const weight = Math.min(Math.max(0, bytes), this.options.capacityBytes);
    // Bulk bodies queue in arrival order; a small one (a few events) goes past them when it fits, so one-event
    // traffic never waits behind a large upload: it takes too little to keep the room they wait for from freeing.
    const small = weight <= this.options.capacityBytes / SMALL_SHARE;
    if ((this.queue.length === 0 || small) && this.fits(weight)) return Promise.resolve(this.take(weight));
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        weight,
        grant: () => resolve(this.take(weight)),
        timer: setTimeout(() => {
          this.queue.splice(this.queue.indexOf(waiter), 1);
          reject(this.busy());
          // The one at the head may have been waiting behind this one.
          this.grantWaiting();
        }, this.options.maxWaitMs),
      };
      this.queue.push(waiter);
    });
  }

  private fits(weight: number): boolean {
    return this.used === 0 || this.used + weight <= this.options.capacityBytes;
  }

  private take(weight: number): Release {
    this.used += weight;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= weight;
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0]!.weight)) {
      const next = this.queue.shift()!;
      clearTimeout(next.timer);
      next.grant();
    }
  }

  private busy(): ApiError {
    const retryAfter = Math.max(1, Math.ceil(this.options.maxWaitMs / 1000));
    return new ApiError(
      503,
      'SERVER_BUSY',
      `The API is working on ${Math.round(this.used / 1024 / 1024)} MiB of request bodies, its limit; this request waited ${this.options.maxWaitMs} ms for room. Retry after ${retryAfter} s`,
      { in_process_bytes: this.used, limit_bytes: this.options.capacityBytes, retry_after: retryAfter },
      { 'Retry-After': String(retryAfter) },
    );
  }
}

/**
 * What a request's body may take once read: its Content-Length, or the body
 * limit when the length is unknown (chunked) or the body is compressed (it
 * may inflate up to the limit).
 */
export function bodyWeight(headers: { 'content-length'?: string; 'content-encoding'?: string; 'transfer-encoding'?: string }, limitBytes: number): number {
  const encoded = (headers['content-encoding'] ?? 'identity').trim().toLowerCase() !== 'identity';
  const length = Number(headers['content-length']);
  if (!encoded && headers['content-length'] !== undefined && Number.isSafeInteger(length) && length >= 0) return Math.min(length, limitBytes);
  return headers['transfer-encoding'] !== undefined || encoded ? limitBytes : 0;
}

/** Express middleware: a request with a body takes its weight from the budget before any parser reads it, and gives it back when the response is done. */
export function budgetedBodies(budget: BodyBudget, limitBytes: number): RequestHandler {
  return (req, res, next) => {
    const weight = bodyWeight(req.headers, limitBytes);
    if (weight === 0) return next();
    budget.acquire(weight).then(
      (release) => {
        res.once('close', release);
        next();
      },
      next,
    );
  };
}

import { call, LedgerflowError, type HttpOptions, type RequestBody, type ResponseBody } from './http';

/** One event as POST /api/v1/events takes it. */
export type IngestEvent = Extract<RequestBody<'/api/v1/events', 'post'>, { idempotency_key: string }>;
export type IngestResponse = ResponseBody<'/api/v1/events', 'post', 202>;
export type RejectedEvent = IngestResponse['rejected'][number];

export interface TrackerOptions {
  /** events per post, and the buffered count that starts a post at once (1 to 1,000; default 100) */
  flushAt: number;
  /** the longest an event waits in the buffer before a post (default 1,000 ms) */
  flushIntervalMs: number;
  /** events held while the API cannot take them, posts under way included (default 10,000) */
  maxBufferedEvents: number;
  /** what track() does with an event when the buffer is full: drop it (default), or drop the oldest held one */
  overflow: 'drop_newest' | 'drop_oldest';
  /** first wait before a retry, doubled each time up to maxRetryDelayMs, with jitter; a Retry-After the API sends is waited at least */
  initialRetryDelayMs: number;
  maxRetryDelayMs: number;
  /** events the API refused for good, each with its reason (a 202's rejected entries, or a 4xx for the whole post) */
  onRejected: (rejected: { event: IngestEvent; code: string; field: string | null; message: string }[]) => void;
  /** events track() dropped because the buffer was full */
  onDropped: (events: IngestEvent[]) => void;
  /** a post failed and will be retried (for logs and metrics) */
  onRetry: (error: LedgerflowError, attempt: number, delayMs: number) => void;
}

export interface TrackerStats {
  tracked: number;
  /** stored by the API, first time */
  accepted: number;
  /** the API had them already (a retry of a post whose answer was lost, or a key sent twice) */
  duplicates: number;
  rejected: number;
  dropped: number;
  retries: number;
  /** held now, posts under way included */
  buffered: number;
}

class Closed extends Error {}

/** A caller's callback that throws must not stop the sender: the error is logged. */
function callSafely(callback: () => void): void {
  try {
    callback();
  } catch (err) {
    console.error('[ledgerflow] a callback threw:', err);
  }
}

/**
 * The buffer behind track(): events wait in memory and go out in posts of up to flushAt events, when that many
 * are held or flushIntervalMs has passed, one post at a time and in order. A post that fails for a reason worth
 * retrying (no answer, 429, 5xx) is sent again unchanged, its events keeping their idempotency keys, so a post that
 * was stored but whose answer was lost is counted once. Retries go on until close(); the buffer is bounded and its
 * overflow policy says which event goes when it is full.
 */
export class Tracker {
  private readonly queue: IngestEvent[] = [];
  private inFlight = 0;
  private draining: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  /** close() was called (no more track()); */
  private closed = false;
  /** …and gave up: retry waits end at once and no new post starts. Made here, so a wait that began earlier sees it. */
  private readonly giveUp = new AbortController();
  private readonly counts = { tracked: 0, accepted: 0, duplicates: 0, rejected: 0, dropped: 0, retries: 0 };

  constructor(
    private readonly http: HttpOptions,
    private readonly options: TrackerOptions,
  ) {
    if (!Number.isInteger(options.flushAt) || options.flushAt < 1 || options.flushAt > 1000) throw new RangeError('flushAt must be an integer from 1 to 1,000');
    if (!(options.maxBufferedEvents >= options.flushAt)) throw new RangeError('maxBufferedEvents must be at least flushAt');
    if (!(options.flushIntervalMs >= 10)) throw new RangeError('flushIntervalMs must be at least 10 ms');
    this.timer = setInterval(() => this.kick(), options.flushIntervalMs);
    // A process that has nothing else to do may exit; close() is what delivers the rest.
    this.timer.unref();
  }

  add(event: IngestEvent): boolean {
    if (this.closed) throw new Error('the Ledgerflow client is closed');
    this.counts.tracked++;
    if (this.queue.length + this.inFlight >= this.options.maxBufferedEvents) {
      this.counts.dropped++;
      if (this.options.overflow === 'drop_newest' || this.queue.length === 0) {
        this.options.onDropped([event]);
        return false;
      }
      this.options.onDropped([this.queue.shift()!]);
    }
    this.queue.push(event);
    if (this.queue.length >= this.options.flushAt) this.kick();
    return true;
  }

  stats(): TrackerStats {
    return { ...this.counts, buffered: this.queue.length + this.inFlight };
  }

  /** Posts what is held now and waits until the buffer is empty (retrying as long as it takes). */
  async flush(): Promise<void> {
    // Until close() gives up: then what is left stays in the queue, for close() to hand back.
    while ((this.queue.length > 0 || this.draining) && !this.giveUp.signal.aborted) {
      this.kick();
      await this.draining;
    }
  }

  /**
   * Stops the timer and delivers what is held, retrying for at most timeoutMs; answers the events that could not
   * be delivered in that time (empty when all were), for the caller to keep: the buffer is gone after this.
   */
  async close(timeoutMs: number): Promise<IngestEvent[]> {
    clearInterval(this.timer);
    this.closed = true;
    const giveUp = setTimeout(() => this.giveUp.abort(), timeoutMs);
    try {
      await this.flush();
    } finally {
      clearTimeout(giveUp);
    }
    return this.queue.splice(0);
  }

  private kick(): void {
    if (this.draining || this.queue.length === 0) return;
    this.draining = this.drain()
      .catch((err: unknown) => {
        // Not expected (deliver() reports every failure); never an unhandled rejection from a timer's post.
        console.error('[ledgerflow] the event sender failed:', err);
      })
      .finally(() => {
        this.draining = undefined;
      });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.flushAt);
      this.inFlight = batch.length;
      try {
        await this.deliver(batch);
      } catch (err) {
        // close() gave up (or something unexpected failed): the batch goes back, to be handed to the caller by close()
        // or sent again by the next post; its keys make a second send safe.
        this.queue.unshift(...batch);
        if (err instanceof Closed) return;
        throw err;
      } finally {
        this.inFlight = 0;
      }
    }
  }

  private async deliver(batch: IngestEvent[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.giveUp.signal.aborted) throw new Closed();
      try {
        const { body } = await call<IngestResponse>(this.http, 'POST', '/api/v1/events', { events: batch });
        this.counts.accepted += body.accepted;
        this.counts.duplicates += body.duplicates;
        this.reject(batch, body.rejected);
        return;
      } catch (err) {
        if (!(err instanceof LedgerflowError)) throw err;
        if (err.status === 413 && batch.length > 1) {
          // Too large as one post (big properties): each half goes on its own, so no event is refused for its neighbours.
          const half = Math.ceil(batch.length / 2);
          await this.deliver(batch.slice(0, half));
          await this.deliver(batch.slice(half));
          return;
        }
        if (!err.retryable) {
          const details = err.details as { rejected?: RejectedEvent[] } | undefined;
          // Every event was refused (each with its reason), or the post itself was (a revoked key, say): either way for good.
          this.reject(batch, details?.rejected ?? batch.map((_, index) => ({ index, code: err.code, field: null, message: err.message })));
          return;
        }
        const backoff = Math.min(this.options.maxRetryDelayMs, this.options.initialRetryDelayMs * 2 ** (attempt - 1));
        const delayMs = Math.max(backoff / 2 + Math.random() * (backoff / 2), (err.retryAfterSeconds ?? 0) * 1000);
        this.counts.retries++;
        callSafely(() => this.options.onRetry(err, attempt, delayMs));
        await this.sleep(delayMs);
      }
    }
  }

  private reject(batch: IngestEvent[], rejected: RejectedEvent[]): void {
    if (rejected.length === 0) return;
    this.counts.rejected += rejected.length;
    callSafely(() => this.options.onRejected(rejected.map((r) => ({ event: batch[r.index]!, code: r.code, field: r.field, message: r.message }))));
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.giveUp.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}

import type { Pool } from 'pg';
import { storeGroup, type StoreBatchInput, type StoredBatch } from './insert-events';

export interface GroupCommitOptions {
  /** transactions in flight at once; while they run, new requests queue up and go together in the next one */
  writers: number;
  /** a group takes queued requests until it holds this many events (a single larger request still goes alone) */
  maxEventsPerGroup: number;
  log: (message: string, err?: unknown) => void;
}

interface Waiting {
  request: StoreBatchInput;
  resolve: (stored: StoredBatch) => void;
  reject: (err: unknown) => void;
}

const RETRYABLE_PG_CODES = new Set(['40P01', '40001']);
/** A quota limit removed (services/quota-limits.ts) after the group read the limits, before it counted against it: read them again. */
const REMOVED_LIMIT = 'quota_counters_quota_limit_id_fkey';
const isRetryable = (err: unknown): boolean => {
  const { code, constraint } = err as { code?: string; constraint?: string };
  return RETRYABLE_PG_CODES.has(code ?? '') || (code === '23503' && constraint === REMOVED_LIMIT);
};

/**
 * Group commit for the ingest path. Requests that arrive while a transaction
 * is in flight wait in a queue and are then written together: one
 * transaction, one multi-row insert, one WAL flush, for all of them. Nothing
 * waits on a timer — under light load a request goes alone at once, under
 * heavy load groups grow by themselves — so the extra latency is at most one
 * transaction. Each request still gets exactly its own result.
 *
 * If a group fails for a reason other than a deadlock, a serialization
 * failure or a quota limit removed under it (retried once as a whole), its requests are retried one by one, so
 * one request PostgreSQL refuses never takes the others of its group down.
 */
export class GroupCommitter {
  private readonly queue: Waiting[] = [];
  private running = 0;
  /** transactions committed and the requests they carried, since start */
  readonly stats = { transactions: 0, requests: 0 };

  constructor(
    private readonly pool: Pool,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Stores the request with whichever others are waiting; resolves once they are committed. */
  store(request: StoreBatchInput): Promise<StoredBatch> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.drain();
    });
  }

  /** Requests waiting for a transaction right now (for tests and metrics). */
  get waiting(): number {
    return this.queue.length;
  }

  private drain(): void {
    while (this.running < this.options.writers && this.queue.length > 0) {
      const group = this.takeGroup();
      this.running += 1;
      void this.write(group).finally(() => {
        this.running -= 1;
        this.drain();
      });
    }
  }

  private takeGroup(): Waiting[] {
    let count = 0;
    let events = 0;
    for (const next of this.queue) {
      if (count > 0 && events + next.request.events.length > this.options.maxEventsPerGroup) break;
      count += 1;
      events += next.request.events.length;
    }
    return this.queue.splice(0, count);
  }

  private async write(group: Waiting[]): Promise<void> {
    const requests = group.map((w) => w.request);
    try {
      const results = await this.storeRetrying(requests);
      this.counted(group.length);
      group.forEach((w, i) => w.resolve(results[i]!));
    } catch (err) {
      if (group.length === 1) {
        group[0]!.reject(err);
        return;
      }
      this.options.log(`a group of ${group.length} ingest requests failed; storing them one by one`, err);
      await Promise.all(
        group.map(async (w) => {
          try {
            const [result] = await this.storeRetrying([w.request]);
            this.counted(1);
            w.resolve(result!);
          } catch (alone) {
            w.reject(alone);
          }
        }),
      );
    }
  }

  private counted(requests: number): void {
    this.stats.transactions += 1;
    this.stats.requests += requests;
  }

  /** A deadlock, a serialization failure or a quota limit removed meanwhile rolls the whole group back, so running it again is safe. */
  private async storeRetrying(requests: StoreBatchInput[]): Promise<StoredBatch[]> {
    try {
      return await storeGroup(this.pool, requests);
    } catch (err) {
      if (isRetryable(err)) return storeGroup(this.pool, requests);
      throw err;
    }
  }
}

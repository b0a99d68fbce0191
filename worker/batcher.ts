import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { claimBatch, MAX_BATCH_EVENTS, openBatchCount, startBatch, unstartedBatches, waitingOrganizations, type ClaimedBatch } from '../activities/batch-formation';
import { INGEST_CHANNEL } from '../prisma/ingest-channel';
import { PgListener } from './pg-listener';

export interface BatcherOptions {
  pool: Pool;
  temporal: Client;
  taskQueue: string;
  /** where to LISTEN (a connection of its own, outside any pool) */
  databaseUrl: string;
  /** a batch forms this long after the first of its events arrived, unless it fills up first (default 250 ms) */
  windowMs?: number;
  /** events per batch (default 1,000) */
  maxEvents?: number;
  /** how often waiting requests and unstarted batches are looked for without a notification (default 1 s) */
  pollMs?: number;
  /** an organization's batches claimed but not processed (by any batcher) before claiming more of its events waits (default 4) */
  maxOpenBatches?: number;
  /** a claimed batch whose workflow start is not recorded after this long is started again (default 5 s) */
  restartAfterMs?: number;
  /** only these organizations (tests share one database); default all */
  organizationIds?: readonly string[];
  log?: (message: string, err?: unknown) => void;
}

interface Organization {
  timer?: NodeJS.Timeout;
  /** events notified since the last claim */
  arrived: number;
  claiming: boolean;
  /** a flush was asked for while claiming: claim again when done */
  again: boolean;
}

/**
 * Forms processing batches out of the requests the API committed and starts
 * one `ingest:<batchId>` workflow per batch.
 *
 * Why LISTEN/NOTIFY (and not a signal-with-start from the API): the request
 * path then makes no Temporal call at all, the wake-up is transactional (the
 * API's NOTIFY is delivered only if its events committed), and coalescing is
 * free — one timer per organization, however many notifications. Nothing
 * depends on a notification arriving: a poll every second finds waiting
 * requests and claimed batches whose start was never recorded, and the
 * sweeper schedule (workflows/sweep-orphan-batches.ts) does the same when no
 * batcher runs at all. Claims use SKIP LOCKED, so any number of batchers
 * (one per worker process) can run side by side.
 */
export class Batcher {
  private readonly options: Required<Omit<BatcherOptions, 'organizationIds'>> & { organizationIds: ReadonlySet<string> | null };
  private readonly organizations = new Map<string, Organization>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private listener: PgListener | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /**
   * Organizations that found their open-batch limit reached; retried when a
   * batch finishes. While they wait their events gather in the database, so
   * the next batches are full ones (fewer, cheaper workflows) — and one
   * organization's stuck batches hold back only its own ingest.
   */
  private readonly held = new Set<string>();

  constructor(options: BatcherOptions) {
    this.options = {
      windowMs: 250,
      maxEvents: MAX_BATCH_EVENTS,
      pollMs: 1_000,
      maxOpenBatches: 4,
      restartAfterMs: 5_000,
      log: (message, err) => console.error(`[batcher] ${message}`, err ?? ''),
      ...options,
      organizationIds: options.organizationIds ? new Set(options.organizationIds) : null,
    };
  }

  async start(): Promise<void> {
    this.listener = new PgListener({ databaseUrl: this.options.databaseUrl, channel: INGEST_CHANNEL, onNotification: (payload) => this.onNotification(payload), log: this.options.log });
    await this.listener.start();
    this.schedulePoll(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    for (const org of this.organizations.values()) clearTimeout(org.timer);
    await this.listener?.stop();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track<T>(work: Promise<T>): void {
    const tracked = work.catch((err: unknown) => this.options.log('batch formation failed; the next poll tries again', err));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private wanted(organizationId: string): boolean {
    return this.options.organizationIds === null || this.options.organizationIds.has(organizationId);
  }

  /** `<organizationId>:<events>`; 0 events means one of its batches finished. */
  private onNotification(payload: string): void {
    const [organizationId, count] = payload.split(':');
    if (!organizationId || !this.wanted(organizationId)) return;
    const events = Number(count);
    if (events === 0) {
      // One of its batches finished: room for another.
      if (this.held.delete(organizationId)) this.flush(organizationId);
      return;
    }
    this.arrived(organizationId, events);
  }

  private state(organizationId: string): Organization {
    let org = this.organizations.get(organizationId);
    if (!org) {
      org = { arrived: 0, claiming: false, again: false };
      this.organizations.set(organizationId, org);
    }
    return org;
  }

  /** Events arrived: claim once the window has passed, or at once if a full batch is waiting. */
  private arrived(organizationId: string, events: number): void {
    const org = this.state(organizationId);
    org.arrived += events;
    if (org.arrived >= this.options.maxEvents) this.flush(organizationId);
    else if (!org.timer) this.due(organizationId, this.options.windowMs);
  }

  private due(organizationId: string, inMs: number): void {
    const org = this.state(organizationId);
    if (org.timer || this.stopped) return;
    org.timer = setTimeout(() => this.flush(organizationId), Math.max(0, inMs));
  }

  private flush(organizationId: string): void {
    if (this.stopped) return;
    const org = this.state(organizationId);
    clearTimeout(org.timer);
    org.timer = undefined;
    if (org.claiming) {
      org.again = true;
      return;
    }
    org.claiming = true;
    org.arrived = 0;
    this.track(
      this.claimAll(organizationId).finally(() => {
        org.claiming = false;
        if (org.again) {
          org.again = false;
          this.flush(organizationId);
        }
      }),
    );
  }

  /** Claims batches until the organization has nothing waiting, a batch comes back short, or the open-batch limit is reached. */
  private async claimAll(organizationId: string): Promise<void> {
    for (;;) {
      if ((await openBatchCount(this.options.pool, organizationId)) >= this.options.maxOpenBatches) {
        this.held.add(organizationId);
        return;
      }
      const batch = await claimBatch(this.options.pool, organizationId, this.options.maxEvents);
      if (!batch) return;
      this.track(this.startWorkflow(batch));
      if (batch.events < this.options.maxEvents) return;
    }
  }

  private releaseHeld(): void {
    const held = [...this.held];
    this.held.clear();
    for (const organizationId of held) this.flush(organizationId);
  }

  private async startWorkflow(batch: Pick<ClaimedBatch, 'batchId' | 'organizationId'>): Promise<void> {
    await startBatch(this.options.pool, this.options.temporal, batch, this.options.taskQueue);
  }

  private schedulePoll(inMs: number): void {
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => {
      this.poll()
        .catch((err: unknown) => this.options.log('poll failed; trying again', err))
        .finally(() => this.schedulePoll(this.options.pollMs));
    }, inMs);
  }

  /** What a lost notification or a crashed batcher left behind. */
  private async poll(): Promise<void> {
    const now = Date.now();
    for (const waiting of await waitingOrganizations(this.options.pool)) {
      if (!this.wanted(waiting.organizationId)) continue;
      this.due(waiting.organizationId, waiting.oldestAt.getTime() + this.options.windowMs - now);
    }
    if (this.held.size > 0) this.releaseHeld();
    for (const batch of await unstartedBatches(this.options.pool, this.options.restartAfterMs)) {
      if (this.wanted(batch.organizationId)) await this.startWorkflow(batch);
    }
  }
}

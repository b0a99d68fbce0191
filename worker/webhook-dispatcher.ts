import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { DISPATCH_PAGE, settleAbandonedDeliveries, startPendingDeliveries } from '../activities/webhooks/dispatch';
import { WEBHOOK_CHANNEL } from '../prisma/webhook-events';
import { PgListener } from './pg-listener';

export interface WebhookDispatcherOptions {
  pool: Pool;
  temporal: Client;
  taskQueue: string;
  databaseUrl: string;
  /** how often pending deliveries are looked for without a notification (default 5 s) */
  pollMs?: number;
  /** only these organizations (tests share one database); default all */
  organizationIds?: readonly string[];
  log?: (message: string, err?: unknown) => void;
}

/**
 * Starts a delivery workflow for each outbound webhook delivery as soon as
 * the transaction that created it commits: the emitter NOTIFYs
 * (prisma/webhook-events.ts), this LISTENs, as the batcher does for ingest.
 * A poll finds what a lost notification (or a dispatcher that was down)
 * left, and settles deliveries whose workflow ended without finishing them.
 * Runs in every worker process; claims skip each other's rows and starts
 * are idempotent by workflow id.
 */
export class WebhookDispatcher {
  private readonly listener: PgListener;
  private pollTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** a notification arrived while dispatching: go again when done */
  private again = false;
  private stopped = false;
  private readonly log: (message: string, err?: unknown) => void;

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.log = options.log ?? ((message, err) => console.error(`[webhooks] ${message}`, err ?? ''));
    this.listener = new PgListener({
      databaseUrl: options.databaseUrl,
      channel: WEBHOOK_CHANNEL,
      onNotification: (organizationId) => {
        if (!options.organizationIds || options.organizationIds.includes(organizationId)) this.dispatch();
      },
      log: this.log,
    });
  }

  async start(): Promise<void> {
    await this.listener.start();
    this.poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await this.listener.stop();
    await this.running;
  }

  /** set by the poll: the next pass also settles abandoned deliveries (not on every notification) */
  private polled = false;

  private poll(): void {
    if (this.stopped) return;
    this.polled = true;
    this.dispatch();
    this.pollTimer = setTimeout(() => this.poll(), this.options.pollMs ?? 5_000);
  }

  /** One dispatch at a time; requests meanwhile fold into one more pass. */
  private dispatch(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          const { pool, temporal, taskQueue, organizationIds } = this.options;
          // A full page means more are waiting.
          while ((await startPendingDeliveries(pool, temporal, taskQueue, organizationIds ?? null)) === DISPATCH_PAGE && !this.stopped);
          if (this.polled) await settleAbandonedDeliveries(pool, temporal, organizationIds ?? null);
        } catch (err) {
          this.log('starting webhook deliveries failed; the next poll tries again', err);
        }
        this.polled = false;
      } while (this.again && !this.stopped);
      this.running = null;
    })();
  }
}

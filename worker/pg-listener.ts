import { Client as PgClient, type Notification } from 'pg';
import { connectionFields } from '../prisma/connection';

export interface PgListenerOptions {
  /** where to LISTEN (a connection of its own, outside any pool) */
  databaseUrl: string;
  channel: string;
  onNotification: (payload: string) => void;
  /** which component listens, for the log lines */
  log: (message: string, err?: unknown) => void;
}

/**
 * A LISTEN connection that comes back: when it is lost (or cannot be made)
 * it is logged and made again a second later. Nothing may depend on a
 * notification arriving: its users poll as well, so a gap costs latency,
 * not work.
 */
export class PgListener {
  private client: PgClient | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: PgListenerOptions) {}

  async start(): Promise<void> {
    await this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new PgClient(connectionFields(this.options.databaseUrl));
    let failed = false;
    // One way out per connection, whichever comes first: its error event or a failed connect/LISTEN.
    const fail = (what: string, err: unknown): void => {
      if (failed) return;
      failed = true;
      this.options.log(`${what}; reconnecting in 1 s (the poll covers the gap)`, err);
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('notification', (message: Notification) => this.options.onNotification(message.payload ?? ''));
    client.on('error', (err) => fail('LISTEN connection lost', err));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.options.channel}`);
      if (this.stopped || failed) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
    } catch (err) {
      fail('could not LISTEN', err);
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.listen();
    }, 1_000);
  }
}

import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';

const HEARTBEAT_MS = 5_000;
const LIVE_WITHIN_MS = 15_000;

/**
 * How many API processes are live, from a heartbeat row each keeps fresh in
 * `api_instances`. Rate limits are enforced in memory by every process for
 * its share of the limit (limit ÷ live processes), so they hold across
 * replicas behind a balancer without a database round trip per request.
 * Until the first heartbeat answers, or if it fails, a process counts itself
 * alone (the limit is then at most N times too generous). A process killed
 * without its stop still counts for up to 15 s, during which the others keep
 * the smaller share. The shares assume the balancer spreads requests: a
 * client holding one keep-alive connection to one process gets that share.
 */
export class InstanceCount {
  readonly id: string;
  private live = 1;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  /** `group`: processes that share limits (one deployment's API); each test app is a group of its own. */
  constructor(
    private readonly pool: Pool,
    private readonly log: (message: string, err?: unknown) => void,
    private readonly group = 'api',
  ) {
    this.id = `${group}:${process.pid}-${randomUUID().slice(0, 8)}`;
  }

  /** Live API processes of the group, this one included (at least 1). */
  current(): number {
    if (!this.timer && !this.stopped) this.start();
    return this.live;
  }

  stop(): void {
    this.stopped = true;
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.pool.query('DELETE FROM api_instances WHERE id = $1', [this.id]).catch(() => undefined);
  }

  private start(): void {
    const beat = (): void => {
      this.pool
        .query<{ live: number }>(
          `WITH me AS (
             INSERT INTO api_instances (id, seen_at) VALUES ($1, now())
             ON CONFLICT (id) DO UPDATE SET seen_at = now()
           )
           SELECT 1 + count(*)::int AS live FROM api_instances
            WHERE id <> $1 AND starts_with(id, $3) AND seen_at > now() - $2 * interval '1 millisecond'`,
          [this.id, LIVE_WITHIN_MS, `${this.group}:`],
        )
        .then(({ rows }) => {
          this.live = Math.max(1, rows[0]?.live ?? 1);
        })
        .catch((err: unknown) => this.log('API heartbeat failed; enforcing rate limits as if alone', err));
    };
    this.timer = setInterval(beat, HEARTBEAT_MS);
    this.timer.unref();
    beat();
  }
}

import type { Queryable } from '../../prisma/pg';
import { readIngestBacklog, type IngestBacklog, type IngestBacklogReading } from '../../services/ingest-backlog';
import { ApiError } from '../errors';

export interface BacklogLimits {
  /** an organization's pending events (waiting plus in batches not processed) past which its ingest answers 503; 0 disables */
  maxEvents: number;
  /** age of an organization's oldest pending event past which its ingest answers 503; 0 disables */
  maxAgeSeconds: number;
  /** how often the figures are read (one query; shared by every request in between) */
  refreshMs: number;
}

export interface BacklogReading extends IngestBacklogReading {
  readAt: Date;
  oldestPendingAgeSeconds: number;
}

const ageSeconds = (backlog: IngestBacklog, at: Date): number =>
  backlog.oldestPendingAt ? Math.max(0, (at.getTime() - backlog.oldestPendingAt.getTime()) / 1000) : 0;

/**
 * Backpressure for POST /api/v1/events. The backlog is read in the
 * background every `refreshMs`, never on the request path. The limits apply
 * per organization: a tenant whose events pile up (a flood, or a worker that
 * cannot keep up) gets 503 INGEST_BACKLOG_FULL with Retry-After instead of
 * adding work that would not be rated in time, while the others keep
 * posting; a worker that is down makes every organization's oldest event age
 * past the bound, so then everyone is told. Until the first reading (or
 * while reading fails) ingest stays open: refusing work because a statistic
 * is missing would turn a monitoring fault into lost events.
 */
export class BacklogGate {
  private reading: BacklogReading | null = null;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<BacklogReading> | null = null;

  constructor(
    private readonly db: Queryable,
    private readonly limits: BacklogLimits,
    private readonly log: (message: string, err?: unknown) => void,
  ) {}

  private get enabled(): boolean {
    return this.limits.maxEvents > 0 || this.limits.maxAgeSeconds > 0;
  }

  /**
   * Reads the backlog now, or gives a reading at most `maxAgeMs` old: /ready
   * and /metrics answer without a key, so they share readings rather than
   * each causing queries. A failed read forgets the last one, so an
   * organization paused by it is not kept paused by stale figures.
   */
  refresh(maxAgeMs = 0): Promise<BacklogReading> {
    if (this.reading && Date.now() - this.reading.readAt.getTime() < maxAgeMs) return Promise.resolve(this.reading);
    this.refreshing ??= readIngestBacklog(this.db)
      .then(
        (backlog) => {
          const readAt = new Date();
          this.reading = { ...backlog, readAt, oldestPendingAgeSeconds: ageSeconds(backlog, readAt) };
          return this.reading;
        },
        (err: unknown) => {
          this.reading = null;
          throw err;
        },
      )
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** Whether the organization may post events now, by the latest reading. */
  accepting(organizationId: string): boolean {
    return this.refusal(organizationId) === null;
  }

  /** Throws the 503 when the organization's backlog is past a limit. */
  admit(organizationId: string): void {
    const refusal = this.refusal(organizationId);
    if (refusal) throw refusal;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private refusal(organizationId: string): ApiError | null {
    if (!this.enabled) return null;
    this.ensureRunning();
    const reading = this.reading;
    const backlog = reading?.byOrganization.get(organizationId);
    if (!reading || !backlog) return null;
    const { maxEvents, maxAgeSeconds } = this.limits;
    const age = ageSeconds(backlog, reading.readAt);
    const tooMany = maxEvents > 0 && backlog.pendingEvents >= maxEvents;
    const tooOld = maxAgeSeconds > 0 && age >= maxAgeSeconds;
    if (!tooMany && !tooOld) return null;
    const retryAfter = Math.max(1, Math.ceil((this.limits.refreshMs * 5) / 1000));
    return new ApiError(
      503,
      'INGEST_BACKLOG_FULL',
      tooMany
        ? `Ingest is paused for this organization: ${backlog.pendingEvents} of its events wait to be rated (limit ${maxEvents}); retry after ${retryAfter} s`
        : `Ingest is paused for this organization: its oldest unrated event is ${Math.round(age)} s old (limit ${maxAgeSeconds} s); retry after ${retryAfter} s`,
      {
        pending_events: backlog.pendingEvents,
        oldest_pending_age_seconds: Math.round(age),
        max_pending_events: maxEvents,
        max_pending_age_seconds: maxAgeSeconds,
        retry_after: retryAfter,
      },
      { 'Retry-After': String(retryAfter) },
    );
  }

  private ensureRunning(): void {
    if (this.timer) return;
    const tick = (): void => {
      this.refresh().catch((err: unknown) => this.log('could not read the ingest backlog; ingest stays open', err));
    };
    this.timer = setInterval(tick, this.limits.refreshMs);
    this.timer.unref();
    tick();
  }
}

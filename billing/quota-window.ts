/** Quota reset windows, in UTC. `never` is one window from the epoch on. */
export const QUOTA_WINDOWS = ['hour', 'day', 'month', 'never'] as const;
export type QuotaWindowKind = (typeof QUOTA_WINDOWS)[number];

export interface QuotaWindow {
  start: Date;
  /** exclusive; null for `never` */
  end: Date | null;
}

export function quotaWindow(kind: QuotaWindowKind, at: Date): QuotaWindow {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth();
  const d = at.getUTCDate();
  switch (kind) {
    case 'hour': {
      const start = new Date(Date.UTC(y, m, d, at.getUTCHours()));
      return { start, end: new Date(start.getTime() + 3_600_000) };
    }
    case 'day':
      return { start: new Date(Date.UTC(y, m, d)), end: new Date(Date.UTC(y, m, d + 1)) };
    case 'month':
      return { start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + 1, 1)) };
    case 'never':
      return { start: new Date(0), end: null };
  }
}

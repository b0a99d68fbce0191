/** Billing intervals and anchor-day arithmetic, all in UTC. */
export type BillingInterval = 'month' | 'quarter' | 'year';

export interface BillingPeriod {
  start: Date;
  /** exclusive */
  end: Date;
}

const MONTHS: Record<BillingInterval, number> = { month: 1, quarter: 3, year: 12 };

/**
 * The date of `anchorDay` in a month; a month without that day uses its last
 * day (anchor 31 → Feb 28/29, Apr 30). Months count from year 0 (y*12+m).
 */
export function anchorDate(monthIndex: number, anchorDay: number): Date {
  const year = Math.floor(monthIndex / 12);
  const month = monthIndex - year * 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(Date.UTC(year, month, Math.min(anchorDay, lastDay)));
}

function assertAnchor(anchorDay: number): void {
  if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > 31) throw new RangeError('billing anchor day must be a whole number from 1 to 31');
}

/**
 * The billing period containing `at`, for periods whose boundaries fall on
 * the anchor day every `interval`, aligned so that one boundary is the
 * anchor date in `alignMonth` (a month index, y*12+m, usually the start month).
 */
export function periodContaining(at: Date, anchorDay: number, interval: BillingInterval, alignMonth: number): BillingPeriod {
  assertAnchor(anchorDay);
  const step = MONTHS[interval];
  const atMonth = at.getUTCFullYear() * 12 + at.getUTCMonth();
  // The boundary month at or before `at`'s month on the interval grid.
  let k = Math.floor((atMonth - alignMonth) / step);
  let start = anchorDate(alignMonth + k * step, anchorDay);
  if (start.getTime() > at.getTime()) {
    k -= 1;
    start = anchorDate(alignMonth + k * step, anchorDay);
  }
  const end = anchorDate(alignMonth + (k + 1) * step, anchorDay);
  return { start, end };
}

/** The period after `period` on the same grid. */
export function nextPeriod(period: BillingPeriod, anchorDay: number, interval: BillingInterval): BillingPeriod {
  const endMonth = period.end.getUTCFullYear() * 12 + period.end.getUTCMonth();
  return { start: period.end, end: anchorDate(endMonth + MONTHS[interval], anchorDay) };
}

export function monthIndex(date: Date): number {
  return date.getUTCFullYear() * 12 + date.getUTCMonth();
}

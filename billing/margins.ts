import { startOfUtcDay } from './calendar';
import { formatMoney, isKnownCurrency } from './currency';
import { Dec, dec, toPlainString } from './decimal';

/**
 * Unit economics per customer or feature: pure rules, no I/O.
 *
 * revenue = event revenue + Ledgerflow invoice revenue + Stripe invoice revenue,
 * each invoice prorated by the UTC days its period shares with the window;
 * cost = vendor cost of rated events; margin = revenue − cost;
 * margin_bps = margin × 10,000 ÷ revenue (5,000 = 50 %).
 */

const DAY_MS = 86_400_000;

export type MarginWindowKind = 'current_period' | 'trailing_30d';

/** Whole UTC days, [start, end). */
export interface DayWindow {
  start: Date;
  end: Date;
}

/**
 * The window a report covers as of `asOf`, always through the end of
 * `asOf`'s UTC day (so costs so far are set against revenue so far):
 * - current_period: from the first of `asOf`'s UTC calendar month; customers'
 *   own billing periods differ by anchor day, so the organization's period is
 *   the calendar month and each invoice counts by its overlap with it;
 * - trailing_30d: the 30 UTC days ending with `asOf`'s day.
 */
export function marginWindow(kind: MarginWindowKind, asOf: Date): DayWindow {
  const end = new Date(startOfUtcDay(asOf).getTime() + DAY_MS);
  if (kind === 'trailing_30d') return { start: new Date(end.getTime() - 30 * DAY_MS), end };
  return { start: new Date(Date.UTC(asOf.getUTCFullYear(), asOf.getUTCMonth(), 1)), end };
}

/** UTC days [first, last) an interval touches; an empty interval (a one-off invoice) is its own day. */
function dayRange(start: Date, end: Date): { first: number; last: number } {
  const first = Math.floor(start.getTime() / DAY_MS);
  const last = Math.max(Math.ceil(end.getTime() / DAY_MS), first + 1);
  return { first, last };
}

/** How many UTC days the period touches (at least 1). */
export function periodDays(period: DayWindow): number {
  const { first, last } = dayRange(period.start, period.end);
  return last - first;
}

/**
 * How many of the period's UTC days lie in the window. Only a period is
 * widened to a day when empty (a one-off invoice); an empty window holds no
 * day, so splitting a window anywhere splits the prorated amount exactly.
 */
export function overlapDays(period: DayWindow, window: DayWindow): number {
  const p = dayRange(period.start, period.end);
  const w = { first: Math.floor(window.start.getTime() / DAY_MS), last: Math.ceil(window.end.getTime() / DAY_MS) };
  return Math.max(0, Math.min(p.last, w.last) - Math.max(p.first, w.first));
}

/**
 * The part of an invoice's amount that belongs to the window: amount ×
 * overlapping days ÷ the period's days, unrounded (rounding happens once,
 * on the reported figure). Nov 1–Dec 1 in a window Nov 21–Dec 21 is 10/30.
 */
export function proratedAmount(amount: Dec, period: DayWindow, window: DayWindow): Dec {
  const overlap = overlapDays(period, window);
  if (overlap === 0) return dec(0);
  return amount.times(overlap).div(periodDays(period));
}

export interface Margin {
  revenue: Dec;
  cost: Dec;
  margin: Dec;
  /**
   * margin × 10,000 ÷ revenue as an integer, rounded half away from zero.
   * null when revenue is zero or negative (credits exceed charges): a ratio
   * to nothing, or to a negative base, means nothing. Such a margin still
   * alerts as `negative` when it is below zero (cost without revenue).
   */
  marginBps: number | null;
}

export function computeMargin(revenue: Dec, cost: Dec): Margin {
  const margin = revenue.minus(cost);
  return { revenue, cost, margin, marginBps: marginBps(margin, revenue) };
}

export function marginBps(margin: Dec, revenue: Dec): number | null {
  if (revenue.lte(0)) return null;
  return margin.times(10_000).div(revenue).toDecimalPlaces(0, Dec.ROUND_HALF_UP).toNumber();
}

export type AlertLevel = 'below_threshold' | 'negative';
export type MarginLevel = 'none' | AlertLevel;

/** Most severe first. */
const SEVERITY: readonly AlertLevel[] = ['negative', 'below_threshold'];

/**
 * Whether the margin is in a level's condition. Levels nest: a negative
 * margin is also below any threshold. Each level has its own line:
 * below_threshold under the organization's threshold (bps), negative under 0.
 */
export function inLevel(level: AlertLevel, m: Margin, thresholdBps: number): boolean {
  if (m.margin.lt(0)) return true;
  if (level === 'negative') return false;
  return m.marginBps !== null && m.marginBps < thresholdBps;
}

/** The most severe level the margin is in, or none. */
export function marginLevel(m: Margin, thresholdBps: number): MarginLevel {
  return SEVERITY.find((level) => inLevel(level, m, thresholdBps)) ?? 'none';
}

/** One alert row's state for a scope key and period (at most one row per level). */
export interface AlertState {
  level: AlertLevel;
  status: 'open' | 'resolved';
  /** margin_bps of the last notification about this alert */
  lastNotifiedBps: number | null;
}

export type MarginNotificationKind = 'margin.below_threshold' | 'margin.negative' | 'margin.worsened' | 'margin.resolved';

export interface AlertChange {
  level: AlertLevel;
  /** open also reopens a resolved row of the same level (the row is unique per period and level) */
  action: 'open' | 'worsen' | 'resolve';
  /** null: recorded (and audited) without a message, because a more severe alert speaks for it */
  notify: MarginNotificationKind | null;
  /** the alert's lastNotifiedBps after the change */
  lastNotifiedBps: number | null;
}

export interface AlertSettings {
  thresholdBps: number;
  /** a new notification when margin_bps fell at least this much since the last one */
  stepBps: number;
}

/**
 * What to do with one scope key's alerts for one period, given its margin now.
 *
 * - A level whose condition holds and has no open alert opens one. Only the
 *   most severe level notifies (margin.negative or margin.below_threshold);
 *   a less severe one opens silently, so a margin that goes straight to
 *   negative sends one message, and when it recovers to merely low, the
 *   below-threshold alert is already open and says nothing new.
 * - The most severe open alert whose condition still holds notifies
 *   margin.worsened when margin_bps is at least `stepBps` below its last
 *   notified value (not when margin_bps is null: there is no ratio to compare).
 * - An open alert whose condition no longer holds resolves, with margin.resolved.
 */
export function planAlertChanges(existing: readonly AlertState[], m: Margin, settings: AlertSettings): AlertChange[] {
  const changes: AlertChange[] = [];
  const open = (level: AlertLevel) => existing.some((a) => a.level === level && a.status === 'open');
  const mostSevere = SEVERITY.find((level) => inLevel(level, m, settings.thresholdBps));
  for (const level of SEVERITY) {
    const holds = inLevel(level, m, settings.thresholdBps);
    if (!holds) {
      if (open(level)) changes.push({ level, action: 'resolve', notify: 'margin.resolved', lastNotifiedBps: m.marginBps });
      continue;
    }
    const speaks = level === mostSevere;
    if (!open(level)) {
      changes.push({ level, action: 'open', notify: speaks ? `margin.${level}` : null, lastNotifiedBps: m.marginBps });
      continue;
    }
    const last = existing.find((a) => a.level === level && a.status === 'open')?.lastNotifiedBps ?? null;
    if (speaks && last !== null && m.marginBps !== null && last - m.marginBps >= settings.stepBps) {
      changes.push({ level, action: 'worsen', notify: 'margin.worsened', lastNotifiedBps: m.marginBps });
    }
  }
  return changes;
}

/** margin_bps as a percentage with two decimals (1234 → 12.34 %), exact: bps are integers. */
export function bpsPercent(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return undefined;
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')} %`;
}

/** An amount as reported: rounded half away from zero to the currency's minor unit (6 places for a currency we do not know). */
export function formatMarginAmount(amount: Dec, currency: string): string {
  return isKnownCurrency(currency) ? formatMoney(amount, currency) : toPlainString(amount.toDecimalPlaces(6));
}

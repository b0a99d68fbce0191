import fc from 'fast-check';
import { dec } from './decimal';
import {
  computeMargin,
  marginBps,
  marginLevel,
  marginWindow,
  overlapDays,
  periodDays,
  planAlertChanges,
  proratedAmount,
  type AlertState,
  type DayWindow,
} from './margins';

const d = (iso: string) => new Date(`${iso}T00:00:00.000Z`);
const span = (start: string, end: string): DayWindow => ({ start: d(start), end: d(end) });
const settings = { thresholdBps: 2000, stepBps: 500 };
/** A margin with revenue 100 and the given bps (cost = 100 − bps/100). */
const at = (bps: number) => computeMargin(dec(100), dec(100).minus(dec(bps).div(100)));

describe('marginWindow', () => {
  test('current_period runs from the first of the UTC month through the end of today', () => {
    expect(marginWindow('current_period', new Date('2026-11-22T08:30:00Z'))).toEqual(span('2026-11-01', '2026-11-23'));
  });
  test('trailing_30d is the 30 UTC days ending with today', () => {
    expect(marginWindow('trailing_30d', new Date('2026-11-22T23:59:59Z'))).toEqual(span('2026-10-24', '2026-11-23'));
  });
});

describe('proration by overlapping UTC days', () => {
  test('an invoice for Nov 1–Dec 1 in a window Nov 21–Dec 21 counts 10/30', () => {
    const invoice = span('2026-11-01', '2026-12-01');
    const window = span('2026-11-21', '2026-12-21');
    expect(overlapDays(invoice, window)).toBe(10);
    expect(proratedAmount(dec('300'), invoice, window).toFixed()).toBe('100');
    expect(proratedAmount(dec('100'), invoice, window).toFixed(6)).toBe('33.333333');
  });
  test('exact at the edges: a period ending where the window starts counts nothing, one starting where it ends too', () => {
    const window = span('2026-11-21', '2026-12-21');
    expect(proratedAmount(dec('90'), span('2026-10-21', '2026-11-21'), window).toFixed()).toBe('0');
    expect(proratedAmount(dec('90'), span('2026-12-21', '2027-01-21'), window).toFixed()).toBe('0');
    expect(proratedAmount(dec('90'), span('2026-11-20', '2026-11-22'), window).toFixed()).toBe('45');
  });
  test('a one-off invoice (empty period) counts fully on its day', () => {
    const oneOff = { start: new Date('2026-11-21T15:00:00Z'), end: new Date('2026-11-21T15:00:00Z') };
    expect(periodDays(oneOff)).toBe(1);
    expect(proratedAmount(dec('12.34'), oneOff, span('2026-11-21', '2026-11-22')).toFixed()).toBe('12.34');
    expect(proratedAmount(dec('12.34'), oneOff, span('2026-11-22', '2026-11-23')).toFixed()).toBe('0');
  });
  test('a period inside the window counts fully; overlap never exceeds the period', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 0, max: 400 }), fc.integer({ min: 1, max: 60 }), (ps, plen, ws, wlen) => {
        const base = d('2026-01-01').getTime();
        const day = 86_400_000;
        const period = { start: new Date(base + ps * day), end: new Date(base + (ps + plen) * day) };
        const window = { start: new Date(base + ws * day), end: new Date(base + (ws + wlen) * day) };
        const overlap = overlapDays(period, window);
        expect(overlap).toBeGreaterThanOrEqual(0);
        expect(overlap).toBeLessThanOrEqual(Math.min(periodDays(period), wlen));
        if (plen > 0 && ps >= ws && ps + plen <= ws + wlen) expect(proratedAmount(dec(77), period, window).toFixed()).toBe('77');
      }),
    );
  });
  test('an empty window holds none of a period, even one starting that instant', () => {
    const period = { start: d('2026-01-01'), end: d('2026-01-02') };
    expect(overlapDays(period, { start: d('2026-01-01'), end: d('2026-01-01') })).toBe(0);
    expect(proratedAmount(dec('10'), period, { start: d('2026-01-01'), end: d('2026-01-01') }).toString()).toBe('0');
  });
  test('splitting a window at a day boundary splits the prorated amount exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 90 }), fc.integer({ min: 1, max: 90 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 1_000_000 }), (ps, plen, split, cents) => {
        const base = d('2026-01-01').getTime();
        const day = 86_400_000;
        const period = { start: new Date(base + ps * day), end: new Date(base + (ps + plen) * day) };
        const amount = dec(cents).div(100);
        const left = proratedAmount(amount, period, { start: new Date(base), end: new Date(base + split * day) });
        const right = proratedAmount(amount, period, { start: new Date(base + split * day), end: new Date(base + 200 * day) });
        // 40 significant digits: a third of a period is not exact, but the two halves add back to well under a millionth of a cent.
        expect(left.plus(right).minus(amount).abs().lt(dec('1e-20'))).toBe(true);
      }),
    );
  });
});

describe('margin_bps', () => {
  test('margin × 10,000 ÷ revenue, rounded half away from zero', () => {
    expect(marginBps(dec('50'), dec('100'))).toBe(5000);
    expect(marginBps(dec('1'), dec('3'))).toBe(3333);
    expect(marginBps(dec('2'), dec('3'))).toBe(6667);
    expect(marginBps(dec('0.00005'), dec('1'))).toBe(1); // 0.5 bps → 1
    expect(marginBps(dec('-0.00005'), dec('1'))).toBe(-1); // −0.5 bps → −1
    expect(marginBps(dec('-300'), dec('100'))).toBe(-30000);
  });
  test('null at zero or negative revenue; cost without revenue is still a negative margin', () => {
    expect(marginBps(dec('0'), dec('0'))).toBeNull();
    const costOnly = computeMargin(dec(0), dec('4.2'));
    expect(costOnly.marginBps).toBeNull();
    expect(costOnly.margin.toFixed()).toBe('-4.2');
    expect(marginLevel(costOnly, 2000)).toBe('negative');
    expect(marginLevel(computeMargin(dec(0), dec(0)), 2000)).toBe('none');
  });
  test('bps sign follows the margin and |bps| ≤ 10,000 while cost ≤ 2 × revenue', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 0, max: 20_000_000 }), (revenueCents, costCents) => {
        fc.pre(costCents <= 2 * revenueCents);
        const m = computeMargin(dec(revenueCents).div(100), dec(costCents).div(100));
        expect(m.marginBps).not.toBeNull();
        expect(Math.abs(m.marginBps!)).toBeLessThanOrEqual(10_000);
        if (m.margin.gt(0)) expect(m.marginBps!).toBeGreaterThanOrEqual(0);
        if (m.margin.lt(0)) expect(m.marginBps!).toBeLessThanOrEqual(0);
      }),
    );
  });
});

describe('marginLevel', () => {
  test('none at or above the threshold, below_threshold under it, negative under zero', () => {
    expect(marginLevel(at(2000), 2000)).toBe('none');
    expect(marginLevel(at(1999), 2000)).toBe('below_threshold');
    expect(marginLevel(at(0), 2000)).toBe('below_threshold');
    expect(marginLevel(at(-1), 2000)).toBe('negative');
  });
});

describe('planAlertChanges', () => {
  const open = (level: AlertState['level'], lastNotifiedBps: number | null): AlertState => ({ level, status: 'open', lastNotifiedBps });

  test('below the threshold with nothing open: one below_threshold alert that notifies', () => {
    expect(planAlertChanges([], at(1500), settings)).toEqual([{ level: 'below_threshold', action: 'open', notify: 'margin.below_threshold', lastNotifiedBps: 1500 }]);
  });
  test('the same level again: nothing, until it drops by a whole step', () => {
    expect(planAlertChanges([open('below_threshold', 1500)], at(1500), settings)).toEqual([]);
    expect(planAlertChanges([open('below_threshold', 1500)], at(1001), settings)).toEqual([]);
    expect(planAlertChanges([open('below_threshold', 1500)], at(1000), settings)).toEqual([
      { level: 'below_threshold', action: 'worsen', notify: 'margin.worsened', lastNotifiedBps: 1000 },
    ]);
  });
  test('going straight to negative opens both levels and sends one message', () => {
    expect(planAlertChanges([], at(-500), settings)).toEqual([
      { level: 'negative', action: 'open', notify: 'margin.negative', lastNotifiedBps: -500 },
      { level: 'below_threshold', action: 'open', notify: null, lastNotifiedBps: -500 },
    ]);
  });
  test('only the most severe open alert reports worsening', () => {
    expect(planAlertChanges([open('negative', -500), open('below_threshold', 1500)], at(-1200), settings)).toEqual([
      { level: 'negative', action: 'worsen', notify: 'margin.worsened', lastNotifiedBps: -1200 },
    ]);
  });
  test('recovering from negative to merely low resolves the negative alert only', () => {
    expect(planAlertChanges([open('negative', -500), open('below_threshold', -500)], at(800), settings)).toEqual([
      { level: 'negative', action: 'resolve', notify: 'margin.resolved', lastNotifiedBps: 800 },
    ]);
  });
  test('back at the threshold resolves every open alert; resolved rows stay quiet', () => {
    expect(planAlertChanges([open('below_threshold', 1500)], at(2000), settings)).toEqual([
      { level: 'below_threshold', action: 'resolve', notify: 'margin.resolved', lastNotifiedBps: 2000 },
    ]);
    expect(planAlertChanges([{ level: 'below_threshold', status: 'resolved', lastNotifiedBps: 2000 }], at(2500), settings)).toEqual([]);
  });
  test('a resolved level that drops again is opened (reopened) and notifies', () => {
    expect(planAlertChanges([{ level: 'below_threshold', status: 'resolved', lastNotifiedBps: 2000 }], at(1900), settings)).toEqual([
      { level: 'below_threshold', action: 'open', notify: 'margin.below_threshold', lastNotifiedBps: 1900 },
    ]);
  });
  test('property: applying the plan and planning again at the same margin changes nothing (no repeated alerts)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -20_000, max: 10_000 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 3000 }), (path, stepBps) => {
        let state: AlertState[] = [];
        for (const bps of path) {
          const m = at(bps);
          const changes = planAlertChanges(state, m, { thresholdBps: 2000, stepBps });
          state = apply(state, changes);
          expect(planAlertChanges(state, m, { thresholdBps: 2000, stepBps })).toEqual([]);
          // open alerts are exactly the levels the margin is in
          const level = marginLevel(m, 2000);
          const expectedOpen = level === 'negative' ? ['below_threshold', 'negative'] : level === 'below_threshold' ? ['below_threshold'] : [];
          expect(state.filter((a) => a.status === 'open').map((a) => a.level).sort()).toEqual(expectedOpen);
        }
      }),
    );
  });
});

function apply(state: AlertState[], changes: ReturnType<typeof planAlertChanges>): AlertState[] {
  const next = state.filter((a) => !changes.some((c) => c.level === a.level));
  for (const c of changes) next.push({ level: c.level, status: c.action === 'resolve' ? 'resolved' : 'open', lastNotifiedBps: c.lastNotifiedBps });
  return next;
}

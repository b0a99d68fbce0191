import { anchorDate, monthIndex, nextPeriod, periodContaining } from './billing-period';

const iso = (date: Date): string => date.toISOString().slice(0, 10);

describe('billing periods', () => {
  it('anchor 31 falls back to the last day of shorter months', () => {
    expect(iso(anchorDate(monthIndex(new Date('2024-02-10')), 31))).toBe('2024-02-29');
    expect(iso(anchorDate(monthIndex(new Date('2023-02-10')), 31))).toBe('2023-02-28');
    expect(iso(anchorDate(monthIndex(new Date('2024-04-10')), 31))).toBe('2024-04-30');
  });

  it('keeps the anchor after a short month (Jan 31 → Feb 29 → Mar 31)', () => {
    const align = monthIndex(new Date('2024-01-31'));
    const jan = periodContaining(new Date('2024-02-10'), 31, 'month', align);
    expect([iso(jan.start), iso(jan.end)]).toEqual(['2024-01-31', '2024-02-29']);
    const feb = nextPeriod(jan, 31, 'month');
    expect([iso(feb.start), iso(feb.end)]).toEqual(['2024-02-29', '2024-03-31']);
  });

  it('finds the containing period for quarters and years', () => {
    const align = monthIndex(new Date('2024-01-15'));
    const q = periodContaining(new Date('2024-05-20'), 15, 'quarter', align);
    expect([iso(q.start), iso(q.end)]).toEqual(['2024-04-15', '2024-07-15']);
    const y = periodContaining(new Date('2025-01-14'), 15, 'year', align);
    expect([iso(y.start), iso(y.end)]).toEqual(['2024-01-15', '2025-01-15']);
  });

  it('a moment on the boundary belongs to the period it starts', () => {
    const p = periodContaining(new Date('2024-03-01T00:00:00Z'), 1, 'month', monthIndex(new Date('2024-01-01')));
    expect([iso(p.start), iso(p.end)]).toEqual(['2024-03-01', '2024-04-01']);
  });

  it('refuses an anchor outside 1–31', () => {
    expect(() => periodContaining(new Date(), 0, 'month', 0)).toThrow(RangeError);
    expect(() => periodContaining(new Date(), 32, 'month', 0)).toThrow(RangeError);
  });
});

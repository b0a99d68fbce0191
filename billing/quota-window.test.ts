import { quotaWindow } from './quota-window';

const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => d?.toISOString() ?? null;

describe('quotaWindow', () => {
  it('month windows run from the first of the month to the first of the next, in UTC', () => {
    const w = quotaWindow('month', at('2026-01-31T23:59:59.999Z'));
    expect([iso(w.start), iso(w.end)]).toEqual(['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z']);
    const next = quotaWindow('month', at('2026-02-01T00:00:00.000Z'));
    expect([iso(next.start), iso(next.end)]).toEqual(['2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z']);
  });

  it('handles leap February and the turn of the year', () => {
    const feb = quotaWindow('month', at('2028-02-29T12:00:00Z'));
    expect([iso(feb.start), iso(feb.end)]).toEqual(['2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z']);
    const dec = quotaWindow('month', at('2026-12-31T23:59:59.999Z'));
    expect([iso(dec.start), iso(dec.end)]).toEqual(['2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
  });

  it('day windows change at UTC midnight regardless of the offset the time was written in', () => {
    const late = quotaWindow('day', at('2026-03-10T23:59:59.999Z'));
    expect([iso(late.start), iso(late.end)]).toEqual(['2026-03-10T00:00:00.000Z', '2026-03-11T00:00:00.000Z']);
    // 00:30 in UTC+02:00 is still the previous UTC day.
    expect(iso(quotaWindow('day', at('2026-03-11T00:30:00+02:00')).start)).toBe('2026-03-10T00:00:00.000Z');
    expect(iso(quotaWindow('day', at('2026-03-11T00:00:00.000Z')).start)).toBe('2026-03-11T00:00:00.000Z');
  });

  it('day windows cross month ends', () => {
    const w = quotaWindow('day', at('2026-04-30T08:00:00Z'));
    expect([iso(w.start), iso(w.end)]).toEqual(['2026-04-30T00:00:00.000Z', '2026-05-01T00:00:00.000Z']);
  });

  it('hour windows are one hour long', () => {
    const w = quotaWindow('hour', at('2026-03-10T23:59:59.999Z'));
    expect([iso(w.start), iso(w.end)]).toEqual(['2026-03-10T23:00:00.000Z', '2026-03-11T00:00:00.000Z']);
  });

  it('never is one open window from the epoch', () => {
    const w = quotaWindow('never', at('2026-03-10T12:00:00Z'));
    expect([iso(w.start), w.end]).toEqual(['1970-01-01T00:00:00.000Z', null]);
  });
});

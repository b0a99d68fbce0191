import { uncoveredRanges } from './uncovered-ranges';

const d = (day: number): Date => new Date(Date.UTC(2026, 9, day));
const r = (a: number, b: number) => ({ start: d(a), end: d(b) });

describe('uncoveredRanges', () => {
  it('gives the whole range when nothing is taken', () => {
    expect(uncoveredRanges(r(1, 31), [])).toEqual([r(1, 31)]);
  });

  it('leaves out what is taken, in order, whatever order the claims come in', () => {
    expect(uncoveredRanges(r(1, 31), [r(20, 25), r(5, 10)])).toEqual([r(1, 5), r(10, 20), r(25, 31)]);
  });

  it('handles claims reaching past either end, touching and overlapping claims', () => {
    expect(uncoveredRanges(r(5, 20), [r(1, 7), r(7, 9), r(8, 12), r(18, 40)])).toEqual([r(12, 18)]);
  });

  it('gives nothing when the range is wholly taken, and ignores claims outside it', () => {
    expect(uncoveredRanges(r(5, 20), [r(1, 25)])).toEqual([]);
    expect(uncoveredRanges(r(5, 20), [r(1, 5), r(20, 25)])).toEqual([r(5, 20)]);
  });
});

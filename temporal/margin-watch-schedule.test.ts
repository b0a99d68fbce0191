import { marginWatchOffsetMs } from './margin-watch-schedule';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `01939a${i.toString(16).padStart(2, '0')}-0000-7000-8000-000000000000`);

describe('marginWatchOffsetMs', () => {
  it('is a whole second inside the interval, the same for the same organization', () => {
    for (const id of ids(50)) {
      const offset = marginWatchOffsetMs(id, 60);
      expect(offset % 1000).toBe(0);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(60 * 60_000);
      expect(marginWatchOffsetMs(id, 60)).toBe(offset);
    }
  });

  it('spreads organizations created one after another over the interval, not onto one instant', () => {
    // Time-ordered ids share their leading digits; their watches must still fall apart.
    const offsets = ids(200).map((id) => marginWatchOffsetMs(id, 60));
    expect(new Set(offsets).size).toBeGreaterThan(180);
    const quarters = [0, 1, 2, 3].map((q) => offsets.filter((o) => Math.floor(o / (15 * 60_000)) === q).length);
    for (const count of quarters) expect(count).toBeGreaterThan(25);
  });

  it('stays inside a one-minute interval', () => {
    for (const id of ids(20)) expect(marginWatchOffsetMs(id, 1)).toBeLessThan(60_000);
  });
});

import { formatDay, nextUtcMidnight, startOfUtcDay, utcDaysIn } from './calendar';

describe('UTC calendar days', () => {
  it('finds the day and the next midnight of an instant', () => {
    const at = new Date('2024-02-28T23:59:59.999Z');
    expect(startOfUtcDay(at).toISOString()).toBe('2024-02-28T00:00:00.000Z');
    expect(nextUtcMidnight(at).toISOString()).toBe('2024-02-29T00:00:00.000Z');
    expect(nextUtcMidnight(new Date('2024-03-01T00:00:00Z')).toISOString()).toBe('2024-03-02T00:00:00.000Z');
    expect(formatDay(at)).toBe('2024-02-28');
  });

  it('lists every day overlapping a range', () => {
    expect(utcDaysIn(new Date('2024-02-27T12:00:00Z'), new Date('2024-03-01T00:00:00Z')).map(formatDay)).toEqual(['2024-02-27', '2024-02-28', '2024-02-29']);
    expect(utcDaysIn(new Date('2024-03-01T00:00:00Z'), new Date('2024-03-01T00:00:00Z'))).toEqual([]);
  });
});

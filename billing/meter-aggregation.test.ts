import { dec } from './decimal';
import { aggregate, combineDaily, type DailyReading, type Meter, type MeteredEvent } from './meter-aggregation';

const ev = (id: string, quantity: string, at: string, properties: Record<string, unknown> = {}): MeteredEvent => ({ id, quantity: dec(quantity), timestamp: new Date(at), properties });
const events = [
  ev('a', '2.5', '2024-11-01T10:00:00Z', { user: 'u1' }),
  ev('b', '7', '2024-11-02T10:00:00Z', { user: 'u2' }),
  ev('c', '1.25', '2024-11-03T10:00:00Z', { user: 'u1' }),
  ev('d', '4', '2024-11-03T10:00:00Z', {}),
];

describe('meter aggregation', () => {
  it.each([
    [{ aggregation: 'sum' }, '14.75'],
    [{ aggregation: 'count' }, '4'],
    [{ aggregation: 'max' }, '7'],
    [{ aggregation: 'unique_count', property: 'user' }, '2'],
    // c and d share the newest timestamp: the larger id wins, whatever the order
    [{ aggregation: 'latest' }, '4'],
  ] as [Meter, string][])('%o reads %s', (meter, expected) => {
    expect(aggregate(meter, events).toFixed()).toBe(expected);
    expect(aggregate(meter, [...events].reverse()).toFixed()).toBe(expected);
  });

  it('reads 0 from no events', () => {
    for (const aggregation of ['sum', 'count', 'max', 'latest'] as const) expect(aggregate({ aggregation }, []).toFixed()).toBe('0');
  });

  it('refuses a unique_count meter without a property', () => {
    expect(() => aggregate({ aggregation: 'unique_count' }, events)).toThrow(expect.objectContaining({ field: 'property' }));
  });

  it('combining daily readings gives what aggregating the events gives, where that is exact', () => {
    const byDay = new Map<string, MeteredEvent[]>();
    for (const e of events) byDay.set(e.timestamp.toISOString().slice(0, 10), [...(byDay.get(e.timestamp.toISOString().slice(0, 10)) ?? []), e]);
    for (const aggregation of ['sum', 'count', 'max', 'latest'] as const) {
      const meter: Meter = { aggregation };
      const days: DailyReading[] = [...byDay].map(([day, es]) => {
        const newest = es.reduce((n, e) => (e.timestamp > n.timestamp || (e.timestamp.getTime() === n.timestamp.getTime() && e.id > n.id) ? e : n));
        return { day, quantity: aggregate(meter, es), newestAt: newest.timestamp, newestId: newest.id };
      });
      expect(combineDaily(meter, days).toFixed()).toBe(aggregate(meter, events).toFixed());
    }
  });

  it('will not combine unique counts from daily readings (u1 on two days is one user)', () => {
    expect(() => combineDaily({ aggregation: 'unique_count', property: 'user' }, [])).toThrow(expect.objectContaining({ field: 'aggregation' }));
  });
});

import { dec } from '../../billing/decimal';
import { admitEvents, hardCounterFor, type QuotaLimitRow } from './hard-quota';

const limit = (overrides: Partial<QuotaLimitRow> = {}): QuotaLimitRow => ({
  id: '00000000-0000-4000-8000-000000000001',
  customerExternalId: null,
  eventType: 'call',
  limitValue: '10',
  mode: 'HARD',
  softWarningPercent: 80,
  gracePeriodSeconds: 0,
  resetWindow: 'day',
  ...overrides,
});

const at = '2026-11-22T05:30:00.000Z';

describe('hardCounterFor', () => {
  test('keys a HARD limit by limit, customer and the window of the event timestamp', () => {
    const counter = hardCounterFor([limit()], { customer_external_id: 'c', event_type: 'call', timestamp: at });
    expect(counter?.windowStart.toISOString()).toBe('2026-11-22T00:00:00.000Z');
    expect(counter?.windowEnd?.toISOString()).toBe('2026-11-23T00:00:00.000Z');
    expect(counter?.customerExternalId).toBe('c');
  });

  test('SOFT limits, DISABLED customer overrides and other event types need no counter here', () => {
    const event = { customer_external_id: 'c', event_type: 'call', timestamp: at };
    expect(hardCounterFor([limit({ mode: 'SOFT' })], event)).toBeUndefined();
    expect(hardCounterFor([limit(), limit({ id: 'x', customerExternalId: 'c', mode: 'DISABLED' })], event)).toBeUndefined();
    expect(hardCounterFor([limit({ eventType: 'other' })], event)).toBeUndefined();
  });
});

describe('admitEvents', () => {
  const counter = hardCounterFor([limit()], { customer_external_id: 'c', event_type: 'call', timestamp: at });
  if (!counter) throw new Error('expected a counter');

  test('admits in order from the locked usage and refuses what would pass the limit', () => {
    const start = new Map([[counter.key, { used: dec(7), limitReachedAt: null }]]);
    const outcome = admitEvents(
      ['2', '2', '1'].map((quantity) => ({ counter, quantity })),
      start,
      new Date(at),
    );
    expect([...outcome.refused]).toEqual([1]);
    expect(outcome.counters.get(counter.key)?.used.toString()).toBe('10');
  });

  test('a clock behind the recorded limitReachedAt does not open a grace period', () => {
    const reachedAt = new Date('2026-11-22T05:30:01.000Z');
    const start = new Map([[counter.key, { used: dec(10), limitReachedAt: reachedAt }]]);
    const outcome = admitEvents([{ counter, quantity: '1' }], start, new Date('2026-11-22T05:30:00.000Z'));
    expect([...outcome.refused]).toEqual([0]);
  });
});

import { validateEvents } from './validate-events';
import { decodeCursor, encodeCursor } from './list-events';

const now = new Date('2026-11-22T05:30:00.000Z');
const ok = (key: string, extra: Record<string, unknown> = {}) => ({
  idempotency_key: key,
  customer_external_id: 'c',
  event_type: 'call',
  timestamp: '2026-11-22T05:00:00Z',
  ...extra,
});

describe('validateEvents', () => {
  test('a single event and a batch are both accepted; quantity defaults to 1 and numbers become decimal strings', () => {
    expect(validateEvents(ok('a'), now).events).toEqual([expect.objectContaining({ index: 0, quantity: '1' })]);
    const batch = validateEvents({ events: [ok('a', { quantity: 0.5 }), ok('b', { quantity: '12.000100' })] }, now);
    expect(batch.events.map((e) => e.quantity)).toEqual(['0.5', '12.0001']);
  });

  test('repeated keys after the first are counted as in-request duplicates', () => {
    const result = validateEvents({ events: [ok('a'), ok('b'), ok('a'), ok('a')] }, now);
    expect(result.events.map((e) => e.idempotency_key)).toEqual(['a', 'b']);
    expect(result.inRequestDuplicates).toEqual(['a', 'a']);
    expect(result.received).toBe(4);
  });

  test('the time window is 5 minutes ahead to 35 days back', () => {
    const result = validateEvents(
      { events: [ok('f', { timestamp: '2026-11-22T05:36:00Z' }), ok('o', { timestamp: '2026-10-17T05:00:00Z' }), ok('edge', { timestamp: '2026-11-22T05:34:59+00:00' })] },
      now,
    );
    expect(result.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, 'TIMESTAMP_IN_FUTURE'],
      [1, 'TIMESTAMP_TOO_OLD'],
    ]);
    expect(result.events.map((e) => e.idempotency_key)).toEqual(['edge']);
  });

  test('negative, non-finite and over-precise quantities are invalid values', () => {
    const result = validateEvents({ events: [ok('n', { quantity: -1 }), ok('p', { quantity: '0.0000001' }), ok('s', { quantity: '1e3' })] }, now);
    expect(result.rejected.map((r) => [r.index, r.code, r.field])).toEqual([
      [0, 'INVALID_VALUE', 'quantity'],
      [1, 'INVALID_VALUE', 'quantity'],
      [2, 'INVALID_VALUE', 'quantity'],
    ]);
  });
});

describe('event list cursor', () => {
  test('round-trips (timestamp, id) and refuses anything else', () => {
    const position = { timestamp: new Date('2026-11-22T05:00:00.123Z'), id: '00000000-0000-4000-8000-000000000001' };
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
    expect(() => decodeCursor('bogus')).toThrow('cursor');
    expect(() => decodeCursor(Buffer.from('["x","y"]').toString('base64url'))).toThrow('cursor');
  });
});

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

  test('a raw vendor response becomes a vendor_usage line, its total tokens the quantity unless one is sent, and its text is not kept', () => {
    const openai = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: 'gpt-4o',
      choices: [{ message: { role: 'assistant', content: 'hello' } }],
      usage: { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1000 }, completion_tokens_details: { reasoning_tokens: 120 } },
    };
    const anthropic = { id: 'msg_1', type: 'message', model: 'claude-sonnet-4', content: [], usage: { input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 5 } };
    const result = validateEvents(
      {
        events: [
          ok('o', { vendor_response: { vendor: 'openai', response: openai } }),
          ok('a', { quantity: '1', vendor_response: { vendor: 'anthropic', response: anthropic } }),
          ok('both', { vendor_usage: [{ vendor: 'openai', model: 'tts-1', seconds: 2 }], vendor_response: { vendor: 'anthropic', response: anthropic } }),
        ],
      },
      now,
    );
    expect(result.rejected).toEqual([]);
    const [o, a, both] = result.events;
    expect(o).toMatchObject({ quantity: '1500', vendor_usage: [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 200, cached_input_tokens: 1000, output_tokens: 180, reasoning_tokens: 120 }] });
    expect(o).not.toHaveProperty('vendor_response');
    expect(JSON.stringify(o)).not.toContain('hello');
    expect(a).toMatchObject({ quantity: '1', vendor_usage: [{ vendor: 'anthropic', model: 'claude-sonnet-4', input_tokens: 10, cached_input_tokens: 90, output_tokens: 5 }] });
    expect(both!.vendor_usage).toEqual([{ vendor: 'openai', model: 'tts-1', seconds: 2 }, { vendor: 'anthropic', model: 'claude-sonnet-4', input_tokens: 10, cached_input_tokens: 90, output_tokens: 5 }]);
  });

  test("a vendor response's count past the range, or a line past the 100th, is refused; its text is not judged, only what is stored", () => {
    const response = (usage: Record<string, unknown>, content = 'ok') => ({ vendor: 'openai', response: { model: 'gpt-4o', usage, choices: [{ message: { content } }] } });
    const hundred = Array.from({ length: 100 }, () => ({ vendor: 'openai', model: 'gpt-4o', input_tokens: 1 }));
    const result = validateEvents(
      {
        events: [
          ok('big', { vendor_response: response({ prompt_tokens: 5e15 }) }),
          ok('many', { vendor_usage: hundred, vendor_response: response({ prompt_tokens: 1 }) }),
          ok('nul', { vendor_response: response({ prompt_tokens: 3 }, 'a\u0000b') }),
        ],
      },
      now,
    );
    expect(result.rejected.map((r) => [r.index, r.field])).toEqual([
      [0, 'vendor_response.response.usage'],
      [1, 'vendor_usage'],
    ]);
    expect(result.events.map((e) => [e.idempotency_key, e.quantity])).toEqual([['nul', '3']]);
  });

  test('a vendor response without a model or usage, or from an unknown vendor, is rejected naming the field', () => {
    const result = validateEvents(
      {
        events: [
          ok('m', { vendor_response: { vendor: 'openai', response: { usage: { prompt_tokens: 1 } } } }),
          ok('u', { vendor_response: { vendor: 'openai', response: { model: 'gpt-4o' } } }),
          ok('v', { vendor_response: { vendor: 'mistral', response: { model: 'm', usage: {} } } }),
        ],
      },
      now,
    );
    expect(result.rejected.map((r) => [r.index, r.code, r.field])).toEqual([
      [0, 'MISSING_FIELD', 'vendor_response.response.model'],
      [1, 'MISSING_FIELD', 'vendor_response.response.usage'],
      [2, 'INVALID_VALUE', 'vendor_response.vendor'],
    ]);
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

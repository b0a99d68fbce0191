import { findExactNumber, isExactNumber, parseJsonExactly } from './exact-json';

describe('parseJsonExactly', () => {
  it('keeps the digits of a number a double cannot hold, as text', () => {
    const body = parseJsonExactly('{"quantity": 12345678901234.567, "n": 3}') as { quantity: unknown; n: unknown };
    expect(isExactNumber(body.quantity)).toBe(true);
    expect((body.quantity as { value: string }).value).toBe('12345678901234.567');
    expect(body.n).toBe(3);
    // What JSON.parse makes of the same text:
    expect(String(JSON.parse('12345678901234.567'))).toBe('12345678901234.566');
  });

  it('leaves numbers a double holds exactly as numbers, on both paths', () => {
    expect(parseJsonExactly('{"a": 0.1, "b": 1e3}')).toEqual({ a: 0.1, b: 1000 });
    // A long digit run in a string sends the body down the exact path; short numbers stay numbers there too.
    expect(parseJsonExactly('{"key": "1234567890123456789", "a": 0.1}')).toEqual({ key: '1234567890123456789', a: 0.1 });
  });

  it('keeps integers beyond 2^53 exact', () => {
    const body = parseJsonExactly('[9007199254740993]') as unknown[];
    expect((body[0] as { value: string }).value).toBe('9007199254740993');
  });

  it('throws SyntaxError on invalid JSON, on both paths', () => {
    expect(() => parseJsonExactly('{"a": 1,}')).toThrow(SyntaxError);
    expect(() => parseJsonExactly('{"a": 12345678901234567,}')).toThrow(SyntaxError);
  });
});

describe('findExactNumber', () => {
  it('names the path of the first number kept as text', () => {
    expect(findExactNumber(parseJsonExactly('{"a": {"b": [1, 12345678901234567]}}'))).toEqual(['a', 'b', 1]);
    expect(findExactNumber({ a: [1, 2], b: 'x' })).toBeNull();
  });
});

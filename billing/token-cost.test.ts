import { toPlainString } from './decimal';
import { rateInEffect, rateVendorUsage, splitVendorUsage, tokenCost, type TokenRate } from './token-cost';

const at = (iso: string) => new Date(iso);

// Public list prices per million tokens (input / output).
const gpt4o: TokenRate = {
  id: 'gpt-4o-2025',
  vendor: 'openai',
  model: 'gpt-4o',
  currency: 'usd',
  inputPerMillionTokens: '2.50',
  outputPerMillionTokens: '10.00',
  effectiveFrom: at('2025-01-01T00:00:00Z'),
  effectiveTo: null,
};
const gpt4oMini: TokenRate = { ...gpt4o, id: 'gpt-4o-mini', model: 'gpt-4o-mini', inputPerMillionTokens: '0.15', outputPerMillionTokens: '0.60' };
const sonnet: TokenRate = {
  ...gpt4o,
  id: 'claude-sonnet',
  vendor: 'anthropic',
  model: 'claude-3-5-sonnet',
  inputPerMillionTokens: '3.00',
  outputPerMillionTokens: '15.00',
};

describe('tokenCost', () => {
  it('prices input and output tokens per million, exactly', () => {
    // In floats, 2.5 * 1234 / 1e6 + 10 * 567 / 1e6 is 0.008754999999999999.
    expect(toPlainString(tokenCost(gpt4o, 1_234, 567))).toBe('0.008755');
    expect(toPlainString(tokenCost(sonnet, 2_048, 1_000))).toBe('0.021144');
    expect(toPlainString(tokenCost(gpt4oMini, 1_000_000, 333))).toBe('0.1501998');
  });

  it('keeps sub-micro-dollar amounts', () => {
    expect(toPlainString(tokenCost(gpt4oMini, 3, 0))).toBe('0.00000045');
    expect(toPlainString(tokenCost(gpt4oMini, 1, 1))).toBe('0.00000075');
  });

  it('is zero for zero tokens', () => {
    expect(toPlainString(tokenCost(gpt4o, 0, 0))).toBe('0');
  });
});

describe('rateInEffect', () => {
  const january: TokenRate = { ...gpt4o, id: 'jan', effectiveFrom: at('2026-01-01T00:00:00Z'), effectiveTo: at('2026-02-01T00:00:00Z') };
  const february: TokenRate = { ...gpt4o, id: 'feb', inputPerMillionTokens: '2.00', effectiveFrom: at('2026-02-01T00:00:00Z'), effectiveTo: null };
  const rates = [february, january];

  it('includes effectiveFrom and excludes effectiveTo', () => {
    expect(rateInEffect(rates, 'openai', 'gpt-4o', at('2026-01-01T00:00:00.000Z'))?.id).toBe('jan');
    expect(rateInEffect(rates, 'openai', 'gpt-4o', at('2026-01-31T23:59:59.999Z'))?.id).toBe('jan');
    expect(rateInEffect(rates, 'openai', 'gpt-4o', at('2026-02-01T00:00:00.000Z'))?.id).toBe('feb');
  });

  it('has no rate before the first one starts', () => {
    expect(rateInEffect(rates, 'openai', 'gpt-4o', at('2025-12-31T23:59:59.999Z'))).toBeUndefined();
  });

  it('matches vendor and model exactly', () => {
    expect(rateInEffect(rates, 'openai', 'gpt-4o-mini', at('2026-03-01T00:00:00Z'))).toBeUndefined();
    expect(rateInEffect(rates, 'azure', 'gpt-4o', at('2026-03-01T00:00:00Z'))).toBeUndefined();
  });

  it('lets the latest start win when open-ended rates overlap', () => {
    const older: TokenRate = { ...gpt4o, id: 'older', effectiveFrom: at('2025-01-01T00:00:00Z') };
    const newer: TokenRate = { ...gpt4o, id: 'newer', effectiveFrom: at('2025-06-01T00:00:00Z') };
    expect(rateInEffect([newer, older], 'openai', 'gpt-4o', at('2025-07-01T00:00:00Z'))?.id).toBe('newer');
    expect(rateInEffect([newer, older], 'openai', 'gpt-4o', at('2025-05-31T23:59:59.999Z'))?.id).toBe('older');
  });
});

describe('rateVendorUsage', () => {
  it('sums every line priced at the event time and lists each rate once', () => {
    const rated = rateVendorUsage(
      [gpt4o, sonnet],
      [
        { vendor: 'openai', model: 'gpt-4o', input_tokens: 1_234, output_tokens: 567 },
        { vendor: 'anthropic', model: 'claude-3-5-sonnet', input_tokens: 2_048, output_tokens: 1_000 },
        { vendor: 'openai', model: 'gpt-4o', input_tokens: 1_234, output_tokens: 567 },
      ],
      at('2026-03-01T12:00:00Z'),
    );
    expect(toPlainString(rated.cost)).toBe('0.038654');
    expect(rated.rateIds).toEqual(['gpt-4o-2025', 'claude-sonnet']);
    expect(rated.unrated).toEqual([]);
  });

  it('reports lines without a rate instead of pricing them at zero', () => {
    const unknown = { vendor: 'mistral', model: 'large', input_tokens: 10, output_tokens: 10 };
    const rated = rateVendorUsage([gpt4o], [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 0 }, unknown], at('2026-03-01T00:00:00Z'));
    expect(toPlainString(rated.cost)).toBe('2.5');
    expect(rated.unrated).toEqual([unknown]);
  });

  it('uses the rate in effect at the event timestamp', () => {
    const old: TokenRate = { ...gpt4o, id: 'old', inputPerMillionTokens: '5.00', outputPerMillionTokens: '15.00', effectiveTo: at('2026-01-01T00:00:00Z') };
    const current: TokenRate = { ...gpt4o, id: 'current', effectiveFrom: at('2026-01-01T00:00:00Z') };
    const usage = [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 1_000, output_tokens: 1_000 }];
    expect(toPlainString(rateVendorUsage([old, current], usage, at('2025-12-31T23:59:59.999Z')).cost)).toBe('0.02');
    expect(toPlainString(rateVendorUsage([old, current], usage, at('2026-01-01T00:00:00Z')).cost)).toBe('0.0125');
  });
});

describe('splitVendorUsage', () => {
  const line = { vendor: 'openai', model: 'gpt-4o', input_tokens: 10, output_tokens: 5 };

  it('keeps well-formed lines and sets aside the rest, in order', () => {
    const broken = [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 10 }, { ...line, output_tokens: -1 }, { ...line, input_tokens: 1.5 }, 'text', null, [line]];
    expect(splitVendorUsage([line, ...broken, line])).toEqual({ lines: [line, line], malformed: broken });
  });

  it('takes a value that is not an array as one line, and an empty array as none', () => {
    expect(splitVendorUsage(line)).toEqual({ lines: [line], malformed: [] });
    expect(splitVendorUsage([])).toEqual({ lines: [], malformed: [] });
  });

  it('refuses token counts of 16 digits and more', () => {
    expect(splitVendorUsage([{ ...line, input_tokens: 1e15 }]).malformed).toHaveLength(1);
    expect(splitVendorUsage([{ ...line, input_tokens: 1e15 - 1 }]).lines).toHaveLength(1);
  });
});

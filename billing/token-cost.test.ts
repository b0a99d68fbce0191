import { toPlainString } from './decimal';
import { linePrice, MAX_EVENT_COST, rateInEffect, rateVendorUsage, splitVendorUsage, type TokenRate, type UsageCounts } from './token-cost';
import { dec } from './decimal';

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
  it('prices input and output tokens per million, exactly', () => {
    const cost = (rate: TokenRate, input_tokens: number, output_tokens: number) => toPlainString(rateVendorUsage([rate], [{ vendor: rate.vendor, model: rate.model, input_tokens, output_tokens }], at('2026-03-01T00:00:00Z')).cost);
    // In floats, 2.5 * 1234 / 1e6 + 10 * 567 / 1e6 is 0.008754999999999999.
    expect(cost(gpt4o, 1_234, 567)).toBe('0.008755');
    expect(cost(sonnet, 2_048, 1_000)).toBe('0.021144');
    expect(cost(gpt4oMini, 1_000_000, 333)).toBe('0.1501998');
    // Sub-micro-dollar amounts are kept; zero tokens cost zero.
    expect(cost(gpt4oMini, 3, 0)).toBe('0.00000045');
    expect(cost(gpt4oMini, 1, 1)).toBe('0.00000075');
    expect(cost(gpt4o, 0, 0)).toBe('0');
  });

  it('leaves unpriced a line that would take the event past what its cost column holds, instead of failing its batch', () => {
    const images = { ...gpt4o, perImage: '0.04' };
    const huge = { vendor: 'openai', model: 'gpt-4o', images: 25_000_000_000_000 };
    const small = { vendor: 'openai', model: 'gpt-4o', images: 1 };
    const rated = rateVendorUsage([images], [small, huge], at('2026-03-01T00:00:00Z'));
    expect([toPlainString(rated.cost), rated.unrated]).toEqual(['0.04', [huge]]);
    // Near the bound: 10^12 − 0.04 already held (a re-rate adds to it), one more image is one too many.
    expect(rateVendorUsage([images], [small], at('2026-03-01T00:00:00Z'), MAX_EVENT_COST.minus(dec('0.04'))).unrated).toEqual([small]);
    expect(rateVendorUsage([images], [small], at('2026-03-01T00:00:00Z'), MAX_EVENT_COST.minus(dec('0.05'))).unrated).toEqual([]);
  });

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
    const broken = [{ vendor: 'openai', model: 7, input_tokens: 1 }, { ...line, output_tokens: -1 }, { ...line, input_tokens: 1.5 }, { ...line, seconds: 0.0000001 }, { ...line, images: '2' }, 'text', null, [line]];
    expect(splitVendorUsage([line, ...broken, line])).toEqual({ lines: [line, line], malformed: broken });
  });

  it('takes any counts (none at all costs nothing), and seconds with up to 6 decimals', () => {
    const kinds = [
      { vendor: 'openai', model: 'gpt-4o' },
      { vendor: 'openai', model: 'gpt-4o', input_tokens: 10 },
      { vendor: 'openai', model: 'gpt-image-1', images: 2 },
      { vendor: 'openai', model: 'whisper-1', seconds: 12.345678 },
      { vendor: 'exa', model: 'search', requests: 1 },
      { vendor: 'anthropic', model: 'claude-sonnet-4', cached_input_tokens: 9_000, cache_write_tokens: 100, reasoning_tokens: 40 },
    ];
    expect(splitVendorUsage(kinds)).toEqual({ lines: kinds, malformed: [] });
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

describe('linePrice', () => {
  const usage = (counts: UsageCounts) => ({ vendor: 'anthropic', model: 'claude-sonnet-4', ...counts });

  it('prices cache reads, cache writes and reasoning at their own prices when the rate has them', () => {
    const rate = { ...sonnet, cachedInputPerMillionTokens: '0.30', cacheWritePerMillionTokens: '3.75', reasoningPerMillionTokens: '20.00' };
    // 1,000 × 3 + 10,000 × 0.30 + 2,000 × 3.75 + 500 × 15 + 300 × 20, per million: (3,000 + 3,000 + 7,500 + 7,500 + 6,000) / 1e6
    const priced = linePrice(rate, usage({ input_tokens: 1_000, cached_input_tokens: 10_000, cache_write_tokens: 2_000, output_tokens: 500, reasoning_tokens: 300 }));
    expect(priced.ok && toPlainString(priced.cost)).toBe('0.027');
  });

  it('prices cache reads and writes at the input price and reasoning at the output price when the rate has none of its own', () => {
    const priced = linePrice(sonnet, usage({ input_tokens: 1_000, cached_input_tokens: 10_000, cache_write_tokens: 2_000, output_tokens: 500, reasoning_tokens: 300 }));
    // (13,000 × 3 + 800 × 15) / 1e6
    expect(priced.ok && toPlainString(priced.cost)).toBe('0.051');
  });

  it('prices images, seconds and requests per unit, exactly', () => {
    const rate = { ...gpt4o, perImage: '0.04', perSecond: '0.0001', perRequest: '0.005' };
    const priced = linePrice(rate, usage({ images: 3, seconds: 12.345678, requests: 7 }));
    // 0.12 + 0.0012345678 + 0.035
    expect(priced.ok && toPlainString(priced.cost)).toBe('0.1562345678');
  });

  it('leaves the whole line unpriced, naming the counts, when the rate has no price for one of them', () => {
    expect(linePrice(gpt4o, usage({ input_tokens: 1_000, images: 2, seconds: 1 }))).toEqual({ ok: false, unpricedCounts: ['images', 'seconds'] });
    const imagesOnly = { ...gpt4o, inputPerMillionTokens: null, outputPerMillionTokens: null, perImage: '0.04' };
    expect(linePrice(imagesOnly, usage({ images: 1, input_tokens: 5 }))).toEqual({ ok: false, unpricedCounts: ['input_tokens'] });
    expect(linePrice(imagesOnly, usage({ images: 1, cached_input_tokens: 5 }))).toEqual({ ok: false, unpricedCounts: ['cached_input_tokens'] });
  });

  it('needs no price for a count of zero', () => {
    const imagesOnly = { ...gpt4o, inputPerMillionTokens: null, outputPerMillionTokens: null, perImage: '0.04' };
    const priced = linePrice(imagesOnly, usage({ images: 1, input_tokens: 0, output_tokens: 0 }));
    expect(priced.ok && toPlainString(priced.cost)).toBe('0.04');
  });

  it('makes rateVendorUsage report a line its rate cannot fully price', () => {
    const line = { vendor: 'openai', model: 'gpt-4o', input_tokens: 1_000_000, images: 1 };
    const rated = rateVendorUsage([gpt4o], [line, { vendor: 'openai', model: 'gpt-4o', input_tokens: 1_000_000 }], at('2026-03-01T00:00:00Z'));
    expect(toPlainString(rated.cost)).toBe('2.5');
    expect(rated.unrated).toEqual([line]);
  });
});

import { dec } from './decimal';
import { canTransition, confidence, missedOverage, renewalDrift, staleRating, unbilledUsage, underReportedUsage } from './leaks';
import type { PriceModel } from './price-models';
import type { TokenRate } from './token-cost';

// ≤100 @ 0.10, ≤1000 @ 0.08, rest @ 0.05
const graduated: PriceModel = {
  model: 'graduated',
  tiers: [
    { upTo: dec(100), unitAmount: dec('0.10'), flatAmount: dec(0) },
    { upTo: dec(1000), unitAmount: dec('0.08'), flatAmount: dec(0) },
    { upTo: null, unitAmount: dec('0.05'), flatAmount: dec(0) },
  ],
};
const text = (a: { expected: { toFixed(): string }; billed: { toFixed(): string }; leak: { toFixed(): string } } | null) =>
  a && { expected: a.expected.toFixed(), billed: a.billed.toFixed(), leak: a.leak.toFixed() };

describe('unbilled usage', () => {
  it('is the marginal price of the unbilled quantity over the billed one', () => {
    // billed 250 → 10 + 12 = 22; with 50 unbilled, 300 → 10 + 16 = 26
    expect(text(unbilledUsage({ price: graduated, currency: 'usd', billedQuantity: dec(250), totalQuantity: dec(300) }))).toEqual({ expected: '26', billed: '22', leak: '4' });
  });
  it('prices across a tier boundary at the higher tier first', () => {
    // 90 → 9; 120 → 10 + 1.6 = 11.6
    expect(text(unbilledUsage({ price: graduated, currency: 'usd', billedQuantity: dec(90), totalQuantity: dec(120) }))).toEqual({ expected: '11.6', billed: '9', leak: '2.6' });
  });
  it('finds nothing when every event was billed, or the extra usage falls in included units', () => {
    expect(unbilledUsage({ price: graduated, currency: 'usd', billedQuantity: dec(300), totalQuantity: dec(300) })).toBeNull();
    expect(unbilledUsage({ price: { model: 'per_unit', unitAmount: dec(1), includedUnits: dec(100) }, currency: 'usd', billedQuantity: dec(10), totalQuantity: dec(50) })).toBeNull();
  });
});

describe('missed overage', () => {
  const perUnit: PriceModel = { model: 'per_unit', unitAmount: dec('0.02'), includedUnits: dec(1000) };
  it('charges the quantity above included units that the lines did not', () => {
    expect(text(missedOverage({ price: perUnit, currency: 'usd', claimedQuantity: dec(1500), lineAmounts: [dec(0)] }))).toEqual({ expected: '10', billed: '0', leak: '10' });
    expect(text(missedOverage({ price: perUnit, currency: 'usd', claimedQuantity: dec(1500), lineAmounts: [dec(4), dec(1)] }))).toEqual({ expected: '10', billed: '5', leak: '5' });
  });
  it('finds nothing within included units or when the lines charged it all', () => {
    expect(missedOverage({ price: perUnit, currency: 'usd', claimedQuantity: dec(800), lineAmounts: [] })).toBeNull();
    expect(missedOverage({ price: perUnit, currency: 'usd', claimedQuantity: dec(1500), lineAmounts: [dec(10)] })).toBeNull();
  });
});

describe('under-reported usage', () => {
  it('is price(metered) − price(reported)', () => {
    // 300 → 26; 200 → 10 + 8 = 18
    expect(text(underReportedUsage({ price: graduated, currency: 'usd', meteredQuantity: dec(300), reportedQuantity: dec(200) }))).toEqual({ expected: '26', billed: '18', leak: '8' });
  });
  it('finds nothing when the report matches or exceeds the meter', () => {
    expect(underReportedUsage({ price: graduated, currency: 'usd', meteredQuantity: dec(300), reportedQuantity: dec(300) })).toBeNull();
    expect(underReportedUsage({ price: graduated, currency: 'usd', meteredQuantity: dec(300), reportedQuantity: dec(400) })).toBeNull();
  });
});

describe('renewal drift', () => {
  it('compares the base-fee lines with the plan\'s current fee', () => {
    expect(text(renewalDrift({ currency: 'usd', planBaseFee: dec(60), baseFeeLines: [dec(30)] }))).toEqual({ expected: '60', billed: '30', leak: '30' });
  });
  it('a contracted price wins over the plan fee, rounded to the currency', () => {
    expect(text(renewalDrift({ currency: 'jpy', planBaseFee: dec(6000), contractedFee: dec('4500.4'), baseFeeLines: [dec(3000)] }))).toEqual({ expected: '4500', billed: '3000', leak: '1500' });
  });
  it('finds nothing at or above the expected fee', () => {
    expect(renewalDrift({ currency: 'usd', planBaseFee: dec(60), baseFeeLines: [dec(60)] })).toBeNull();
  });
});

describe('stale rating', () => {
  const rate = (id: string, from: string, to: string | null, input: string, output: string): TokenRate => ({
    id, vendor: 'openai', model: 'gpt', currency: 'usd', inputPerMillionTokens: input, outputPerMillionTokens: output,
    effectiveFrom: new Date(from), effectiveTo: to ? new Date(to) : null,
  });
  const rates = [rate('old', '2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z', '3', '15'), rate('new', '2025-02-01T00:00:00Z', null, '5', '25')];
  const usage = [{ vendor: 'openai', model: 'gpt', input_tokens: 1_000_000, output_tokens: 100_000 }];

  it('re-rates only events whose rate was not in effect at their timestamp', () => {
    const found = staleRating(rates, [
      // rated with the old rate after it ended: recorded 3 + 1.5, in effect 5 + 2.5
      { timestamp: new Date('2025-02-10T00:00:00Z'), vendorUsage: usage, rateIds: ['old'], cost: dec('4.5') },
      // the old rate was in effect then: fine
      { timestamp: new Date('2025-01-10T00:00:00Z'), vendorUsage: usage, rateIds: ['old'], cost: dec('4.5') },
    ]);
    expect(found && { ...text(found), staleEvents: found.staleEvents }).toEqual({ expected: '7.5', billed: '4.5', leak: '3', staleEvents: 1 });
  });
  it('the end of a rate is exclusive', () => {
    const found = staleRating(rates, [{ timestamp: new Date('2025-02-01T00:00:00Z'), vendorUsage: usage, rateIds: ['old'], cost: dec('4.5') }]);
    expect(found?.leak.toFixed()).toBe('3');
  });
  it('finds nothing when every rate was in effect, or the stale rate over-counted cost', () => {
    expect(staleRating(rates, [{ timestamp: new Date('2025-02-10T00:00:00Z'), vendorUsage: usage, rateIds: ['new'], cost: dec('7.5') }])).toBeNull();
    expect(staleRating(rates, [{ timestamp: new Date('2025-01-10T00:00:00Z'), vendorUsage: usage, rateIds: ['new'], cost: dec('7.5') }])).toBeNull();
  });
});

describe('confidence', () => {
  it('is 1 with no reasons', () => {
    expect(confidence({ events: 4, lateEvents: 0, unlinkedEvents: 0, stripeMapped: true })).toEqual({ value: dec(1), reasons: [] });
  });
  it('multiplies one factor per reason', () => {
    const c = confidence({ events: 4, lateEvents: 2, unlinkedEvents: 0, stripeMapped: false });
    expect(c.value.toFixed(3)).toBe('0.600');
    expect(c.reasons.map((r) => [r.code, r.factor])).toEqual([['late_events', '0.750'], ['no_stripe_mapping', '0.800']]);
  });
  it('counts every reason, rounded to 3 decimals', () => {
    // 0.833 (1 of 3 unlinked) × 0.7 = 0.5831 → 0.583
    const c = confidence({ events: 3, lateEvents: 0, unlinkedEvents: 1, stripeMapped: true, partialReport: true });
    expect(c.value.toFixed(3)).toBe('0.583');
    expect(c.reasons.map((r) => r.code)).toEqual(['unlinked_events', 'partial_reported_data']);
  });
  it('never goes below 0 or above 1', () => {
    const c = confidence({ events: 0, lateEvents: 5, unlinkedEvents: 5, stripeMapped: false, partialReport: true });
    expect(c.value.gte(0) && c.value.lte(1)).toBe(true);
  });
});

it('finding status moves open → actioned → recovered | dismissed', () => {
  expect(canTransition('open', 'actioned')).toBe(true);
  expect(canTransition('actioned', 'recovered')).toBe(true);
  expect(canTransition('actioned', 'dismissed')).toBe(true);
  expect(canTransition('open', 'dismissed')).toBe(true);
  expect(canTransition('open', 'recovered')).toBe(false);
  expect(canTransition('dismissed', 'open')).toBe(false);
  expect(canTransition('recovered', 'dismissed')).toBe(false);
});

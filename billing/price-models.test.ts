import { dec, type Dec } from './decimal';
import { InvalidPriceError, priceQuantity, type PriceTier } from './price-models';

const tier = (upTo: number | null, unit: string, flat = '0'): PriceTier => ({
  upTo: upTo === null ? null : dec(upTo),
  unitAmount: dec(unit),
  flatAmount: dec(flat),
});
const publicTiers = [tier(100, '0.10'), tier(1000, '0.08'), tier(null, '0.05')];
const sum = (xs: Dec[]): string => xs.reduce((a, b) => a.plus(b), dec(0)).toFixed(2);

describe('price models (the public examples)', () => {
  it('graduated: ≤100 @ 0.10, ≤1000 @ 0.08, rest @ 0.05 at 1,500 units is 107.00', () => {
    const priced = priceQuantity({ model: 'graduated', tiers: publicTiers }, dec(1500), 'usd');
    expect(priced.amount.toFixed(2)).toBe('107.00');
    expect(priced.tiers.map((t) => [t.from.toFixed(), t.to?.toFixed() ?? null, t.quantity.toFixed(), t.amount.toFixed(2)])).toEqual([
      ['0', '100', '100', '10.00'],
      ['100', '1000', '900', '72.00'],
      ['1000', null, '500', '25.00'],
    ]);
  });

  it('volume on the same tiers at 1,500 units is 75.00', () => {
    const priced = priceQuantity({ model: 'volume', tiers: publicTiers }, dec(1500), 'usd');
    expect(priced.amount.toFixed(2)).toBe('75.00');
    expect(priced.tiers).toHaveLength(1);
  });

  it('volume puts a quantity exactly on a bound into that tier (up_to is inclusive)', () => {
    expect(priceQuantity({ model: 'volume', tiers: publicTiers }, dec(100), 'usd').amount.toFixed(2)).toBe('10.00');
    expect(priceQuantity({ model: 'volume', tiers: publicTiers }, dec(101), 'usd').amount.toFixed(2)).toBe('8.08');
  });

  it('package of 50 for 3.00 at 120 units is 9.00 (whole packages, rounded up)', () => {
    const priced = priceQuantity({ model: 'package', packageSize: dec(50), packageAmount: dec('3.00') }, dec(120), 'usd');
    expect(priced.amount.toFixed(2)).toBe('9.00');
    expect(priced.tiers[0]!.quantity.toFixed()).toBe('3');
  });

  it('package bills after free units', () => {
    const price = { model: 'package' as const, packageSize: dec(50), packageAmount: dec('3.00'), freeUnits: dec(20) };
    expect(priceQuantity(price, dec(120), 'usd').amount.toFixed(2)).toBe('6.00');
    expect(priceQuantity(price, dec(20), 'usd').amount.toFixed(2)).toBe('0.00');
  });

  it('included units come off before any tier', () => {
    const priced = priceQuantity({ model: 'graduated', tiers: publicTiers, includedUnits: dec(100) }, dec(1500), 'usd');
    // 1,400 billable: 100 @ 0.10 + 900 @ 0.08 + 400 @ 0.05
    expect(priced.amount.toFixed(2)).toBe('102.00');
    expect(priced.billableQuantity.toFixed()).toBe('1400');
  });

  it('graduated flat amounts apply once usage reaches into a tier', () => {
    const tiers = [tier(10, '1', '5'), tier(null, '0.5', '20')];
    expect(priceQuantity({ model: 'graduated', tiers }, dec(10), 'usd').amount.toFixed(2)).toBe('15.00');
    expect(priceQuantity({ model: 'graduated', tiers }, dec(12), 'usd').amount.toFixed(2)).toBe('36.00');
  });

  it('rounds each tier slice on its own and the amount is their sum', () => {
    const tiers = [tier(3, '0.005'), tier(null, '0.005')];
    const priced = priceQuantity({ model: 'graduated', tiers }, dec(6), 'usd');
    // each slice is 0.015 → 0.02; the amount is 0.04, not round(0.03)
    expect(priced.tiers.map((t) => t.amount.toFixed(2))).toEqual(['0.02', '0.02']);
    expect(priced.amount.toFixed(2)).toBe('0.04');
    expect(sum(priced.tiers.map((t) => t.amount))).toBe(priced.amount.toFixed(2));
  });

  it('prices zero-decimal currencies to whole units', () => {
    expect(priceQuantity({ model: 'per_unit', unitAmount: dec('0.6') }, dec(5), 'jpy').amount.toFixed()).toBe('3');
  });

  it.each([
    ['tiers out of order', { model: 'graduated' as const, tiers: [tier(100, '1'), tier(50, '1'), tier(null, '1')] }, 'price.tiers[1].up_to'],
    ['an unbounded tier before the last', { model: 'graduated' as const, tiers: [tier(null, '1'), tier(50, '1')] }, 'price.tiers[0].up_to'],
    ['a bounded last tier', { model: 'volume' as const, tiers: [tier(100, '1')] }, 'price.tiers[0].up_to'],
    ['a fractional package size', { model: 'package' as const, packageSize: dec('1.5'), packageAmount: dec(1) }, 'price.package_size'],
  ])('rejects %s, naming the field', (_name, price, field) => {
    expect(() => priceQuantity(price, dec(1), 'usd')).toThrow(expect.objectContaining({ field }));
  });

  it('rejects a negative quantity', () => {
    expect(() => priceQuantity({ model: 'per_unit', unitAmount: dec(1) }, dec(-1), 'usd')).toThrow(InvalidPriceError);
  });
});

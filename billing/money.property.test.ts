import fc from 'fast-check';
import { dec, type Dec } from './decimal';
import { minorUnits, roundMoney } from './currency';
import { priceQuantity, type PriceModel, type PriceTier } from './price-models';
import { prorate } from './proration';

// Random prices, quantities and dates against the money invariants. A failing
// case is shrunk by fast-check to a small counterexample and printed.

const amount = (maxCents = 100_000) => fc.integer({ min: 0, max: maxCents }).map((cents) => dec(cents).div(100));
const fineAmount = fc.integer({ min: 0, max: 10_000_000 }).map((n) => dec(n).div(1_000_000)); // down to 0.000001
const quantity = fc.integer({ min: 0, max: 5_000_000 }).map((n) => dec(n).div(1000));
const currency = fc.constantFrom('usd', 'jpy', 'kwd');

/** Ascending bounds, the last tier unbounded. */
const tiers: fc.Arbitrary<PriceTier[]> = fc
  .uniqueArray(fc.integer({ min: 1, max: 100_000 }), { minLength: 0, maxLength: 5 })
  .chain((bounds) =>
    fc.tuple(
      fc.constant([...bounds].sort((a, b) => a - b)),
      fc.array(fineAmount, { minLength: bounds.length + 1, maxLength: bounds.length + 1 }),
      fc.array(amount(5_000), { minLength: bounds.length + 1, maxLength: bounds.length + 1 }),
    ),
  )
  .map(([bounds, units, flats]) => [...bounds, null].map((upTo, i) => ({ upTo: upTo === null ? null : dec(upTo), unitAmount: units[i]!, flatAmount: flats[i]! })));

const price: fc.Arbitrary<PriceModel> = fc.oneof(
  fineAmount.map((unitAmount): PriceModel => ({ model: 'per_unit', unitAmount })),
  tiers.map((t): PriceModel => ({ model: 'graduated', tiers: t })),
  tiers.map((t): PriceModel => ({ model: 'volume', tiers: t })),
  fc.tuple(fc.integer({ min: 1, max: 1000 }), amount(), fc.integer({ min: 0, max: 500 })).map(([size, pkg, free]): PriceModel => ({
    model: 'package',
    packageSize: dec(size),
    packageAmount: pkg,
    freeUnits: dec(free),
  })),
);

const atMinorUnit = (value: Dec, ccy: string): boolean => value.decimalPlaces() <= minorUnits(ccy);
const sum = (values: Dec[]): Dec => values.reduce((a, b) => a.plus(b), dec(0));

describe('money properties', () => {
  it('a tier breakdown always sums to the amount, at the minor unit, never negative', () => {
    fc.assert(
      fc.property(price, quantity, currency, (p, q, ccy) => {
        const priced = priceQuantity(p, q, ccy);
        expect(sum(priced.tiers.map((t) => t.amount)).eq(priced.amount)).toBe(true);
        expect(atMinorUnit(priced.amount, ccy)).toBe(true);
        expect(priced.amount.isNegative()).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('graduated slices cover the billable quantity exactly once', () => {
    fc.assert(
      fc.property(tiers, quantity, (t, q) => {
        const priced = priceQuantity({ model: 'graduated', tiers: t }, q, 'usd');
        expect(sum(priced.tiers.map((x) => x.quantity)).eq(q)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('more usage never costs less (graduated, per-unit, package)', () => {
    const monotone = price.filter((p) => p.model !== 'volume'); // volume pricing may drop at a tier bound, by design
    fc.assert(
      fc.property(monotone, quantity, quantity, (p, a, b) => {
        const [lo, hi] = a.lte(b) ? [a, b] : [b, a];
        expect(priceQuantity(p, lo, 'usd').amount.lte(priceQuantity(p, hi, 'usd').amount)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('proration credit and charge never exceed the full fees, and have the right signs', () => {
    const day = 86_400_000;
    const periods = fc
      .tuple(fc.integer({ min: 0, max: 3650 }), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 399 }))
      .filter(([, length, offset]) => offset < length)
      .map(([startDay, length, offset]) => {
        const start = new Date(Date.UTC(2020, 0, 1) + startDay * day);
        return { periodStart: start, periodEnd: new Date(start.getTime() + length * day), changeAt: new Date(start.getTime() + offset * day) };
      });
    fc.assert(
      fc.property(periods, amount(), amount(), currency, fc.constantFrom('day' as const, 'second' as const), (period, from, to, ccy, mode) => {
        const p = prorate({ ...period, fromAmount: from, toAmount: to, currency: ccy, mode });
        // bounded by the full fee, itself rounded to the minor unit the same way
        expect(p.credit.lte(0) && p.credit.abs().lte(roundMoney(from, ccy))).toBe(true);
        expect(p.charge.gte(0) && p.charge.lte(roundMoney(to, ccy))).toBe(true);
        expect(p.net.eq(p.credit.plus(p.charge))).toBe(true);
        expect(atMinorUnit(p.credit, ccy) && atMinorUnit(p.charge, ccy)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

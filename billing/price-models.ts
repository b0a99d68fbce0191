import { Dec, dec } from './decimal';
import { roundMoney } from './currency';
import { DomainError } from './domain-error';

/**
 * Price models for a metered quantity. Tiers' `upTo` is an inclusive upper
 * bound; null means unbounded and may only be the last tier.
 */
export interface PriceTier {
  upTo: Dec | null;
  unitAmount: Dec;
  flatAmount: Dec;
}

export type PriceModel =
  | { model: 'per_unit'; unitAmount: Dec; includedUnits?: Dec }
  | { model: 'graduated'; tiers: PriceTier[]; includedUnits?: Dec }
  | { model: 'volume'; tiers: PriceTier[]; includedUnits?: Dec }
  | { model: 'package'; packageSize: Dec; packageAmount: Dec; freeUnits?: Dec; includedUnits?: Dec };

export interface TierCharge {
  /** exclusive lower bound of the tier (0 for the first) */
  from: Dec;
  /** inclusive upper bound, null = unbounded */
  to: Dec | null;
  quantity: Dec;
  unitAmount: Dec;
  flatAmount: Dec;
  /** this slice's amount, rounded to the currency's minor unit */
  amount: Dec;
}

export interface PricedQuantity {
  quantity: Dec;
  /** quantity after included (and free) units */
  billableQuantity: Dec;
  /** sum of the rounded tier amounts */
  amount: Dec;
  tiers: TierCharge[];
}

export class InvalidPriceError extends DomainError {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/** Checks a price's shape; throws InvalidPriceError naming the offending field. */
export function validatePrice(price: PriceModel): void {
  if (price.includedUnits?.isNegative()) throw new InvalidPriceError('price.included_units', 'included_units must not be negative');
  switch (price.model) {
    case 'per_unit':
      if (price.unitAmount.isNegative()) throw new InvalidPriceError('price.unit_amount', 'unit_amount must not be negative');
      return;
    case 'graduated':
    case 'volume':
      validateTiers(price.tiers);
      return;
    case 'package':
      if (!price.packageSize.isInteger() || price.packageSize.lte(0)) throw new InvalidPriceError('price.package_size', 'package_size must be a positive whole number');
      if (price.packageAmount.isNegative()) throw new InvalidPriceError('price.package_amount', 'package_amount must not be negative');
      if (price.freeUnits?.isNegative()) throw new InvalidPriceError('price.free_units', 'free_units must not be negative');
      return;
  }
}

function validateTiers(tiers: readonly PriceTier[]): void {
  if (tiers.length === 0) throw new InvalidPriceError('price.tiers', 'tiers must not be empty');
  let previous = dec(0);
  tiers.forEach((tier, i) => {
    const last = i === tiers.length - 1;
    if (tier.upTo === null && !last) throw new InvalidPriceError(`price.tiers[${i}].up_to`, 'only the last tier may have up_to null');
    if (tier.upTo !== null) {
      if (tier.upTo.lte(previous)) throw new InvalidPriceError(`price.tiers[${i}].up_to`, `tiers must be in ascending order of up_to (${tier.upTo.toFixed()} ≤ ${previous.toFixed()})`);
      previous = tier.upTo;
    }
    if (tier.unitAmount.isNegative()) throw new InvalidPriceError(`price.tiers[${i}].unit_amount`, 'unit_amount must not be negative');
    if (tier.flatAmount.isNegative()) throw new InvalidPriceError(`price.tiers[${i}].flat_amount`, 'flat_amount must not be negative');
  });
  if (tiers[tiers.length - 1]!.upTo !== null) throw new InvalidPriceError(`price.tiers[${tiers.length - 1}].up_to`, 'the last tier must have up_to null (unbounded)');
}

/**
 * Prices `quantity` under `price`. Each tier slice is rounded on its own
 * (half away from zero, to the currency's minor unit) and the amount is the
 * sum of the rounded slices, so a tier breakdown always adds up.
 */
export function priceQuantity(price: PriceModel, quantity: Dec, currency: string): PricedQuantity {
  if (quantity.isNegative()) throw new InvalidPriceError('quantity', 'quantity must not be negative');
  validatePrice(price);
  const included = price.includedUnits ?? dec(0);
  const afterIncluded = Dec.max(quantity.minus(included), 0);
  const tiers = chargeTiers(price, afterIncluded);
  const rounded = tiers.map((t) => ({ ...t, amount: roundMoney(t.amount, currency) }));
  const amount = rounded.reduce((sum, t) => sum.plus(t.amount), dec(0));
  const billableQuantity = price.model === 'package' ? Dec.max(afterIncluded.minus(price.freeUnits ?? 0), 0) : afterIncluded;
  return { quantity, billableQuantity, amount, tiers: rounded };
}

function chargeTiers(price: PriceModel, q: Dec): TierCharge[] {
  switch (price.model) {
    case 'per_unit':
      return [{ from: dec(0), to: null, quantity: q, unitAmount: price.unitAmount, flatAmount: dec(0), amount: q.times(price.unitAmount) }];
    case 'graduated': {
      const charges: TierCharge[] = [];
      let from = dec(0);
      for (const tier of price.tiers) {
        if (q.lte(from) && charges.length > 0) break;
        const top = tier.upTo === null ? q : Dec.min(q, tier.upTo);
        const slice = Dec.max(top.minus(from), 0);
        // A tier's flat amount applies once usage reaches into the tier.
        const flat = slice.gt(0) ? tier.flatAmount : dec(0);
        charges.push({ from, to: tier.upTo, quantity: slice, unitAmount: tier.unitAmount, flatAmount: flat, amount: slice.times(tier.unitAmount).plus(flat) });
        if (tier.upTo === null) break;
        from = tier.upTo;
      }
      return charges;
    }
    case 'volume': {
      let from = dec(0);
      for (const tier of price.tiers) {
        if (tier.upTo === null || q.lte(tier.upTo)) {
          const flat = q.gt(0) ? tier.flatAmount : dec(0);
          return [{ from, to: tier.upTo, quantity: q, unitAmount: tier.unitAmount, flatAmount: flat, amount: q.times(tier.unitAmount).plus(flat) }];
        }
        from = tier.upTo;
      }
      throw new InvalidPriceError('price.tiers', 'the last tier must be unbounded');
    }
    case 'package': {
      const billable = Dec.max(q.minus(price.freeUnits ?? 0), 0);
      const packages = billable.div(price.packageSize).ceil();
      return [{ from: dec(0), to: null, quantity: packages, unitAmount: price.packageAmount, flatAmount: dec(0), amount: packages.times(price.packageAmount) }];
    }
  }
}

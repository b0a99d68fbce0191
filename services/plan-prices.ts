import { dec, toPlainString } from '../billing/decimal';
import type { PriceModel } from '../billing/price-models';
import type { StoredTier } from '../billing/stored-price';
import type { Prisma } from '../prisma/client';


/** The plan_prices columns a price model fills (the rest stay null). */
export function priceColumns(price: PriceModel) {
  const base = { model: price.model, includedUnits: toPlainString(price.includedUnits ?? dec(0)) };
  switch (price.model) {
    case 'per_unit':
      return { ...base, unitAmount: toPlainString(price.unitAmount) };
    case 'graduated':
    case 'volume': {
      const tiers: StoredTier[] = price.tiers.map((t) => ({
        up_to: t.upTo === null ? null : t.upTo.toNumber(),
        unit_amount: toPlainString(t.unitAmount),
        flat_amount: toPlainString(t.flatAmount),
      }));
      return { ...base, tiers: tiers as unknown as Prisma.InputJsonValue };
    }
    case 'package':
      return {
        ...base,
        packageSize: toPlainString(price.packageSize),
        packageAmount: toPlainString(price.packageAmount),
        freeUnits: toPlainString(price.freeUnits ?? dec(0)),
      };
  }
}

/** The API's view of a price: only the fields its model uses, amounts as decimal strings. */
export function priceJson(meterKey: string, dimensionValue: string | null, price: PriceModel) {
  const base = { meter: meterKey, dimension_value: dimensionValue, included_units: toPlainString(price.includedUnits ?? dec(0)) };
  switch (price.model) {
    case 'per_unit':
      return { ...base, model: price.model, unit_amount: toPlainString(price.unitAmount) };
    case 'graduated':
    case 'volume':
      return {
        ...base,
        model: price.model,
        tiers: price.tiers.map((t) => ({
          up_to: t.upTo === null ? null : t.upTo.toNumber(),
          unit_amount: toPlainString(t.unitAmount),
          flat_amount: toPlainString(t.flatAmount),
        })),
      };
    case 'package':
      return {
        ...base,
        model: price.model,
        package_size: toPlainString(price.packageSize),
        package_amount: toPlainString(price.packageAmount),
        free_units: toPlainString(price.freeUnits ?? dec(0)),
      };
  }
}

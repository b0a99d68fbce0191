import { dec } from './decimal';
import type { PriceModel } from './price-models';

/** How tiers are stored (plan_prices.tiers): amounts as decimal strings, up_to null on the last tier. */
export interface StoredTier {
  up_to: number | null;
  unit_amount: string;
  flat_amount: string;
}

type Amount = { toString(): string } | null;

/** A stored price row (plan_prices) in the shape this module reads. */
export interface StoredPrice {
  model: PriceModel['model'];
  unitAmount: Amount;
  /** StoredTier[] as JSON */
  tiers: unknown;
  packageSize: Amount;
  packageAmount: Amount;
  freeUnits: Amount;
  includedUnits: { toString(): string };
}

const required = (value: Amount, column: string): { toString(): string } => {
  // The API writes every column its model needs; a null here is a corrupt row, not bad input.
  if (value === null) throw new Error(`plan_prices.${column} is null for a price that needs it`);
  return value;
};

/** The price model a stored row describes (what invoices price usage with). */
export function priceFromRow(row: StoredPrice): PriceModel {
  const includedUnits = dec(row.includedUnits);
  switch (row.model) {
    case 'per_unit':
      return { model: 'per_unit', unitAmount: dec(required(row.unitAmount, 'unit_amount')), includedUnits };
    case 'graduated':
    case 'volume': {
      const tiers = (row.tiers ?? []) as StoredTier[];
      return {
        model: row.model,
        tiers: tiers.map((t) => ({ upTo: t.up_to === null ? null : dec(t.up_to), unitAmount: dec(t.unit_amount), flatAmount: dec(t.flat_amount) })),
        includedUnits,
      };
    }
    case 'package':
      return {
        model: 'package',
        packageSize: dec(required(row.packageSize, 'package_size')),
        packageAmount: dec(required(row.packageAmount, 'package_amount')),
        freeUnits: dec(row.freeUnits ?? 0),
        includedUnits,
      };
  }
}

import { dec, toPlainString } from '../billing/decimal';
import type { PriceModel } from '../billing/price-models';
import type { Prisma } from '../prisma/client';

/** How tiers sit in plan_prices.tiers: amounts as decimal strings, up_to null on the last tier. */
interface StoredTier {
  up_to: number | null;
  unit_amount: string;
  flat_amount: string;
}

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

type Amount = { toString(): string } | null;

/** A plan_prices row as stored; what priceFromRow reads. */
export interface PriceRow {
  model: PriceModel['model'];
  unitAmount: Amount;
  tiers: Prisma.JsonValue | null;
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

/** The billing/ price model a stored row describes (what invoices price usage with). */
export function priceFromRow(row: PriceRow): PriceModel {
  const includedUnits = dec(row.includedUnits);
  switch (row.model) {
    case 'per_unit':
      return { model: 'per_unit', unitAmount: dec(required(row.unitAmount, 'unit_amount')), includedUnits };
    case 'graduated':
    case 'volume': {
      const tiers = (row.tiers ?? []) as unknown as StoredTier[];
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

/** The API's view of a price: only the fields its model uses, amounts as decimal strings. */
export function priceJson(meterKey: string, price: PriceModel) {
  const base = { meter: meterKey, model: price.model, included_units: toPlainString(price.includedUnits ?? dec(0)) };
  switch (price.model) {
    case 'per_unit':
      return { ...base, unit_amount: toPlainString(price.unitAmount) };
    case 'graduated':
    case 'volume':
      return {
        ...base,
        tiers: price.tiers.map((t) => ({
          up_to: t.upTo === null ? null : t.upTo.toNumber(),
          unit_amount: toPlainString(t.unitAmount),
          flat_amount: toPlainString(t.flatAmount),
        })),
      };
    case 'package':
      return {
        ...base,
        package_size: toPlainString(price.packageSize),
        package_amount: toPlainString(price.packageAmount),
        free_units: toPlainString(price.freeUnits ?? dec(0)),
      };
  }
}

import { RATE_PRICES, type RatePrices, type TokenRate } from '../billing/token-cost';
import type { VendorRateModel } from './client';

/** A stored rate as billing/token-cost.ts prices with it: decimal strings, null where the rate sets no price. */
export function tokenRateOf(row: VendorRateModel): TokenRate {
  const prices = Object.fromEntries(RATE_PRICES.map(({ key }) => [key, row[key]?.toFixed() ?? null])) as Required<RatePrices>;
  return { id: row.id, vendor: row.vendor, model: row.model, currency: row.currency, effectiveFrom: row.effectiveFrom, effectiveTo: row.effectiveTo, ...prices };
}

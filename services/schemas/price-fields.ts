/**
 * Which request fields each price model reads, shared by the quote and the
 * plan schemas. Any other price field is refused, so a price sent with the
 * wrong model is not silently mispriced.
 */
export const PRICE_MODELS = ['per_unit', 'graduated', 'volume', 'package'] as const;
export type PriceModelName = (typeof PRICE_MODELS)[number];

export type PriceField = 'unit_amount' | 'tiers' | 'package_size' | 'package_amount' | 'free_units';
export const PRICE_FIELDS: readonly PriceField[] = ['unit_amount', 'tiers', 'package_size', 'package_amount', 'free_units'];

export const FIELDS_BY_MODEL: Record<PriceModelName, readonly PriceField[]> = {
  per_unit: ['unit_amount'],
  graduated: ['tiers'],
  volume: ['tiers'],
  package: ['package_size', 'package_amount', 'free_units'],
};

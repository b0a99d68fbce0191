/*
 * Meters with a dimension: which of a meter's events each price of a plan
 * bills, and what that slice is called. Pure and free of other imports, so
 * the web app's pages use the same rules as billing (billing/draft-inputs.ts).
 */

/**
 * The events of a dimensional meter one price bills: those whose `dimension`
 * property has `value`, or, for the default price (`value` null), those whose
 * value is none of `others` (the values the same plan prices on their own;
 * an event without the property counts as no value, so the default takes it).
 */
export type DimensionSlice = { dimension: string; value: string } | { dimension: string; value: null; others: string[] };

/** A price as far as its slice goes: its meter (and that meter's dimension) and the value it names. */
export interface SlicedPrice {
  meter: { id: string; dimension: string | null };
  dimensionValue: string | null;
}

/** The slice a price of a dimensional meter bills, given every price of its plan (undefined: the whole meter). */
export function sliceOf(price: SlicedPrice, planPrices: readonly SlicedPrice[]): DimensionSlice | undefined {
  const { dimension } = price.meter;
  if (!dimension) return undefined;
  if (price.dimensionValue !== null) return { dimension, value: price.dimensionValue };
  const others = planPrices.filter((p) => p.meter.id === price.meter.id && p.dimensionValue !== null).map((p) => p.dimensionValue!);
  return { dimension, value: null, others: [...new Set(others)].sort() };
}

/** Whether an event whose dimension property reads `value` (null: absent) falls in the slice. */
export function inSlice(slice: DimensionSlice | undefined, value: string | null): boolean {
  if (!slice) return true;
  if (slice.value !== null) return value === slice.value;
  return !slice.others.includes(value ?? '');
}

/** What a slice of a meter is called: `Tokens (model gpt-4o)`, `Tokens (model: other values)` for a default beside priced values, else the meter. */
export function sliceLabel(meter: string, slice: DimensionSlice | undefined): string {
  if (!slice) return meter;
  if (slice.value !== null) return `${meter} (${slice.dimension} ${slice.value})`;
  return slice.others.length === 0 ? meter : `${meter} (${slice.dimension}: other values)`;
}

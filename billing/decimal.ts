import Decimal from 'decimal.js';

/**
 * Ledgerflow's one Decimal constructor. 40 significant digits covers
 * Decimal(24,12) columns times token counts without loss; ROUND_HALF_UP in
 * decimal.js rounds half away from zero, the rule for invoice lines.
 */
export const Dec = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -30, toExpPos: 40 });
export type Dec = InstanceType<typeof Dec>;

export function dec(value: Decimal.Value | { toString(): string }): Dec {
  return new Dec(typeof value === 'object' && !(value instanceof Decimal) ? value.toString() : (value as Decimal.Value));
}

/** Plain decimal string without exponent and without trailing zeros ("1.5", "0.000003"). */
export function toPlainString(value: Dec): string {
  const s = value.toFixed();
  return s === '-0' ? '0' : s;
}

import { Dec, dec } from './decimal';
import { DomainError } from './domain-error';

/**
 * ISO 4217 minor units for the currencies Ledgerflow bills in (lower-case
 * codes, as Stripe spells them). Unknown currencies are refused rather than
 * guessed: a wrong exponent bills 100× too much or too little.
 */
const MINOR_UNITS: Record<string, number> = {
  // zero-decimal
  bif: 0, clp: 0, djf: 0, gnf: 0, isk: 0, jpy: 0, kmf: 0, krw: 0, pyg: 0, rwf: 0, ugx: 0, vnd: 0, vuv: 0, xaf: 0, xof: 0, xpf: 0,
  // three-decimal
  bhd: 3, iqd: 3, jod: 3, kwd: 3, lyd: 3, omr: 3, tnd: 3,
  // two-decimal
  aed: 2, ars: 2, aud: 2, brl: 2, cad: 2, chf: 2, cny: 2, czk: 2, dkk: 2, egp: 2, eur: 2, gbp: 2, hkd: 2, huf: 2, idr: 2,
  ils: 2, inr: 2, mxn: 2, myr: 2, ngn: 2, nok: 2, nzd: 2, php: 2, pln: 2, ron: 2, rub: 2, sar: 2, sek: 2, sgd: 2, thb: 2,
  try: 2, twd: 2, uah: 2, usd: 2, zar: 2,
};

export class UnknownCurrencyError extends DomainError {
  constructor(readonly currency: string) {
    super(`unknown currency "${currency}" (expected an ISO 4217 code such as usd, eur, jpy)`);
  }
}

export function isKnownCurrency(currency: string): boolean {
  return Object.prototype.hasOwnProperty.call(MINOR_UNITS, currency.toLowerCase());
}

export function minorUnits(currency: string): number {
  const units = MINOR_UNITS[currency.toLowerCase()];
  if (units === undefined) throw new UnknownCurrencyError(currency);
  return units;
}

/** Rounds half away from zero to the currency's minor unit; never yields -0. */
export function roundMoney(amount: Dec, currency: string): Dec {
  const rounded = amount.toDecimalPlaces(minorUnits(currency), Dec.ROUND_HALF_UP);
  return rounded.isZero() ? dec(0) : rounded;
}

/** "10.00", "-10.00", "0.00", "1000" (JPY), "1.235" (KWD). */
export function formatMoney(amount: Dec, currency: string): string {
  const s = roundMoney(amount, currency).toFixed(minorUnits(currency));
  return s.startsWith('-') && /^-0(\.0+)?$/.test(s) ? s.slice(1) : s;
}

/**
 * Stripe's `amount` is an integer in the currency's smallest unit, and for
 * most currencies that is the ISO 4217 minor unit. The exceptions, from the
 * "Special cases" of https://docs.stripe.com/currencies (checked 2026-12):
 *
 * - ISK and UGX became zero-decimal, and we bill them in whole units (ISO 4217
 *   has no minor unit for either), but Stripe's API keeps them two-decimal for
 *   backwards compatibility: 5 ISK is sent as 500, and the amount must be a
 *   multiple of 100. UGX is also in Stripe's zero-decimal list, which that
 *   special case overrides; sending 5 for 5 UGX would charge 0.05 UGX.
 * - HUF and TWD are zero-decimal at Stripe for payouts only; charges take
 *   two-decimal amounts (10.45 HUF is 1045). Ledgerflow makes no payouts, so
 *   they follow ISO 4217 here.
 */
const STRIPE_EXPONENT: Record<string, number> = { isk: 2, ugx: 2 };

/** The power of ten Stripe's integer `amount` is expressed in for this currency. */
export function stripeExponent(currency: string): number {
  const units = minorUnits(currency);
  return STRIPE_EXPONENT[currency.toLowerCase()] ?? units;
}

/**
 * An amount as Stripe's integer `amount`, after the per-line rounding to our
 * minor unit: 10.00 USD → 1000, 1000 JPY → 1000, 10.45 HUF → 1045, 5 ISK → 500.
 */
export function toStripeAmount(amount: Dec, currency: string): number {
  const minor = roundMoney(amount, currency).times(dec(10).pow(stripeExponent(currency)));
  if (!minor.isInteger() || minor.abs().gt(Number.MAX_SAFE_INTEGER)) throw new Error(`amount ${amount.toFixed()} ${currency} is out of range`);
  return minor.toNumber() === 0 ? 0 : minor.toNumber();
}

/** Stripe's integer `amount` as a major amount: 1999 usd → 19.99, 1999 jpy → 1999, 500 isk → 5. */
export function fromStripeAmount(amount: Dec, currency: string): Dec {
  return amount.div(dec(10).pow(stripeExponent(currency)));
}

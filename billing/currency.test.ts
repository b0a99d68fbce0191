import { dec } from './decimal';
import { formatMoney, fromStripeAmount, minorUnits, roundMoney, stripeExponent, toStripeAmount, UnknownCurrencyError } from './currency';

describe('currency minor units', () => {
  it('knows ISO 4217 exponents for two-, zero- and three-decimal currencies', () => {
    expect(minorUnits('USD')).toBe(2);
    expect(minorUnits('jpy')).toBe(0);
    expect(minorUnits('kwd')).toBe(3);
  });

  it('refuses an unknown currency instead of guessing', () => {
    expect(() => minorUnits('xyz')).toThrow(UnknownCurrencyError);
  });

  it('rounds half away from zero, in both directions', () => {
    expect(roundMoney(dec('0.125'), 'usd').toFixed()).toBe('0.13');
    expect(roundMoney(dec('-0.125'), 'usd').toFixed()).toBe('-0.13');
    expect(roundMoney(dec('0.124999'), 'usd').toFixed()).toBe('0.12');
    expect(roundMoney(dec('2.5'), 'jpy').toFixed()).toBe('3');
    expect(roundMoney(dec('1.2345'), 'kwd').toFixed()).toBe('1.235');
  });

  it('never formats negative zero', () => {
    expect(formatMoney(dec('-0.001'), 'usd')).toBe('0.00');
    expect(formatMoney(dec('-10'), 'usd')).toBe('-10.00');
    expect(formatMoney(dec('1000'), 'jpy')).toBe('1000');
  });

  it('converts to integer minor units for Stripe', () => {
    expect(toStripeAmount(dec('10.005'), 'usd')).toBe(1001);
    expect(toStripeAmount(dec('1000'), 'jpy')).toBe(1000);
    expect(toStripeAmount(dec('1.2345'), 'kwd')).toBe(1235);
    expect(Object.is(toStripeAmount(dec('-0.001'), 'usd'), 0)).toBe(true);
  });
});

// https://docs.stripe.com/currencies, "Special cases".
describe("Stripe's currency special cases", () => {
  it('ISK is billed in whole krónur and sent two-decimal: 5 ISK is 500, always a multiple of 100', () => {
    expect(minorUnits('isk')).toBe(0);
    expect(stripeExponent('ISK')).toBe(2);
    expect(toStripeAmount(dec('5'), 'isk')).toBe(500);
    // per-line rounding to the whole króna happens before the conversion, so no fraction reaches Stripe
    expect(toStripeAmount(dec('40.10'), 'isk')).toBe(4000);
    expect(toStripeAmount(dec('40.5'), 'isk')).toBe(4100);
    expect(toStripeAmount(dec('-12'), 'isk')).toBe(-1200);
    expect(fromStripeAmount(dec(500), 'isk').toFixed()).toBe('5');
  });

  it("UGX is in Stripe's zero-decimal list, but its special case wins: 5 UGX is sent as 500", () => {
    expect(minorUnits('ugx')).toBe(0);
    expect(stripeExponent('ugx')).toBe(2);
    expect(toStripeAmount(dec('5'), 'ugx')).toBe(500);
    expect(toStripeAmount(dec('1234567.4'), 'ugx')).toBe(123456700);
    expect(toStripeAmount(dec('1234567.4'), 'ugx') % 100).toBe(0);
    expect(fromStripeAmount(dec(123456700), 'ugx').toFixed()).toBe('1234567');
  });

  it('HUF and TWD are zero-decimal at Stripe for payouts only: charges keep two decimals', () => {
    expect(stripeExponent('huf')).toBe(2);
    expect(toStripeAmount(dec('10.45'), 'huf')).toBe(1045);
    expect(fromStripeAmount(dec(1045), 'huf').toFixed()).toBe('10.45');
    expect(stripeExponent('twd')).toBe(2);
    expect(toStripeAmount(dec('800.45'), 'twd')).toBe(80045);
    expect(fromStripeAmount(dec(80045), 'twd').toFixed()).toBe('800.45');
  });

  it('true zero-decimal currencies (JPY, KRW) are sent as they are, and three-decimal ones in thousandths', () => {
    expect(toStripeAmount(dec('500'), 'jpy')).toBe(500);
    expect(toStripeAmount(dec('12000'), 'krw')).toBe(12000);
    expect(fromStripeAmount(dec(500), 'jpy').toFixed()).toBe('500');
    expect(fromStripeAmount(dec(1999), 'kwd').toFixed()).toBe('1.999');
  });

  it('refuses a currency it does not know instead of guessing an exponent', () => {
    expect(() => toStripeAmount(dec('1'), 'xyz')).toThrow(UnknownCurrencyError);
    expect(() => fromStripeAmount(dec(1), 'xyz')).toThrow(UnknownCurrencyError);
  });
});

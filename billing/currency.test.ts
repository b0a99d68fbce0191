import { dec } from './decimal';
import { formatMoney, minorUnits, roundMoney, toMinorUnits, UnknownCurrencyError } from './currency';

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
    expect(toMinorUnits(dec('10.005'), 'usd')).toBe(1001);
    expect(toMinorUnits(dec('1000'), 'jpy')).toBe(1000);
    expect(toMinorUnits(dec('1.2345'), 'kwd')).toBe(1235);
    expect(Object.is(toMinorUnits(dec('-0.001'), 'usd'), 0)).toBe(true);
  });
});

import { ApplicationFailure } from '@temporalio/common';
import { UnknownCurrencyError } from '../billing/currency';
import { InvalidPriceError } from '../billing/price-models';
import { asTemporalFailure, failingFastOnBadData } from './domain-failures';

describe('asTemporalFailure', () => {
  it('makes a billing rule refusing its input a non-retryable failure typed by the rule', () => {
    const failure = asTemporalFailure(new InvalidPriceError('price.tiers', 'tiers must not be empty'));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ message: 'tiers must not be empty', type: 'InvalidPriceError', nonRetryable: true });
    expect(asTemporalFailure(new UnknownCurrencyError('xyz'))).toMatchObject({ type: 'UnknownCurrencyError', nonRetryable: true });
  });

  it("makes PostgreSQL's data exceptions (SQLSTATE class 22) non-retryable, naming what it refused", () => {
    const nul = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
    expect(asTemporalFailure(nul)).toMatchObject({ type: 'InvalidData', nonRetryable: true, message: 'the database refused a value (SQLSTATE 22021): invalid byte sequence for encoding "UTF8": 0x00' });
  });

  it('leaves outages, bugs and failures already typed to the retry policy', () => {
    const outage = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const typed = ApplicationFailure.retryable('Stripe answered 500', 'StripeUnavailable');
    const bug = new TypeError('x is undefined');
    for (const err of [outage, deadlock, typed, bug]) expect(asTemporalFailure(err)).toBe(err);
  });
});

describe('failingFastOnBadData', () => {
  it('passes results through and converts what each activity throws', async () => {
    const activities = failingFastOnBadData({
      ok: async (a: number, b: number) => a + b,
      bad: async () => {
        throw new InvalidPriceError('quantity', 'quantity must not be negative');
      },
    });
    await expect(activities.ok(2, 3)).resolves.toBe(5);
    await expect(activities.bad()).rejects.toMatchObject({ type: 'InvalidPriceError', nonRetryable: true });
  });
});

import { formatMoney, UnknownCurrencyError } from './currency';
import { dec } from './decimal';
import { monthlyAmount, summarizeRevenue, type RevenueInput } from './revenue';

const empty: RevenueInput = { baseFees: [], activeCustomers: [], paidInvoices: [], otherChargesMinor: [], refundsMinor: [] };

/** Figures as the API prints them, so expectations read like the response. */
function printed(input: Partial<RevenueInput>) {
  return summarizeRevenue({ ...empty, ...input }).map((r) => ({
    currency: r.currency,
    mrr: formatMoney(r.mrr, r.currency),
    arr: formatMoney(r.arr, r.currency),
    active_customers: r.activeCustomers,
    total_collected: formatMoney(r.totalCollected, r.currency),
  }));
}

describe('monthlyAmount', () => {
  test('a month is itself, a quarter a third, a year a twelfth, unrounded', () => {
    expect(monthlyAmount(dec('49'), 'month').toFixed()).toBe('49');
    expect(monthlyAmount(dec('90'), 'quarter').toFixed()).toBe('30');
    expect(monthlyAmount(dec('1200'), 'year').toFixed()).toBe('100');
    expect(monthlyAmount(dec('100'), 'year').toFixed(10)).toBe('8.3333333333');
  });
});

describe('summarizeRevenue', () => {
  test('MRR normalises month, quarter and year fees and rounds once at the end; ARR is 12 × the exact MRR', () => {
    // 10 + 10/3 + 10/12 = 14.1666… → 14.17; ×12 = 170.00 exactly.
    const rows = printed({
      baseFees: [
        { currency: 'usd', interval: 'month', baseFees: dec('10') },
        { currency: 'usd', interval: 'quarter', baseFees: dec('10') },
        { currency: 'usd', interval: 'year', baseFees: dec('10') },
      ],
      activeCustomers: [{ currency: 'usd', customers: 3 }],
    });
    expect(rows).toEqual([{ currency: 'usd', mrr: '14.17', arr: '170.00', active_customers: 3, total_collected: '0.00' }]);
  });

  test('rounding each subscription first would drift; summing first does not', () => {
    // Three yearly 1.00 fees: each 0.0833… would round to 0.08 (0.24); the exact sum 0.25 stays.
    const rows = printed({ baseFees: [{ currency: 'eur', interval: 'year', baseFees: dec('3') }] });
    expect(rows[0]).toMatchObject({ mrr: '0.25', arr: '3.00' });
  });

  test('JPY has no minor unit: MRR rounds to whole yen and charges are not divided by 100', () => {
    const rows = printed({
      baseFees: [{ currency: 'JPY', interval: 'year', baseFees: dec('10000') }],
      activeCustomers: [{ currency: 'jpy', customers: 1 }],
      otherChargesMinor: [{ currency: 'jpy', amount: dec(5000) }],
      refundsMinor: [{ currency: 'jpy', amount: dec(1200) }],
    });
    // 10000 / 12 = 833.33… → 833
    expect(rows).toEqual([{ currency: 'jpy', mrr: '833', arr: '10000', active_customers: 1, total_collected: '3800' }]);
  });

  test('total collected = paid invoices + other charges − refunds, with minor units converted per currency', () => {
    const rows = printed({
      paidInvoices: [{ currency: 'usd', amount: dec('120.50') }],
      otherChargesMinor: [{ currency: 'usd', amount: dec(1999) }],
      refundsMinor: [{ currency: 'usd', amount: dec(500) }],
    });
    expect(rows).toEqual([{ currency: 'usd', mrr: '0.00', arr: '0.00', active_customers: 0, total_collected: '135.49' }]);
  });

  test("Stripe's ISK and UGX amounts are two-decimal although the currencies are billed in whole units", () => {
    const rows = printed({
      paidInvoices: [{ currency: 'isk', amount: dec('1500') }],
      otherChargesMinor: [{ currency: 'isk', amount: dec(50000) }, { currency: 'ugx', amount: dec(370000) }],
      refundsMinor: [{ currency: 'isk', amount: dec(20000) }],
    });
    expect(rows.map((r) => [r.currency, r.total_collected])).toEqual([
      ['isk', '1800'],
      ['ugx', '3700'],
    ]);
  });

  test('currencies are kept apart and listed in order', () => {
    const rows = printed({
      baseFees: [
        { currency: 'usd', interval: 'month', baseFees: dec('5') },
        { currency: 'eur', interval: 'month', baseFees: dec('7') },
      ],
      paidInvoices: [{ currency: 'gbp', amount: dec('1') }],
    });
    expect(rows.map((r) => [r.currency, r.mrr, r.total_collected])).toEqual([
      ['eur', '7.00', '0.00'],
      ['gbp', '0.00', '1.00'],
      ['usd', '5.00', '0.00'],
    ]);
  });

  test('no subscriptions and no money: no rows', () => {
    expect(summarizeRevenue(empty)).toEqual([]);
  });

  test('an unknown currency is refused rather than guessed', () => {
    expect(() => summarizeRevenue({ ...empty, otherChargesMinor: [{ currency: 'xyz', amount: dec(1) }] })).toThrow(UnknownCurrencyError);
  });
});

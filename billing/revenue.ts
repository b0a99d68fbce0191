import { fromStripeAmount, minorUnits, roundMoney } from './currency';
import { dec, type Dec } from './decimal';

/**
 * Revenue figures per currency: recurring revenue from active subscriptions'
 * base fees, and money actually collected. Everything stays exact until the
 * end, where each figure is rounded once to the currency's minor unit.
 */

export type PlanInterval = 'month' | 'quarter' | 'year';

const MONTHS_PER_INTERVAL: Record<PlanInterval, number> = { month: 1, quarter: 3, year: 12 };

/** A base fee per interval as a fee per month, unrounded (a year's 100.00 is 8.333…). */
export function monthlyAmount(fee: Dec, interval: PlanInterval): Dec {
  return fee.div(MONTHS_PER_INTERVAL[interval]);
}

/** The sum of active subscriptions' base fees in one currency and interval. */
export interface BaseFeeSum {
  currency: string;
  interval: PlanInterval;
  baseFees: Dec;
}

/** Distinct customers with an active subscription in one currency. */
export interface ActiveCustomerCount {
  currency: string;
  customers: number;
}

/** Money in or out in one currency, from one source; major units unless the source says minor. */
export interface CurrencyAmount {
  currency: string;
  amount: Dec;
}

export interface RevenueInput {
  baseFees: BaseFeeSum[];
  activeCustomers: ActiveCustomerCount[];
  /** totals of paid invoices, major units */
  paidInvoices: CurrencyAmount[];
  /** Stripe charges not tied to one of our invoices, minor units */
  otherChargesMinor: CurrencyAmount[];
  /** Stripe refunds, minor units, positive */
  refundsMinor: CurrencyAmount[];
}

export interface RevenueFigures {
  currency: string;
  mrr: Dec;
  arr: Dec;
  activeCustomers: number;
  totalCollected: Dec;
}

interface Accumulator {
  mrr: Dec;
  activeCustomers: number;
  collected: Dec;
}

/**
 * One row per currency that has subscriptions or collected money, sorted by
 * currency. ARR is twelve times the exact MRR, rounded on its own, so a
 * yearly 100.00 plan shows MRR 8.33 and ARR 100.00 rather than 99.96.
 */
export function summarizeRevenue(input: RevenueInput): RevenueFigures[] {
  const byCurrency = new Map<string, Accumulator>();
  const at = (currency: string): Accumulator => {
    const key = currency.toLowerCase();
    let acc = byCurrency.get(key);
    if (!acc) {
      // Refuses unknown currencies up front: a wrong exponent misstates every figure.
      minorUnits(key);
      acc = { mrr: dec(0), activeCustomers: 0, collected: dec(0) };
      byCurrency.set(key, acc);
    }
    return acc;
  };

  for (const row of input.baseFees) {
    const acc = at(row.currency);
    acc.mrr = acc.mrr.plus(monthlyAmount(row.baseFees, row.interval));
  }
  for (const row of input.activeCustomers) at(row.currency).activeCustomers += row.customers;
  for (const row of input.paidInvoices) {
    const acc = at(row.currency);
    acc.collected = acc.collected.plus(row.amount);
  }
  for (const row of input.otherChargesMinor) {
    const acc = at(row.currency);
    acc.collected = acc.collected.plus(fromStripeAmount(row.amount, row.currency));
  }
  for (const row of input.refundsMinor) {
    const acc = at(row.currency);
    acc.collected = acc.collected.minus(fromStripeAmount(row.amount, row.currency));
  }

  return [...byCurrency.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([currency, acc]) => ({
      currency,
      mrr: roundMoney(acc.mrr, currency),
      arr: roundMoney(acc.mrr.times(12), currency),
      activeCustomers: acc.activeCustomers,
      totalCollected: roundMoney(acc.collected, currency),
    }));
}

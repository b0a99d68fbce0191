import { Dec, dec } from './decimal';
import { roundMoney } from './currency';
import { DomainError } from './domain-error';

export type ProrationMode = 'day' | 'second';

export interface ProrationInput {
  periodStart: Date;
  /** exclusive */
  periodEnd: Date;
  changeAt: Date;
  /** base fee of the old plan for the whole period (0 for a new start) */
  fromAmount: Dec;
  /** base fee of the new plan for the whole period (0 for a cancellation) */
  toAmount: Dec;
  currency: string;
  mode?: ProrationMode;
}

export interface Proration {
  /** ≤ 0: the unused part of the old fee, rounded on its own */
  credit: Dec;
  /** ≥ 0: the remaining part of the new fee, rounded on its own */
  charge: Dec;
  net: Dec;
  /** units remaining and in the period: UTC calendar days, or seconds */
  remaining: number;
  total: number;
  fraction: Dec;
}

const DAY_MS = 86_400_000;

export class InvalidProrationError extends DomainError {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/** Whole UTC calendar days from a to b (a's day inclusive, b's day exclusive). */
export function utcDaysBetween(a: Date, b: Date): number {
  const dayA = Math.floor(a.getTime() / DAY_MS);
  const dayB = Math.floor(b.getTime() / DAY_MS);
  return dayB - dayA;
}

/**
 * fraction = time from the change (inclusive) to the period end (exclusive)
 * ÷ the period's length, in UTC days or in seconds. The credit for the old
 * fee and the charge for the new one are each rounded on their own.
 */
export function prorate(input: ProrationInput): Proration {
  const { periodStart, periodEnd, changeAt } = input;
  if (periodEnd.getTime() <= periodStart.getTime()) throw new InvalidProrationError('period_end', 'period_end must be after period_start');
  if (changeAt.getTime() < periodStart.getTime() || changeAt.getTime() >= periodEnd.getTime()) {
    throw new InvalidProrationError('change_at', 'change_at must fall within the period (period_start inclusive, period_end exclusive)');
  }
  if (input.fromAmount.isNegative()) throw new InvalidProrationError('from_amount', 'from_amount must not be negative');
  if (input.toAmount.isNegative()) throw new InvalidProrationError('to_amount', 'to_amount must not be negative');
  const mode = input.mode ?? 'day';
  const [remaining, total] =
    mode === 'day'
      ? [utcDaysBetween(changeAt, periodEnd), utcDaysBetween(periodStart, periodEnd)]
      : [Math.floor((periodEnd.getTime() - changeAt.getTime()) / 1000), Math.floor((periodEnd.getTime() - periodStart.getTime()) / 1000)];
  if (total === 0) {
    throw new InvalidProrationError('period_end', mode === 'day' ? 'the period must span at least one UTC calendar day in day mode' : 'the period must be at least one second long');
  }
  const fraction = dec(remaining).div(total);
  const credit = roundMoney(input.fromAmount.times(fraction).negated(), input.currency);
  const charge = roundMoney(input.toAmount.times(fraction), input.currency);
  return { credit, charge, net: credit.plus(charge), remaining, total, fraction };
}

export type { Dec };

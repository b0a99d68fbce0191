import { formatMoney } from '../../../billing/currency';
import { dec } from '../../../billing/decimal';

/** "137.00 USD": amounts leave the server as formatted strings, never floats. */
export function money(amount: { toString(): string }, currency: string): string {
  return `${formatMoney(dec(amount.toString()), currency)} ${currency.toUpperCase()}`;
}

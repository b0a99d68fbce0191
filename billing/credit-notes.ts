import { formatMoney, minorUnits } from './currency';
import { dec, type Dec } from './decimal';
import { DomainError } from './domain-error';
import type { InvoiceStatus } from './invoice-status';

/** Invoices a credit note can be issued on: finalized in Stripe, whether paid yet or not. */
export const CREDITABLE_STATUSES = ['finalized', 'paid', 'uncollectible'] as const satisfies readonly InvoiceStatus[];

/** A credit note finance asked for that cannot be issued; `field` names what to change. */
export class CreditNoteRefused extends DomainError {
  constructor(
    readonly field: 'amount' | 'invoice',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The amount a credit note credits: what was asked (`null`: everything not
 * yet credited), exact to the currency's minor unit, more than zero and no
 * more than the invoice total less the notes already issued or pending.
 */
export function creditNoteAmount(input: { invoiceTotal: Dec; alreadyCredited: Dec; requested: Dec | null; currency: string }): Dec {
  const left = input.invoiceTotal.minus(input.alreadyCredited);
  const money = (d: Dec) => formatMoney(d, input.currency);
  if (left.lte(0)) throw new CreditNoteRefused('invoice', `the invoice (${money(input.invoiceTotal)}) is credited in full already`);
  if (input.requested === null) return left;
  const amount = dec(input.requested);
  if (amount.lte(0)) throw new CreditNoteRefused('amount', `amount must be more than zero (got ${amount.toFixed()})`);
  if (amount.decimalPlaces() > minorUnits(input.currency)) {
    throw new CreditNoteRefused('amount', `amount ${amount.toFixed()} has more decimals than ${input.currency.toUpperCase()} has (${minorUnits(input.currency)})`);
  }
  if (amount.gt(left)) throw new CreditNoteRefused('amount', `amount ${money(amount)} is more than the ${money(left)} left to credit on this invoice`);
  return amount;
}

/** Credited in full: the issued notes add up to the total (nothing, for an invoice settled at zero) and none is still pending: nothing is owed on it. */
export function creditedInFull(invoice: { status: InvoiceStatus; total: Dec; credited: Dec; pendingCredits: number }): boolean {
  return (CREDITABLE_STATUSES as readonly InvoiceStatus[]).includes(invoice.status) && invoice.pendingCredits === 0 && invoice.credited.gte(invoice.total);
}

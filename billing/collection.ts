/*
 * How a finalized invoice is collected (issue 14, point 5). A card cannot be
 * charged when the customer never gave one: such a customer is sent the
 * invoice with a due date instead of a charge that must fail.
 */

export type CollectionSetting = 'auto' | 'send_invoice';
export type CollectionMethod = 'charge_automatically' | 'send_invoice';

/**
 * What the customer has on file in Stripe: a payment method invoices use
 * already (the customer's invoice default, or a legacy default source), one
 * attached but not the invoice default (a card saved through a Checkout
 * session in setup mode is left so), or none.
 */
export type CardOnFile = { kind: 'default' } | { kind: 'attached'; paymentMethodId: string } | { kind: 'none' };

export interface CollectionDecision {
  method: CollectionMethod;
  /** an attached payment method to make the customer's invoice default before charging, so every attempt uses it */
  makeDefault: string | null;
}

const DAY_MS = 86_400_000;

export function decideCollection(setting: CollectionSetting, card: CardOnFile): CollectionDecision {
  if (setting === 'send_invoice' || card.kind === 'none') return { method: 'send_invoice', makeDefault: null };
  return { method: 'charge_automatically', makeDefault: card.kind === 'attached' ? card.paymentMethodId : null };
}

/**
 * A sent invoice is due `dueDays` after it is finalized, to the second
 * (Stripe keeps whole seconds): set on the draft just before it is
 * finalized, so an invoice finalized late (a run retried days after its
 * first attempt) still gives the customer the whole term.
 */
export function dueDateAt(finalizingAt: Date, dueDays: number): Date {
  return new Date(Math.floor(finalizingAt.getTime() / 1000) * 1000 + dueDays * DAY_MS);
}

export function isCollectionSetting(value: string): value is CollectionSetting {
  return value === 'auto' || value === 'send_invoice';
}

/**
 * When a sent invoice still unpaid is looked at again: at its due date, then
 * on each retry day counted from the due date (the organization's
 * payment_retry_days). Each but the last tells finance it is overdue; at the
 * last it is written off as uncollectible.
 */
export function sentInvoiceCheckpoints(dueAtMs: number, retryDays: readonly number[]): number[] {
  return [dueAtMs, ...retryDays.map((day) => dueAtMs + day * DAY_MS)];
}

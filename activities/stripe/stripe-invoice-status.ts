import type Stripe from 'stripe';
import { callStripe } from './errors';

/**
 * The status of an invoice in Stripe. Read after Stripe refuses a state
 * change, to tell "already done" (paid, uncollectible) from a real refusal
 * without parsing error messages.
 */
export async function stripeInvoiceStatus(stripe: Stripe, stripeInvoiceId: string): Promise<Stripe.Invoice.Status | null> {
  const current = await callStripe(() => stripe.invoices.retrieve(stripeInvoiceId));
  return current.status;
}

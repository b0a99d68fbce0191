import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import type { CardOnFile } from '../../billing/collection';
import type { PrismaClient } from '../../prisma/client';
import { callStripe } from './errors';

export interface CustomerForStripe {
  id: string;
  organizationId: string;
  externalId: string;
  name: string | null;
  email: string | null;
  stripeCustomerId: string | null;
}

/**
 * The customer's Stripe customer, made the first time one is needed (an
 * invoice to finalize, a card to save). The idempotency key is our
 * customer's id and only the first writer's id is kept, so concurrent
 * callers end with one Stripe customer.
 */
export async function ensureStripeCustomer(stripe: Stripe, prisma: PrismaClient, customer: CustomerForStripe): Promise<string> {
  if (customer.stripeCustomerId) return customer.stripeCustomerId;
  const created = await callStripe(() =>
    stripe.customers.create(
      {
        name: customer.name ?? customer.externalId,
        ...(customer.email && { email: customer.email }),
        metadata: { ledgerflow_customer_id: customer.id, ledgerflow_organization_id: customer.organizationId, ledgerflow_external_id: customer.externalId },
      },
      { idempotencyKey: `ledgerflow-customer-${customer.id}` },
    ),
  );
  // Only the first writer wins; a concurrent caller for the same customer reads its id back.
  await prisma.customer.updateMany({ where: { id: customer.id, stripeCustomerId: null }, data: { stripeCustomerId: created.id } });
  const stored = await prisma.customer.findUniqueOrThrow({ where: { id: customer.id }, select: { stripeCustomerId: true } });
  return stored.stripeCustomerId ?? created.id;
}

/** What the Stripe customer has to pay with: an invoice default, a saved payment method that is not the default yet, or nothing. */
export async function cardOnFile(stripe: Stripe, stripeCustomerId: string): Promise<CardOnFile> {
  const customer = await callStripe(() => stripe.customers.retrieve(stripeCustomerId));
  if ('deleted' in customer && customer.deleted) return { kind: 'none' };
  const live = customer as Stripe.Customer;
  if (live.invoice_settings?.default_payment_method || live.default_source) return { kind: 'default' };
  const saved = await callStripe(() => stripe.customers.listPaymentMethods(stripeCustomerId, { limit: 1 }));
  const first = saved.data[0];
  return first ? { kind: 'attached', paymentMethodId: first.id } : { kind: 'none' };
}

/**
 * Stripe emails a sent invoice to its customer's address and refuses to
 * finalize one for a customer without an address. A Stripe customer with
 * none gets our customer's billing email; with neither, the invoice cannot
 * be sent and the run fails saying which field to fill in (or to save a card).
 */
export async function ensureInvoiceEmail(stripe: Stripe, stripeCustomerId: string, customer: { id: string; externalId: string; email: string | null }): Promise<void> {
  const found = await callStripe(() => stripe.customers.retrieve(stripeCustomerId));
  if (!('deleted' in found && found.deleted) && (found as Stripe.Customer).email) return;
  if (!customer.email) {
    throw ApplicationFailure.nonRetryable(
      `customer ${customer.externalId} has no billing email, and its invoice is to be sent (no card on file, or invoice_collection send_invoice): set the customer's email (PATCH /api/v1/customers/${customer.externalId}) or have them save a card, then retry the billing run`,
      'CustomerWithoutEmail',
    );
  }
  const email = customer.email;
  const key = createHash('sha256').update(email).digest('hex').slice(0, 16);
  await callStripe(() => stripe.customers.update(stripeCustomerId, { email }, { idempotencyKey: `ledgerflow-customer-email-${customer.id}-${key}` }));
}

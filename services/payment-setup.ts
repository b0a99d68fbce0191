import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import 'zod-openapi';
import type { AuditActor } from '../prisma/audit';
import { PAYMENT_SETUP_REFUSALS, requestPaymentSetup, type PaymentSetupSession } from '../temporal/payment-setup';
import type { CustomerUpdateDeps } from './customers';
import { DomainError, stripeWorkerFailure } from './errors';
import { currencyCode } from './schemas/currency';

/*
 * A link where a customer saves a card for their invoices: a hosted Stripe
 * Checkout page in setup mode, opened by the worker. Until a customer has a
 * card, their invoices are sent to pay by a due date (the organization's
 * invoice_collection setting, auto); the first invoice finalized after the
 * card is saved is charged to it. Audited as customer.payment_setup_started.
 */

const pageUrl = (description: string, example: string) =>
  z
    .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL, like https://app.example.com/billing/card-saved' })
    .max(2048, 'must be at most 2048 characters')
    .meta({ description, example });

export const PaymentSetupRequestSchema = z
  .strictObject({
    success_url: pageUrl('Where Stripe sends the customer once the card is saved', 'https://app.example.com/billing/card-saved'),
    cancel_url: pageUrl('Where Stripe sends the customer who goes back without saving a card; absent: Checkout shows no back link', 'https://app.example.com/billing').optional(),
    currency: currencyCode
      .optional()
      .meta({ description: "The currency the customer is invoiced in (Stripe offers the payment methods that can pay it); absent: the currency of the customer's latest subscription", example: 'usd' }),
    request_key: z
      .string()
      .trim()
      .min(1)
      .max(255)
      .optional()
      .meta({
        description: 'Your key for this request: sent again (after a 202, or a lost answer) with the same body, it answers the same page within 24 hours instead of opening a second one',
        example: 'card-setup-acme-2026-12',
      }),
  })
  .meta({ id: 'PaymentSetupRequest' });
export type PaymentSetupInput = z.output<typeof PaymentSetupRequestSchema>;

export const PaymentSetupSessionSchema = z
  .object({
    checkout_session_id: z.string().meta({ example: 'cs_test_a1b2c3' }),
    url: z.string().meta({ description: 'The hosted Stripe page to send the customer to', example: 'https://checkout.stripe.com/c/pay/cs_test_a1b2c3' }),
    expires_at: z.string().meta({ description: 'When the page stops working (ISO 8601)', example: '2026-12-05T12:00:00.000Z' }),
    stripe_customer_id: z.string().meta({ description: 'The Stripe customer the card is saved to (made now if the customer had none)', example: 'cus_NffrFeUfNV2Hib' }),
    workflow_id: z.string().meta({ example: 'payment-setup:5b0c…:9f1e…' }),
  })
  .meta({ id: 'PaymentSetupSession' });

export type PaymentSetupOutcome = { kind: 'created'; session: PaymentSetupSession; workflowId: string } | { kind: 'pending'; workflowId: string };

export function paymentSetupJson(session: PaymentSetupSession, workflowId: string): z.input<typeof PaymentSetupSessionSchema> {
  return { checkout_session_id: session.sessionId, url: session.url, expires_at: session.expiresAt, stripe_customer_id: session.stripeCustomerId, workflow_id: workflowId };
}

export async function startPaymentSetup(deps: CustomerUpdateDeps, organizationId: string, externalId: string, input: PaymentSetupInput, actor: AuditActor): Promise<PaymentSetupOutcome> {
  const customer = await deps.prisma.customer.findUnique({ where: { organizationId_externalId: { organizationId, externalId } }, select: { id: true } });
  if (!customer) throw new DomainError('not_found', 'NOT_FOUND', `No customer ${externalId}`);
  const currency = input.currency ?? (await latestSubscriptionCurrency(deps, customer.id));
  if (!currency) throw new DomainError('invalid', 'VALIDATION_ERROR', `currency: customer ${externalId} has no subscription to take it from; say which currency the card will pay`, 'currency');
  const body = { successUrl: input.success_url, cancelUrl: input.cancel_url ?? null, currency };
  // A key of the caller's is per customer; hashed, it fits Stripe's idempotency keys and workflow ids whatever its length.
  const hash = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
  const keyed = input.request_key ? { requestId: hash(customer.id, input.request_key), workflowKey: hash(customer.id, input.request_key, JSON.stringify(body)) } : { requestId: randomUUID() };
  const answer = await requestPaymentSetup(deps, { organizationId, customerId: customer.id, ...body, actor, ...keyed });
  switch (answer.kind) {
    case 'done':
      return { kind: 'created', session: answer.result, workflowId: answer.workflowId };
    case 'pending':
      return { kind: 'pending', workflowId: answer.workflowId };
    case 'in_progress':
      // Not answered here: a request sent again joins the running one (joinRunning).
      throw new DomainError('conflict', 'IN_PROGRESS', `a card setup page for ${externalId} is being opened (${answer.workflowId})`);
    case 'refused':
      if (answer.type === PAYMENT_SETUP_REFUSALS.notFound) throw new DomainError('not_found', 'NOT_FOUND', `No customer ${externalId}`);
      if (answer.type === 'StripeIdempotencyError') {
        throw new DomainError('conflict', 'REQUEST_KEY_REUSED', `request_key: ${input.request_key ?? ''} was sent before with a different request; send a new key for a new page`, 'request_key');
      }
      if (answer.type === 'StripeInvalidRequestError') throw new DomainError('invalid', 'STRIPE_REFUSED', `Stripe refused the Checkout session: ${answer.message}`);
      throw stripeWorkerFailure(answer, 'no link was opened');
  }
}

async function latestSubscriptionCurrency(deps: CustomerUpdateDeps, customerId: string): Promise<string | null> {
  const latest = await deps.prisma.subscription.findFirst({ where: { customerId }, orderBy: { startDate: 'desc' }, select: { plan: { select: { currency: true } } } });
  return latest?.plan.currency ?? null;
}

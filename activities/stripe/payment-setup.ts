import { ApplicationFailure } from '@temporalio/common';
import { writeAudit } from '../../prisma/audit';
import { PAYMENT_SETUP_REFUSALS, type PaymentSetupRequest, type PaymentSetupSession } from '../../temporal/payment-setup';
import type { ActivityDeps } from '../deps';
import { ensureStripeCustomer } from './customers';
import { callStripe, stripeAccountOf } from './errors';

/**
 * A Stripe Checkout session in setup mode for one of our customers: Stripe's
 * hosted page saves a card to the customer's Stripe customer (made now if
 * the customer has none yet). The next invoice finalized for them is then
 * charged to that card instead of being sent (activities/stripe/finalize-invoice.ts
 * makes a saved card the invoice default). Audited with the session id.
 */
export function createPaymentSetupSession(deps: ActivityDeps) {
  return async function createPaymentSetupSession(request: PaymentSetupRequest): Promise<PaymentSetupSession> {
    const { stripe } = await stripeAccountOf(deps, request.organizationId);
    const customer = await deps.prisma.customer.findFirst({ where: { id: request.customerId, organizationId: request.organizationId } });
    if (!customer) throw ApplicationFailure.nonRetryable(`customer ${request.customerId} not found in organization ${request.organizationId}`, PAYMENT_SETUP_REFUSALS.notFound);
    const stripeCustomerId = await ensureStripeCustomer(stripe, deps.prisma, customer);
    const session = await callStripe(() =>
      stripe.checkout.sessions.create(
        {
          mode: 'setup',
          customer: stripeCustomerId,
          // Stripe offers the payment methods the account has turned on for this currency
          currency: request.currency.toLowerCase(),
          success_url: request.successUrl,
          ...(request.cancelUrl ? { cancel_url: request.cancelUrl } : {}),
          metadata: { ledgerflow_customer_id: customer.id, ledgerflow_organization_id: request.organizationId },
        },
        { idempotencyKey: `ledgerflow-payment-setup-${request.requestId}` },
      ),
    );
    if (!session.url) throw ApplicationFailure.nonRetryable(`Stripe opened Checkout session ${session.id} without a page to send the customer to`, 'CheckoutWithoutUrl');
    const result: PaymentSetupSession = { sessionId: session.id, url: session.url, expiresAt: new Date(session.expires_at * 1000).toISOString(), stripeCustomerId };
    // A retried activity opens the same session (same key): one audit row for it.
    const logged = await deps.prisma.auditLog.count({ where: { organizationId: request.organizationId, entityType: 'customer', entityId: customer.id, action: 'customer.payment_setup_started', after: { path: ['checkout_session_id'], equals: session.id } } });
    if (logged === 0) {
      await writeAudit(deps.prisma, {
        organizationId: request.organizationId,
        actor: request.actor,
        action: 'customer.payment_setup_started',
        entityType: 'customer',
        entityId: customer.id,
        after: { checkout_session_id: session.id, stripe_customer_id: stripeCustomerId, expires_at: result.expiresAt },
      });
    }
    return result;
  };
}

import { ApplicationFailure } from '@temporalio/common';
import { writeAudit, type AuditActor } from '../../prisma/audit';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { callStripe, requireStripe } from './errors';

export interface LinkStripeCustomerInput {
  organizationId: string;
  customerId: string;
  stripeCustomerId: string;
  /** the link the request saw (null: none); another one found means it changed meanwhile */
  expectedCurrent: string | null;
  actor: AuditActor;
}

export interface LinkStripeCustomerResult {
  stripeCustomerId: string;
  /** as Stripe has them */
  name: string | null;
  email: string | null;
}

/**
 * Links one of our customers to a customer that already exists in the
 * organization's Stripe account: Stripe is asked for it first (a missing or
 * deleted customer is refused for good, naming the id), then the link is
 * written over the one the request saw, with an audit row, in one
 * transaction. Repeated after it succeeded, it finds the link in place and
 * writes nothing.
 */
export function linkStripeCustomer(deps: ActivityDeps) {
  return async function linkStripeCustomer(input: LinkStripeCustomerInput): Promise<LinkStripeCustomerResult> {
    const stripe = await requireStripe(deps, input.organizationId);
    const found = await callStripe(() => stripe.customers.retrieve(input.stripeCustomerId));
    if ('deleted' in found && found.deleted) {
      throw ApplicationFailure.nonRetryable(`Stripe customer ${input.stripeCustomerId} is deleted; link a customer that exists`, 'StripeCustomerDeleted');
    }
    const live = found as { name?: string | null; email?: string | null };
    await deps.prisma.$transaction(async (tx) => {
      const now = await tx.customer.findFirst({ where: { id: input.customerId, organizationId: input.organizationId }, select: { stripeCustomerId: true } });
      if (!now) throw ApplicationFailure.nonRetryable(`customer ${input.customerId} not found in organization ${input.organizationId}`, 'CustomerNotFound');
      if (now.stripeCustomerId === input.stripeCustomerId) return;
      if (now.stripeCustomerId !== input.expectedCurrent) {
        throw ApplicationFailure.nonRetryable(
          `the customer's Stripe link changed meanwhile (now ${now.stripeCustomerId ?? 'none'}: a billing run created its Stripe customer, or another link); read the customer and decide again`,
          'StripeLinkChanged',
        );
      }
      await tx.customer.update({ where: { id: input.customerId }, data: { stripeCustomerId: input.stripeCustomerId } });
      await writeAudit(tx, {
        organizationId: input.organizationId,
        actor: input.actor,
        action: 'customer.stripe_linked',
        entityType: 'customer',
        entityId: input.customerId,
        before: { stripe_customer_id: input.expectedCurrent },
        after: { stripe_customer_id: input.stripeCustomerId },
      });
    }, TX_OPTIONS);
    return { stripeCustomerId: input.stripeCustomerId, name: live.name ?? null, email: live.email ?? null };
  };
}

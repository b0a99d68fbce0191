import { ApplicationFailure } from '@temporalio/common';
import { writeAudit, type AuditActor } from '../../prisma/audit';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { LINK_REFUSALS } from '../../temporal/stripe-links';
import { callStripe, stripeAccountOf } from './errors';

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
 * organization's Stripe account. Stripe is asked for it first: a missing or
 * deleted customer is refused for good, and in the worker's own account,
 * which organizations share, only a customer Ledgerflow made for this
 * organization (its metadata says so) may be linked. Then, in one
 * transaction holding the customer's row and the Stripe id:
 * - a Stripe customer another of our customers holds is refused (their
 *   balances and cards would mix);
 * - a customer with an invoice in Stripe, or one approved and about to be
 *   finalized, keeps its Stripe customer (its history stays in one place);
 * - the link is written over the one the request saw, never over another
 *   (a billing run may have created one meanwhile), with an audit row.
 * Repeated after it succeeded, it finds the link in place and writes nothing.
 */
export function linkStripeCustomer(deps: ActivityDeps) {
  return async function linkStripeCustomer(input: LinkStripeCustomerInput): Promise<LinkStripeCustomerResult> {
    const refuse = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);
    const { stripe, own } = await stripeAccountOf(deps, input.organizationId);
    const found = await callStripe(() => stripe.customers.retrieve(input.stripeCustomerId));
    if ('deleted' in found && found.deleted) throw refuse(`Stripe customer ${input.stripeCustomerId} is deleted; link a customer that exists`, LINK_REFUSALS.deleted);
    const live = found as { name?: string | null; email?: string | null; metadata?: Record<string, string> };
    if (!own && live.metadata?.ledgerflow_organization_id !== input.organizationId) {
      throw refuse(
        `Stripe customer ${input.stripeCustomerId} is in the Stripe account organizations share and was not made for yours; set your organization's own Stripe key to link customers of your account`,
        LINK_REFUSALS.otherOrganization,
      );
    }
    await deps.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`stripe-customer:${input.stripeCustomerId}`}, 0))`;
      const [now] = await tx.$queryRaw<{ stripe_customer_id: string | null }[]>`
        SELECT stripe_customer_id FROM customers WHERE id = ${input.customerId}::uuid AND organization_id = ${input.organizationId}::uuid FOR UPDATE`;
      if (!now) throw refuse(`customer ${input.customerId} not found in organization ${input.organizationId}`, LINK_REFUSALS.notFound);
      if (now.stripe_customer_id === input.stripeCustomerId) return;
      if (now.stripe_customer_id !== input.expectedCurrent) {
        throw refuse(
          `the customer's Stripe link changed meanwhile (now ${now.stripe_customer_id ?? 'none'}: a billing run created its Stripe customer, or another link); read the customer and decide again`,
          LINK_REFUSALS.changed,
        );
      }
      const holder = await tx.customer.findFirst({ where: { stripeCustomerId: input.stripeCustomerId, id: { not: input.customerId } }, select: { externalId: true, organizationId: true } });
      if (holder) {
        const whose = holder.organizationId === input.organizationId ? `customer ${holder.externalId}` : 'a customer of another organization';
        throw refuse(`Stripe customer ${input.stripeCustomerId} is linked to ${whose} already; one Stripe customer bills one customer`, LINK_REFUSALS.taken);
      }
      if (now.stripe_customer_id !== null) {
        const invoiced = await tx.invoice.count({ where: { customerId: input.customerId, OR: [{ stripeInvoiceId: { not: null } }, { status: 'approved' }] } });
        if (invoiced > 0) {
          throw refuse(
            `the customer has ${invoiced} invoice${invoiced === 1 ? '' : 's'} in Stripe (or approved, about to be) under ${now.stripe_customer_id}; their payments and credit notes stay there, so it is not moved to ${input.stripeCustomerId}`,
            LINK_REFUSALS.inUse,
          );
        }
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

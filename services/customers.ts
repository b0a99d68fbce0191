import { z } from 'zod';
import 'zod-openapi';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { Client } from '@temporalio/client';
import type { CustomerModel, PrismaClient } from '../prisma/client';
import { requestStripeLink } from '../temporal/stripe-links';
import { DomainError } from './errors';
import { storableName } from './schemas/name';
import { emailAddress } from './schemas/email';

/*
 * A customer's details as finance edits them: name, billing email, and the
 * link to a customer that already exists in the organization's Stripe
 * account (else the first finalized invoice creates one). A link is checked
 * in Stripe by the worker before it is written (temporal/stripe-links.ts),
 * and a customer whose invoices went through Stripe under one Stripe
 * customer is not moved to another: its open invoices, payments and credit
 * notes stay there. Every change is an audit row.
 */

const STRIPE_CUSTOMER_ID = /^cus_[A-Za-z0-9]{1,250}$/;

export const CustomerUpdateSchema = z
  .strictObject({
    name: storableName('Display name; null clears it', 'Acme Inc.').nullable().optional(),
    email: emailAddress('billing@acme.test').nullable().optional().meta({ description: 'Billing contact; null clears it', example: 'billing@acme.test' }),
    stripe_customer_id: z
      .string()
      .regex(STRIPE_CUSTOMER_ID, 'must be a Stripe customer id like cus_NffrFeUfNV2Hib')
      .optional()
      .meta({ description: 'An existing customer in your Stripe account to invoice this customer under; checked in Stripe before it is linked', example: 'cus_NffrFeUfNV2Hib' }),
  })
  .meta({ id: 'CustomerUpdateRequest' });
export type CustomerUpdate = z.output<typeof CustomerUpdateSchema>;

export interface CustomerUpdateDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
}

export type CustomerUpdateOutcome = { customer: CustomerModel; stripeLink: 'linked' | 'unchanged' | 'pending'; workflowId?: string };

export async function updateCustomer(deps: CustomerUpdateDeps, organizationId: string, externalId: string, input: CustomerUpdate, actor: AuditActor): Promise<CustomerUpdateOutcome> {
  const { prisma } = deps;
  const found = await prisma.customer.findUnique({ where: { organizationId_externalId: { organizationId, externalId } } });
  if (!found) throw new DomainError('not_found', 'NOT_FOUND', `No customer ${externalId}`);
  let customer = found;
  // Only what changes: a form sent again with the same name writes nothing.
  const details = {
    ...(input.name !== undefined && input.name !== found.name ? { name: input.name } : {}),
    ...(input.email !== undefined && input.email !== found.email ? { email: input.email } : {}),
  };
  if (Object.keys(details).length > 0) {
    customer = await prisma.$transaction(async (tx) => {
      const updated = await tx.customer.update({ where: { id: found.id }, data: details });
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'customer.updated',
        entityType: 'customer',
        entityId: found.id,
        before: { name: found.name, email: found.email },
        after: { name: updated.name, email: updated.email },
      });
      return updated;
    });
  }
  const target = input.stripe_customer_id;
  if (target === undefined || target === customer.stripeCustomerId) return { customer, stripeLink: 'unchanged' };
  if (customer.stripeCustomerId) {
    const billed = await prisma.invoice.count({ where: { organizationId, customerId: customer.id, stripeInvoiceId: { not: null } } });
    if (billed > 0) {
      throw new DomainError(
        'conflict',
        'STRIPE_CUSTOMER_IN_USE',
        `stripe_customer_id: ${externalId} has ${billed} invoice${billed === 1 ? '' : 's'} in Stripe under ${customer.stripeCustomerId}; their payments and credit notes stay there, so the customer is not moved to ${target}`,
        'stripe_customer_id',
      );
    }
  }
  const outcome = await requestStripeLink(deps, { organizationId, customerId: customer.id, stripeCustomerId: target, expectedCurrent: customer.stripeCustomerId, actor });
  if (outcome.kind === 'refused') throw new DomainError('invalid', 'STRIPE_CUSTOMER_REFUSED', `stripe_customer_id: ${outcome.message}`, 'stripe_customer_id');
  const now = await prisma.customer.findUniqueOrThrow({ where: { id: customer.id } });
  return { customer: now, stripeLink: outcome.kind, workflowId: outcome.workflowId };
}

import { z } from 'zod';
import 'zod-openapi';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { Client } from '@temporalio/client';
import type { CustomerModel, Prisma, PrismaClient } from '../prisma/client';
import { LINK_REFUSALS, requestStripeLink } from '../temporal/stripe-links';
import { DomainError, stripeWorkerFailure } from './errors';
import { storableName } from './schemas/name';
import { emailAddress } from './schemas/email';

/*
 * A customer's details as finance edits them: name, billing email, and the
 * link to a customer that already exists in the organization's Stripe
 * account (else the first finalized invoice creates one). A link is checked
 * in Stripe and written by the worker (activities/stripe/link-customer.ts
 * has the rules: the customer exists and is the organization's, no other of
 * ours holds it, and a customer already invoiced in Stripe is not moved).
 * Every change is an audit row.
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

/** The worker's refusal of a link as the API answers it: the field's fault (400), a state to resolve (409), or Stripe away (503). */
function linkRefusal(outcome: { type: string | null; message: string }): DomainError {
  const field = 'stripe_customer_id';
  const message = `${field}: ${outcome.message}`;
  switch (outcome.type) {
    case LINK_REFUSALS.deleted:
    case LINK_REFUSALS.otherOrganization:
    case 'StripeInvalidRequestError':
      return new DomainError('invalid', 'STRIPE_CUSTOMER_REFUSED', message, field);
    case LINK_REFUSALS.taken:
    case LINK_REFUSALS.inUse:
      return new DomainError('conflict', 'STRIPE_CUSTOMER_IN_USE', message, field);
    case LINK_REFUSALS.changed:
      return new DomainError('conflict', 'CHANGED_MEANWHILE', message, field);
    case LINK_REFUSALS.notFound:
      return new DomainError('not_found', 'NOT_FOUND', outcome.message);
    default:
      return stripeWorkerFailure({ type: outcome.type, message }, 'nothing was linked', field);
  }
}

/**
 * The Stripe link first (when asked for, and different): a refused link
 * changes nothing else. Then name and email, only what differs, in one
 * transaction with its audit row.
 */
export async function updateCustomer(deps: CustomerUpdateDeps, organizationId: string, externalId: string, input: CustomerUpdate, actor: AuditActor): Promise<CustomerUpdateOutcome> {
  const { prisma } = deps;
  let found = await prisma.customer.findUnique({ where: { organizationId_externalId: { organizationId, externalId } } });
  if (!found) throw new DomainError('not_found', 'NOT_FOUND', `No customer ${externalId}`);
  let stripeLink: CustomerUpdateOutcome['stripeLink'] = 'unchanged';
  let workflowId: string | undefined;
  const target = input.stripe_customer_id;
  if (target !== undefined && target !== found.stripeCustomerId) {
    const outcome = await requestStripeLink(deps, { organizationId, customerId: found.id, stripeCustomerId: target, expectedCurrent: found.stripeCustomerId, actor });
    if (outcome.kind === 'refused') throw linkRefusal(outcome);
    if (outcome.kind === 'in_progress') {
      throw new DomainError('conflict', 'LINK_IN_PROGRESS', `stripe_customer_id: a link of ${externalId} is being checked in Stripe (${outcome.workflowId}); read the customer when it is done`, 'stripe_customer_id');
    }
    stripeLink = outcome.kind;
    workflowId = outcome.workflowId;
    found = await prisma.customer.findUniqueOrThrow({ where: { id: found.id } });
  }
  const before = found;
  // Only what changes: a form sent again with the same name writes nothing.
  const details = {
    ...(input.name !== undefined && input.name !== before.name ? { name: input.name } : {}),
    ...(input.email !== undefined && input.email !== before.email ? { email: input.email } : {}),
  };
  let customer = before;
  if (Object.keys(details).length > 0) {
    customer = await prisma.$transaction(async (tx) => {
      const updated = await tx.customer.update({ where: { id: before.id }, data: details });
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'customer.updated',
        entityType: 'customer',
        entityId: before.id,
        before: { name: before.name, email: before.email },
        after: { name: updated.name, email: updated.email },
      });
      return updated;
    });
  }
  return { customer, stripeLink, ...(workflowId ? { workflowId } : {}) };
}

export function customerJson(c: CustomerModel) {
  return { id: c.id, external_id: c.externalId, name: c.name, email: c.email, stripe_customer_id: c.stripeCustomerId, created_at: c.createdAt.toISOString() };
}

/**
 * The customer with this external id, created (and audited) if missing.
 * ON CONFLICT DO NOTHING makes a concurrent create, or ingest linking the
 * same customer, a lookup rather than a unique violation.
 */
export async function ensureCustomer(
  tx: Prisma.TransactionClient,
  organizationId: string,
  actor: AuditActor,
  input: { external_id: string; name?: string; email?: string },
): Promise<{ customer: CustomerModel; created: boolean }> {
  const { count } = await tx.customer.createMany({
    data: [{ organizationId, externalId: input.external_id, name: input.name ?? null, email: input.email ?? null }],
    skipDuplicates: true,
  });
  const customer = await tx.customer.findUniqueOrThrow({ where: { organizationId_externalId: { organizationId, externalId: input.external_id } } });
  if (count === 1) {
    await writeAudit(tx, { organizationId, actor, action: 'customer.created', entityType: 'customer', entityId: customer.id, after: customerJson(customer) });
  }
  return { customer, created: count === 1 };
}

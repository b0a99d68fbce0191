import { z } from 'zod';
import 'zod-openapi';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { Client } from '@temporalio/client';
import type { CustomerModel, Prisma, PrismaClient } from '../prisma/client';
import type { RawDb } from '../prisma/raw-db';
import { LINK_REFUSALS, requestStripeLink } from '../temporal/stripe-links';
import { DomainError, invalidField, stripeWorkerFailure } from './errors';
import { storableName } from './schemas/name';
import { emailAddress } from './schemas/email';

/*
 * A customer's details as finance edits them: name, billing email, and the
 * link to a customer that already exists in the organization's Stripe
 * account (else the first finalized invoice creates one). A link is checked
 * in Stripe and written by the worker (activities/stripe/link-customer.ts
 * has the rules: the customer exists and is the organization's, no other of
 * ours holds it, and a customer already invoiced in Stripe is not moved).
 * And the team pool it draws prepaid credits from (setCreditPool). Every
 * change is an audit row.
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
    parent_external_id: storableName('The customer whose credit wallet this one draws on (a team pool); null leaves the pool', 'acme')
      .nullable()
      .optional()
      .meta({
        description:
          "Team pool: this customer's usage burns the parent's prepaid credits, and its grants, top-ups and reservations go to the parent's wallet. One level: the parent is in no pool itself, and this customer is no pool's parent. A customer with a wallet of its own (grants, top-ups, reservations or ledger steps) cannot join a pool: 409. null leaves the pool (usage from then on burns no credits until the customer has a wallet of its own)",
        example: 'acme',
      }),
  })
  .meta({ id: 'CustomerUpdateRequest' });
export type CustomerUpdate = z.output<typeof CustomerUpdateSchema>;

export interface CustomerUpdateDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
}

export type CustomerUpdateOutcome = { customer: CustomerWithParent; stripeLink: 'linked' | 'unchanged' | 'pending'; workflowId?: string };

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
  if (Object.keys(details).length > 0 || input.parent_external_id !== undefined) {
    await prisma.$transaction(async (tx) => {
      const pool = input.parent_external_id === undefined ? null : await setCreditPool(tx, organizationId, before.id, input.parent_external_id);
      if (Object.keys(details).length === 0 && !pool?.changed) return;
      const updated = await tx.customer.update({ where: { id: before.id }, data: details });
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'customer.updated',
        entityType: 'customer',
        entityId: before.id,
        before: { name: before.name, email: before.email, ...(pool?.changed && { parent_external_id: pool.before }) },
        after: { name: updated.name, email: updated.email, ...(pool?.changed && { parent_external_id: pool.after }) },
      });
    });
  }
  const customer = await prisma.customer.findUniqueOrThrow({ where: { id: before.id }, include: WITH_PARENT });
  return { customer, stripeLink, ...(workflowId ? { workflowId } : {}) };
}

/** What customerJson needs besides the row: the parent of its team pool (`include` it). */
export const WITH_PARENT = { parent: { select: { externalId: true } } } as const;
export type CustomerWithParent = CustomerModel & { parent: { externalId: string } | null };

export function customerJson(c: CustomerWithParent) {
  return {
    id: c.id,
    external_id: c.externalId,
    name: c.name,
    email: c.email,
    stripe_customer_id: c.stripeCustomerId,
    parent_external_id: c.parent?.externalId ?? null,
    created_at: c.createdAt.toISOString(),
  };
}

/**
 * Puts a customer in the team pool of `parentExternalId` (null: takes it out),
 * in the caller's transaction. The customer's and the parent's rows are locked
 * together (FOR NO KEY UPDATE, in id order) and the rules read again under
 * the locks: ensureWallet holds the customer's row shared while it makes a
 * wallet, so a wallet cannot appear under a customer joining a pool, and a
 * parent cannot join a pool while a child joins its. Refused:
 * an unknown parent or the customer itself (400, naming the field), a parent
 * in a pool itself or a customer that is a pool's parent (409 POOL_NESTED), a
 * customer with a wallet that was ever used (409 CUSTOMER_HAS_WALLET; an
 * unused one, made by reading or configuring it, is deleted).
 */
export async function setCreditPool(
  db: RawDb,
  organizationId: string,
  customerId: string,
  parentExternalId: string | null,
): Promise<{ changed: boolean; before: string | null; after: string | null }> {
  const field = 'parent_external_id';
  const [found] = await db.$queryRaw<{ external_id: string }[]>`SELECT external_id FROM customers WHERE id = ${customerId}::uuid AND organization_id = ${organizationId}::uuid`;
  if (!found) throw new DomainError('not_found', 'NOT_FOUND', `No customer ${customerId}`);
  const [named] = parentExternalId === null ? [] : await db.$queryRaw<{ id: string }[]>`SELECT id FROM customers WHERE organization_id = ${organizationId}::uuid AND external_id = ${parentExternalId}`;
  if (parentExternalId !== null && !named) throw invalidField(field, `no customer ${parentExternalId} in your organization`, 'UNKNOWN_CUSTOMER');
  if (named?.id === customerId) throw invalidField(field, `${found.external_id} cannot draw on its own pool`);
  // Both rows locked in one statement, in id order (two customers joining each other's pools wait, never deadlock);
  // then everything the rules read, read again under the locks.
  await db.$queryRaw`SELECT id FROM customers WHERE id = ANY(${[customerId, ...(named ? [named.id] : [])].sort()}::uuid[]) ORDER BY id FOR NO KEY UPDATE`;
  const [self] = await db.$queryRaw<{ external_id: string; parent_external_id: string | null; members: number }[]>`
    SELECT c.external_id, (SELECT p.external_id FROM customers p WHERE p.id = c.parent_customer_id) AS parent_external_id,
           (SELECT count(*)::int FROM customers m WHERE m.parent_customer_id = c.id) AS members
      FROM customers c WHERE c.id = ${customerId}::uuid`;
  const before = self!.parent_external_id;
  if (parentExternalId === before) return { changed: false, before, after: before };
  if (parentExternalId === null) {
    await db.$executeRaw`UPDATE customers SET parent_customer_id = NULL WHERE id = ${customerId}::uuid`;
    return { changed: true, before, after: null };
  }
  const [parent] = await db.$queryRaw<{ id: string; in_pool_of: string | null }[]>`
    SELECT c.id, (SELECT p.external_id FROM customers p WHERE p.id = c.parent_customer_id) AS in_pool_of FROM customers c WHERE c.id = ${named!.id}::uuid`;
  if (parent!.in_pool_of !== null) {
    throw new DomainError('conflict', 'POOL_NESTED', `${field}: ${parentExternalId} draws on the pool of ${parent!.in_pool_of} itself; pools are one level deep, name ${parent!.in_pool_of}`, field);
  }
  if (self!.members > 0) {
    throw new DomainError('conflict', 'POOL_NESTED', `${field}: ${self!.external_id} is the parent of a pool of ${self!.members} customer(s); pools are one level deep, take them out first`, field);
  }
  // A wallet nobody used (made by reading or configuring it) goes; one with a history stays, and keeps the customer out.
  // (its row lock first: a batch burning from it finishes, and then it has a history)
  await db.$queryRaw`SELECT id FROM credit_wallets WHERE customer_id = ${customerId}::uuid FOR UPDATE`;
  await db.$executeRaw`
    DELETE FROM credit_wallets w WHERE w.customer_id = ${customerId}::uuid
       AND NOT EXISTS (SELECT 1 FROM credit_grants g WHERE g.wallet_id = w.id) AND NOT EXISTS (SELECT 1 FROM credit_transactions t WHERE t.wallet_id = w.id)
       AND NOT EXISTS (SELECT 1 FROM credit_reservations r WHERE r.wallet_id = w.id) AND NOT EXISTS (SELECT 1 FROM credit_top_ups u WHERE u.wallet_id = w.id)`;
  const [own] = await db.$queryRaw<{ id: string }[]>`SELECT id FROM credit_wallets WHERE customer_id = ${customerId}::uuid`;
  if (own) {
    throw new DomainError(
      'conflict',
      'CUSTOMER_HAS_WALLET',
      `${field}: ${self!.external_id} has a credit wallet of its own with grants or history; a customer with a wallet cannot join a pool (grant the pool's credits to ${parentExternalId} instead)`,
      field,
    );
  }
  await db.$executeRaw`UPDATE customers SET parent_customer_id = ${parent!.id}::uuid WHERE id = ${customerId}::uuid`;
  return { changed: true, before, after: parentExternalId };
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
): Promise<{ customer: CustomerWithParent; created: boolean }> {
  const { count } = await tx.customer.createMany({
    data: [{ organizationId, externalId: input.external_id, name: input.name ?? null, email: input.email ?? null }],
    skipDuplicates: true,
  });
  const customer = await tx.customer.findUniqueOrThrow({ where: { organizationId_externalId: { organizationId, externalId: input.external_id } }, include: WITH_PARENT });
  if (count === 1) {
    await writeAudit(tx, { organizationId, actor, action: 'customer.created', entityType: 'customer', entityId: customer.id, after: customerJson(customer) });
  }
  return { customer, created: count === 1 };
}

import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import 'zod-openapi';
import { isKnownCurrency, roundMoney } from '../billing/currency';
import { dec, toPlainString, type Dec } from '../billing/decimal';
import { writeAudit, type AuditActor } from '../prisma/audit';
import { findCustomerByAnyId } from '../prisma/billing-reads';
import type { PrismaClient } from '../prisma/client';
import { insertTopUp, readTopUp, type TopUpRow } from '../prisma/credit-top-ups';
import { creditTopUpWorkflowId, startCreditTopUp } from '../temporal/credit-top-up';
import { DomainError } from './errors';
import { currencyCode } from './schemas/currency';
import { decimalInput } from './schemas/decimal';
import { instantInput } from './schemas/instant';

/*
 * Credit top-ups (issue 15, point 6): buy credits for a customer through a
 * Stripe invoice charged to its card on file, or (pay_by) sent to the
 * customer to pay on Stripe's page; the grant is made when the payment
 * succeeds (workflows/credit-top-up.ts), exactly once.
 */

/** How far ahead a top-up paid by invoice may be due. */
const PAY_BY_MAX_DAYS = 90;

const positive = (description: string) => decimalInput(description).refine((c) => dec(c).gt(0), { message: 'must be more than 0' });

/**
 * A charge that rounds to nothing at the currency's minor unit would grant credits for free: refused, on
 * price_per_credit. (Zod runs this even when a field failed its own check: then that field's issue speaks.)
 */
function chargesSomething(t: { credits: string; price_per_credit: string; currency: string }): boolean {
  let credits: Dec, price: Dec;
  try {
    [credits, price] = [dec(t.credits), dec(t.price_per_credit)];
  } catch {
    return true;
  }
  return !isKnownCurrency(t.currency) || !credits.gt(0) || !price.gt(0) || roundMoney(credits.times(price), t.currency).gt(0);
}
const CHARGES_SOMETHING = { message: "credits × price_per_credit rounds to 0 at the currency's minor unit: the charge would be nothing", path: ['price_per_credit'] };

export const TopUpCreateSchema = z.strictObject({
  customer_external_id: z.string().min(1).max(255).meta({ description: 'The customer who buys the credits (charged to its card on file in Stripe)', example: 'cust_42' }),
  credits: positive('Credits to buy'),
  price_per_credit: positive("What one credit costs, in currency: the Stripe invoice charges credits × price_per_credit (rounded to the currency's minor unit), and revenue is recognized at it as they burn"),
  currency: currencyCode,
  pay_by: instantInput(
    "Pay by invoice instead of the card on file: the Stripe invoice is sent to the customer's billing email to pay on Stripe's page (hosted_invoice_url) by this instant (in the future, at most 90 days on); the credits are granted when it is paid, and unpaid by then it is voided and the top-up fails",
    '2027-01-15T00:00:00Z',
  )
    .refine((d) => d.getTime() > Date.now(), { message: 'must be in the future' })
    .refine((d) => d.getTime() <= Date.now() + PAY_BY_MAX_DAYS * 86_400_000, { message: `must be at most ${PAY_BY_MAX_DAYS} days from now` })
    .optional(),
  idempotency_key: z.string().min(1).max(255).optional().meta({ description: 'A repeat with this key answers the first top-up', example: 'order-4711' }),
}).refine(chargesSomething, CHARGES_SOMETHING);
export type TopUpCreate = z.output<typeof TopUpCreateSchema>;

export const AutoTopUpSchema = z
  .strictObject({
    below: positive('A burn that leaves the balance below this many credits buys a top-up (more than 0: a balance is never below 0)'),
    credits: positive('Credits each automatic top-up buys'),
    price_per_credit: positive('What one credit costs, in currency'),
    currency: currencyCode,
  })
  .refine(chargesSomething, CHARGES_SOMETHING)
  .meta({ id: 'AutoTopUp', description: 'Buy credits automatically when the balance falls low: at most one such top-up of a wallet at a time' });

export const TopUpSchema = z
  .object({
    id: z.uuid(),
    customer_external_id: z.string(),
    automatic: z.boolean().meta({ description: 'Bought because a burn left the wallet below its auto_top_up.below' }),
    credits: z.string(),
    price_per_credit: z.string(),
    amount: z.string().meta({ description: "What the Stripe invoice charges: credits × price_per_credit at the currency's minor unit" }),
    currency: z.string(),
    status: z.enum(['pending', 'paid', 'failed']).meta({ description: 'pending until the charge succeeds (paid: the credits are granted) or fails (failure says why)' }),
    stripe_invoice_id: z.string().nullable(),
    pay_by: z.string().nullable().meta({ description: 'Paid by invoice: due by then (null: charged to the card on file)' }),
    hosted_invoice_url: z.string().nullable().meta({ description: "Paid by invoice: Stripe's page where the customer pays it, once the invoice is sent" }),
    grant_id: z.uuid().nullable().meta({ description: 'paid: the grant its credits are in' }),
    failure: z.string().nullable(),
    idempotency_key: z.string(),
    workflow_id: z.string().meta({ description: 'credit-top-up:<id> in the Temporal UI' }),
    created_at: z.string(),
    settled_at: z.string().nullable(),
  })
  .meta({ id: 'CreditTopUp' });

export const TopUpIdParamsSchema = z.object({ id: z.uuid('must be a top-up id (a UUID)').meta({ description: 'The top-up' }) });

export const topUpJson = (t: TopUpRow) => ({
  id: t.id,
  customer_external_id: t.customerExternalId,
  automatic: t.automatic,
  credits: toPlainString(t.credits),
  price_per_credit: toPlainString(t.pricePerCredit),
  amount: roundMoney(t.credits.times(t.pricePerCredit), t.currency).toFixed(),
  currency: t.currency,
  status: t.status,
  stripe_invoice_id: t.stripeInvoiceId,
  pay_by: t.payBy?.toISOString() ?? null,
  hosted_invoice_url: t.hostedInvoiceUrl,
  grant_id: t.grantId,
  failure: t.failure,
  idempotency_key: t.idempotencyKey,
  workflow_id: creditTopUpWorkflowId(t.id),
  created_at: t.createdAt.toISOString(),
  settled_at: t.settledAt?.toISOString() ?? null,
});

/**
 * Records a top-up and starts its workflow. Answered `pending`: the charge
 * runs in the workflow. Were Temporal away, the top-up stays recorded and the
 * sweeper starts its workflow once it is back.
 */
export async function createTopUp(
  deps: { prisma: PrismaClient; temporal: Client; taskQueue: string },
  organizationId: string,
  body: TopUpCreate,
  actor: AuditActor,
): Promise<{ topUp: ReturnType<typeof topUpJson>; created: boolean }> {
  const customer = await findCustomerByAnyId(deps.prisma, organizationId, body.customer_external_id);
  if (!customer) throw new DomainError('not_found', 'NOT_FOUND', `No customer ${body.customer_external_id}`, 'customer_external_id');
  const { topUp, created } = await deps.prisma.$transaction(async (tx) => {
    const result = await insertTopUp(tx, {
      organizationId,
      customerId: customer.id,
      credits: dec(body.credits),
      pricePerCredit: dec(body.price_per_credit),
      currency: body.currency,
      payBy: body.pay_by ?? null,
      idempotencyKey: body.idempotency_key ?? randomUUID(),
      createdBy: `${actor.type}:${actor.id}`,
    });
    if (!result.created) {
      const t = result.topUp;
      const sameTerms = t.customerId === (customer.parentCustomerId ?? customer.id) && t.credits.eq(dec(body.credits)) && t.pricePerCredit.eq(dec(body.price_per_credit)) && t.currency === body.currency;
      // (a repeat may name pay_by again as it likes: the first decides; only charging one way or the other differs)
      if (!sameTerms || (t.payBy === null) !== (body.pay_by === undefined)) {
        throw new DomainError('conflict', 'IDEMPOTENCY_KEY_REUSED', `idempotency_key: top-up ${t.id} was asked for with this key on other terms; use a new key for a new top-up`, 'idempotency_key', { top_up_id: t.id });
      }
    } else {
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'credits.top_up_requested',
        entityType: 'credit_top_up',
        entityId: result.topUp.id,
        after: { customer: customer.externalId, credits: body.credits, pricePerCredit: body.price_per_credit, currency: body.currency, payBy: body.pay_by?.toISOString() ?? null },
      });
    }
    return result;
  });
  if (topUp.status === 'pending') {
    try {
      await startCreditTopUp(deps.temporal, deps.taskQueue, { organizationId, topUpId: topUp.id });
    } catch (err) {
      console.warn(`top-up ${topUp.id} is recorded, but its workflow did not start (${(err as Error).message}); the sweeper starts it`);
    }
  }
  return { topUp: topUpJson(topUp), created };
}

export async function getTopUp(prisma: PrismaClient, organizationId: string, id: string) {
  const found = await readTopUp(prisma, organizationId, id);
  if (!found) throw new DomainError('not_found', 'NOT_FOUND', `No credit top-up ${id}`, 'id');
  return topUpJson(found);
}

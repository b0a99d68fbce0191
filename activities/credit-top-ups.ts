import Stripe from 'stripe';
import { roundMoney, toStripeAmount } from '../billing/currency';
import { toPlainString } from '../billing/decimal';
import { writeAudit } from '../prisma/audit';
import { auditGranted, failTopUp, grantTopUp, readTopUp, storeTopUpInvoice } from '../prisma/credit-top-ups';
import { emitWebhookEvents, notificationWebhookEvents } from '../prisma/webhook-events';
import type { CreditTopUpInput } from '../temporal/credit-top-up';
import type { ActivityDeps } from './deps';
import { asActivityError, callStripe, requireStripe } from './stripe/errors';
import { cardOnFile, ensureStripeCustomer } from './stripe/customers';
import { workflowActor } from './workflow-actor';

export type ChargeTopUpResult = { outcome: 'paid' } | { outcome: 'failed'; reason: string };

/**
 * Charges a top-up through Stripe: a Stripe invoice for its credits (their
 * price, rounded to the currency's minor unit), finalized and paid with the
 * customer's card on file. Every call has an idempotency key made from the
 * top-up's id, so a retried activity repeats the same requests and never
 * charges twice. A declined card, or no card at all, is an outcome (the
 * workflow marks the top-up failed and alerts); faults are thrown for
 * Temporal to retry.
 */
export function chargeTopUp(deps: ActivityDeps) {
  return async function chargeTopUp({ organizationId, topUpId }: CreditTopUpInput): Promise<ChargeTopUpResult> {
    const { prisma } = deps;
    const topUp = await readTopUp(prisma, organizationId, topUpId);
    if (!topUp) return { outcome: 'failed', reason: `no top-up ${topUpId}` };
    if (topUp.status === 'paid') return { outcome: 'paid' };
    if (topUp.status === 'failed') return { outcome: 'failed', reason: topUp.failure ?? 'failed' };
    const stripe = await requireStripe(deps, organizationId);
    const customer = await prisma.customer.findUniqueOrThrow({ where: { id: topUp.customerId } });
    const stripeCustomerId = await ensureStripeCustomer(stripe, prisma, customer);
    const card = await cardOnFile(stripe, stripeCustomerId);
    if (card.kind === 'none') return { outcome: 'failed', reason: `customer ${customer.externalId} has no card on file in Stripe to charge; have them save one (POST /api/v1/customers/${customer.externalId}/payment-setup), then top up again` };
    const amount = roundMoney(topUp.credits.times(topUp.pricePerCredit), topUp.currency);
    const invoice = await callStripe(() =>
      stripe.invoices.create(
        {
          customer: stripeCustomerId,
          currency: topUp.currency,
          collection_method: 'charge_automatically',
          auto_advance: false,
          pending_invoice_items_behavior: 'exclude',
          ...(card.kind === 'attached' ? { default_payment_method: card.paymentMethodId } : {}),
          description: `${toPlainString(topUp.credits)} prepaid credits`,
          metadata: { ledgerflow_top_up_id: topUp.id, ledgerflow_organization_id: organizationId },
        },
        { idempotencyKey: `ledgerflow-top-up-invoice-${topUp.id}` },
      ),
    );
    await storeTopUpInvoice(prisma, topUp.id, invoice.id);
    await callStripe(() =>
      stripe.invoiceItems.create(
        {
          customer: stripeCustomerId,
          invoice: invoice.id,
          currency: topUp.currency,
          amount: toStripeAmount(amount, topUp.currency),
          description: `${toPlainString(topUp.credits)} credits at ${toPlainString(topUp.pricePerCredit)} ${topUp.currency.toUpperCase()}`,
          metadata: { ledgerflow_top_up_id: topUp.id },
        },
        { idempotencyKey: `ledgerflow-top-up-item-${topUp.id}` },
      ),
    );
    await callStripe(() => stripe.invoices.finalizeInvoice(invoice.id, {}, { idempotencyKey: `ledgerflow-top-up-finalize-${topUp.id}` }));
    try {
      const paid = await stripe.invoices.pay(invoice.id, {}, { idempotencyKey: `ledgerflow-top-up-pay-${topUp.id}` });
      return paid.status === 'paid' ? { outcome: 'paid' } : { outcome: 'failed', reason: `Stripe invoice ${invoice.id} is ${paid.status ?? 'not paid'} after the charge` };
    } catch (err) {
      if (err instanceof Stripe.errors.StripeCardError) return { outcome: 'failed', reason: `the card was declined (${err.decline_code ?? err.code ?? 'card_declined'}): ${err.message}` };
      throw asActivityError(err);
    }
  };
}

/** The top-up was paid: its credits are granted, once, with an audit row. */
export function grantPaidTopUp({ prisma }: ActivityDeps) {
  return async function grantPaidTopUp({ organizationId, topUpId }: CreditTopUpInput): Promise<{ status: string; grantId: string | null }> {
    const actor = workflowActor();
    return prisma.$transaction(async (tx) => {
      const result = await grantTopUp(tx, { organizationId, topUpId, createdBy: `${actor.type}:${actor.id}`, now: new Date() });
      if (!result) return { status: 'not_found', grantId: null };
      if (result.granted) await auditGranted(tx, organizationId, actor, result.topUp);
      return { status: result.topUp.status, grantId: result.topUp.grantId };
    });
  };
}

/**
 * The top-up could not be charged: marked failed, with an audit row and a
 * `credits.top_up_failed` alert (Slack, email, outbound webhook) saying why,
 * once.
 */
export function failCreditTopUp({ prisma }: ActivityDeps) {
  return async function failCreditTopUp({ organizationId, topUpId, reason }: CreditTopUpInput & { reason: string }): Promise<{ status: string }> {
    const actor = workflowActor();
    return prisma.$transaction(async (tx) => {
      const result = await failTopUp(tx, { organizationId, topUpId, reason, now: new Date() });
      if (!result) return { status: 'not_found' };
      if (!result.failed) return { status: result.topUp.status };
      const { topUp } = result;
      const payload = {
        customerExternalId: topUp.customerExternalId,
        topUpId: topUp.id,
        automatic: topUp.automatic,
        credits: toPlainString(topUp.credits),
        amount: toPlainString(roundMoney(topUp.credits.times(topUp.pricePerCredit), topUp.currency)),
        currency: topUp.currency,
        reason,
      };
      const notification = { kind: 'credits.top_up_failed', dedupeKey: `credits.top_up_failed:${topUp.id}`, payload };
      await tx.notification.createMany({ data: [{ organizationId, ...notification }], skipDuplicates: true });
      await emitWebhookEvents(tx, organizationId, notificationWebhookEvents([notification]));
      await writeAudit(tx, { organizationId, actor, action: 'credits.top_up_failed', entityType: 'credit_top_up', entityId: topUp.id, after: payload });
      return { status: 'failed' };
    });
  };
}

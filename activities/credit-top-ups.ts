import Stripe from 'stripe';
import { roundMoney, toStripeAmount } from '../billing/currency';
import { toPlainString } from '../billing/decimal';
import { writeAudit } from '../prisma/audit';
import { auditGranted, failTopUp, grantTopUp, readTopUp, storeTopUpInvoice, storeTopUpPayPage } from '../prisma/credit-top-ups';
import { emitWebhookEvents, notificationWebhookEvents } from '../prisma/webhook-events';
import type { CreditTopUpInput } from '../temporal/credit-top-up';
import type { ActivityDeps } from './deps';
import { asActivityError, callStripe, requireStripe } from './stripe/errors';
import { cardOnFile, ensureStripeCustomer } from './stripe/customers';
import { workflowActor } from './workflow-actor';

export type ChargeTopUpResult = { outcome: 'paid' } | { outcome: 'failed'; reason: string } | { outcome: 'awaiting_payment'; payBy: string; msUntilDue: number };

/**
 * Charges a top-up through Stripe: a Stripe invoice for its credits (their
 * price, rounded to the currency's minor unit), finalized and paid with the
 * customer's card on file; or, for a top-up paid by invoice (pay_by), sent to
 * the customer to pay on Stripe's page by then (`awaiting_payment`: the
 * invoice.paid webhook grants it, the workflow waits). Every call has an
 * idempotency key made from the top-up's id, so a retried activity repeats
 * the same requests and never charges twice; and a later attempt (a reset
 * days on, when Stripe has forgotten those keys) continues from the invoice
 * the top-up stored, by its state in Stripe: paid is paid, void is failed, a
 * draft is finished, an open one is charged (or, sent before, awaited). A
 * declined card, no card at all, or an invoice Stripe will not make is an
 * outcome (the workflow marks the top-up failed and alerts); faults are
 * thrown for Temporal to retry.
 */
export function chargeTopUp(deps: ActivityDeps) {
  return async function chargeTopUp({ organizationId, topUpId }: CreditTopUpInput): Promise<ChargeTopUpResult> {
    const { prisma } = deps;
    const topUp = await readTopUp(prisma, organizationId, topUpId);
    if (!topUp) return { outcome: 'failed', reason: `no top-up ${topUpId}` };
    if (topUp.status === 'paid') return { outcome: 'paid' };
    if (topUp.status === 'failed') return { outcome: 'failed', reason: topUp.failure ?? 'failed' };
    const payBy = topUp.payBy;
    const stored = topUp.stripeInvoiceId;
    if (payBy && !stored && payBy.getTime() <= Date.now()) return { outcome: 'failed', reason: `its pay_by (${payBy.toISOString()}) passed before its invoice was made` };
    const stripe = await requireStripe(deps, organizationId);
    const customer = await prisma.customer.findUniqueOrThrow({ where: { id: topUp.customerId } });
    const stripeCustomerId = await ensureStripeCustomer(stripe, prisma, customer);
    const card = payBy ? null : await cardOnFile(stripe, stripeCustomerId);
    const noCard: ChargeTopUpResult | null =
      card?.kind === 'none'
        ? { outcome: 'failed', reason: `customer ${customer.externalId} has no card on file in Stripe to charge; have them save one (POST /api/v1/customers/${customer.externalId}/payment-setup), or send the top-up as an invoice to pay online (pay_by)` }
        : null;
    if (noCard && !stored) return noCard;
    let invoice: Stripe.Invoice;
    if (stored) {
      invoice = await callStripe(() => stripe.invoices.retrieve(stored));
    } else {
      try {
        invoice = await stripe.invoices.create(
          {
            customer: stripeCustomerId,
            currency: topUp.currency,
            auto_advance: false,
            pending_invoice_items_behavior: 'exclude',
            ...(payBy ? { collection_method: 'send_invoice', due_date: Math.ceil(payBy.getTime() / 1000) } : { collection_method: 'charge_automatically' }),
            ...(card?.kind === 'attached' ? { default_payment_method: card.paymentMethodId } : {}),
            description: `${toPlainString(topUp.credits)} prepaid credits`,
            metadata: { ledgerflow_top_up_id: topUp.id, ledgerflow_organization_id: organizationId },
          },
          { idempotencyKey: `ledgerflow-top-up-invoice-${topUp.id}` },
        );
      } catch (err) {
        // (an invoice to send needs the customer's email in Stripe: a refusal says what is missing)
        if (payBy && err instanceof Stripe.errors.StripeInvalidRequestError) return { outcome: 'failed', reason: `Stripe would not make the invoice to send to customer ${customer.externalId}: ${err.message}` };
        throw asActivityError(err);
      }
      await storeTopUpInvoice(prisma, topUp.id, invoice.id!);
    }
    const invoiceId = invoice.id!;
    if (invoice.status === 'paid') return { outcome: 'paid' };
    if (invoice.status === 'void' || invoice.status === 'uncollectible') return { outcome: 'failed', reason: `its Stripe invoice ${invoiceId} is ${invoice.status}` };
    if (noCard) return noCard;
    if (invoice.status === 'draft') {
      if (!invoice.lines.data.some((line) => line.metadata?.ledgerflow_top_up_id === topUp.id)) {
        const amount = roundMoney(topUp.credits.times(topUp.pricePerCredit), topUp.currency);
        await callStripe(() =>
          stripe.invoiceItems.create(
            {
              customer: stripeCustomerId,
              invoice: invoiceId,
              currency: topUp.currency,
              amount: toStripeAmount(amount, topUp.currency),
              description: `${toPlainString(topUp.credits)} credits at ${toPlainString(topUp.pricePerCredit)} ${topUp.currency.toUpperCase()}`,
              metadata: { ledgerflow_top_up_id: topUp.id },
            },
            { idempotencyKey: `ledgerflow-top-up-item-${topUp.id}` },
          ),
        );
      }
      invoice = await callStripe(() => stripe.invoices.finalizeInvoice(invoiceId, {}, { idempotencyKey: `ledgerflow-top-up-finalize-${topUp.id}` }));
      if (invoice.status === 'paid') return { outcome: 'paid' };
    }
    if (payBy) {
      // Sent once: a later attempt that finds the page stored does not email the customer again.
      if (!topUp.hostedInvoiceUrl) {
        const sent = await callStripe(() => stripe.invoices.sendInvoice(invoiceId, {}, { idempotencyKey: `ledgerflow-top-up-send-${topUp.id}` }));
        if (sent.hosted_invoice_url) await storeTopUpPayPage(prisma, topUp.id, sent.hosted_invoice_url);
      }
      return { outcome: 'awaiting_payment', payBy: payBy.toISOString(), msUntilDue: Math.max(payBy.getTime() - Date.now(), 1) };
    }
    try {
      const paid = await stripe.invoices.pay(invoiceId, {}, { idempotencyKey: `ledgerflow-top-up-pay-${topUp.id}` });
      return paid.status === 'paid' ? { outcome: 'paid' } : { outcome: 'failed', reason: `Stripe invoice ${invoiceId} is ${paid.status ?? 'not paid'} after the charge` };
    } catch (err) {
      if (err instanceof Stripe.errors.StripeCardError) return { outcome: 'failed', reason: `the card was declined (${err.decline_code ?? err.code ?? 'card_declined'}): ${err.message}` };
      throw asActivityError(err);
    }
  };
}

/**
 * A top-up that could not be charged: its Stripe invoice is closed (an open
 * one voided, a draft deleted) so Stripe shows no receivable that Ledgerflow
 * calls failed. If it turns out paid meanwhile (the card went through after
 * all), `paid` says so and the workflow grants instead.
 */
export function closeFailedTopUpInvoice(deps: ActivityDeps) {
  return async function closeFailedTopUpInvoice({ organizationId, topUpId }: CreditTopUpInput): Promise<{ paid: boolean }> {
    const topUp = await readTopUp(deps.prisma, organizationId, topUpId);
    const invoiceId = topUp?.stripeInvoiceId;
    // (paid meanwhile through the webhook: the workflow's grant finds it granted)
    if (topUp?.status === 'paid') return { paid: true };
    if (!topUp || topUp.status !== 'pending' || !invoiceId) return { paid: false };
    const stripe = await requireStripe(deps, organizationId);
    const invoice = await callStripe(() => stripe.invoices.retrieve(invoiceId));
    if (invoice.status === 'paid') return { paid: true };
    if (invoice.status === 'open' || invoice.status === 'uncollectible') {
      await callStripe(() => stripe.invoices.voidInvoice(invoiceId, {}, { idempotencyKey: `ledgerflow-top-up-void-${topUp.id}` }));
    } else if (invoice.status === 'draft') {
      await callStripe(() => stripe.invoices.del(invoiceId));
    }
    return { paid: false };
  };
}

/** The top-up was paid: its credits are granted, once, with an audit row. */
export function grantPaidTopUp({ prisma }: ActivityDeps) {
  return async function grantPaidTopUp({ organizationId, topUpId }: CreditTopUpInput): Promise<{ status: string; grantId: string | null }> {
    const actor = workflowActor();
    return prisma.$transaction(async (tx) => {
      const result = await grantTopUp(tx, { organizationId, topUpId, createdBy: `${actor.type}:${actor.id}`, now: new Date() });
      if (!result) return { status: 'not_found', grantId: null };
      if (result.granted === true) await auditGranted(tx, organizationId, actor, result.topUp);
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

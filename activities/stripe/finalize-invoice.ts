import { ApplicationFailure } from '@temporalio/common';
import type Stripe from 'stripe';
import type { PrismaClient } from '../../prisma/client';
import { writeAudit, type AuditActor } from '../../prisma/audit';
import { emitInvoiceEvent } from '../../prisma/webhook-events';
import { toStripeAmount } from '../../billing/currency';
import { dec } from '../../billing/decimal';
import { TX_OPTIONS, type ActivityDeps } from '../deps';
import { workflowActor, workflowClock } from '../workflow-actor';
import { callStripe, invoiceNotFound, stripeAccountOf } from './errors';
import { assignInvoiceNumber } from '../../prisma/invoice-numbers';
import { decideCollection, dueDateAt, isCollectionSetting, type CollectionMethod } from '../../billing/collection';
import { cardOnFile, ensureInvoiceEmail, ensureStripeCustomer } from './customers';

export interface FinalizeInvoiceInput {
  organizationId: string;
  invoiceId: string;
}

export interface FinalizeInvoiceResult {
  stripeInvoiceId: string;
  /** our invoice total in the currency's minor units (what was put on the Stripe invoice) */
  amountDueMinor: number;
  /** how it is collected: charged on the retry schedule, or sent to pay by its due date (absent in histories from before) */
  collection?: InvoiceCollection;
}

export interface InvoiceCollection {
  method: CollectionMethod;
  /** ISO time a sent invoice is due; null when charged */
  dueAt: string | null;
}

/** Statuses in which the invoice already went through Stripe finalization. */
const FINALIZED = new Set(['finalized', 'paid', 'uncollectible']);

export const RESET_DETECTED_ACTION = 'billing_run.reset_detected';

/**
 * Puts an approved invoice into Stripe and finalizes it there, under our
 * invoice number. Every Stripe
 * call carries an idempotency key derived from our ids, and the Stripe ids
 * are stored as soon as they exist, so a retried activity or a billing run
 * reset in the Temporal UI (a new run repeating this step) reuses the Stripe
 * customer and invoice instead of creating a second one; items already on
 * the Stripe invoice (by their ledgerflow_line_id) are not added again.
 *
 * The number is taken just before the Stripe invoice is made (Stripe cannot
 * change the number of a finalized invoice) and kept from then on, so a retry
 * or a reset finalizes under the same number. In the organization's own
 * Stripe account it is the Stripe invoice's number; in the worker's account,
 * which organizations may share (and Stripe numbers must be unique per
 * account), it is shown as a custom field instead.
 */
export function finalizeInvoiceInStripe(deps: ActivityDeps) {
  return async function finalizeInvoiceInStripe({ organizationId, invoiceId }: FinalizeInvoiceInput): Promise<FinalizeInvoiceResult> {
    const { stripe, own } = await stripeAccountOf(deps, organizationId);
    const { prisma } = deps;
    const actor = workflowActor();
    const invoice = await prisma.invoice.findFirst({
      where: { id: invoiceId, organizationId },
      include: { customer: true, lines: { orderBy: { position: 'asc' } } },
    });
    if (!invoice) throw invoiceNotFound(organizationId, invoiceId);
    await auditResetOnce(prisma, invoice, actor);

    const amountDueMinor = toStripeAmount(dec(invoice.total), invoice.currency);
    if (FINALIZED.has(invoice.status) && invoice.stripeInvoiceId) {
      return { stripeInvoiceId: invoice.stripeInvoiceId, amountDueMinor, collection: storedCollection(invoice) };
    }
    if (invoice.status !== 'approved') {
      throw ApplicationFailure.nonRetryable(`invoice ${invoiceId} is ${invoice.status}; only an approved invoice is finalized`, 'InvoiceNotApproved');
    }
    if (amountDueMinor === 0) {
      throw ApplicationFailure.nonRetryable(`invoice ${invoiceId} totals zero; a zero invoice is settled without Stripe`, 'ZeroInvoice');
    }
    const items = invoice.lines.map((line) => ({ line, amount: toStripeAmount(dec(line.amount), invoice.currency) }));
    const linesMinor = items.reduce((sum, item) => sum + item.amount, 0);
    if (linesMinor !== amountDueMinor) {
      // Stripe would bill the sum of the items: refuse rather than charge something other than the approved total.
      throw ApplicationFailure.nonRetryable(
        `invoice ${invoiceId}: lines sum to ${linesMinor} minor units but the total is ${amountDueMinor}`,
        'InvoiceTotalMismatch',
      );
    }

    const number = await prisma.$transaction((tx) => assignInvoiceNumber(tx, organizationId, invoice.id), TX_OPTIONS);
    const numbering = stripeNumbering(number, own);
    const stripeCustomerId = await ensureStripeCustomer(stripe, prisma, invoice.customer);
    const org = await prisma.organization.findUniqueOrThrow({ where: { id: organizationId }, select: { invoiceCollection: true, invoiceDueDays: true } });
    const method = await decideOnce(stripe, prisma, invoice, stripeCustomerId, org.invoiceCollection);
    const currency = invoice.currency.toLowerCase();
    let stripeInvoiceId = invoice.stripeInvoiceId;
    let freshDraft = false;
    // Stripe refuses to create (and to finalize) a sent invoice for a customer without an email address.
    let emailChecked = false;
    if (!stripeInvoiceId && method === 'send_invoice') {
      await ensureInvoiceEmail(stripe, stripeCustomerId, invoice.customer);
      emailChecked = true;
    }
    if (!stripeInvoiceId) {
      const created = await callStripe(() =>
        stripe.invoices.create(
          {
            customer: stripeCustomerId,
            currency,
            // A sent invoice's due date is set just before it is finalized (below); Stripe needs a term to create it.
            ...(method === 'send_invoice' ? { collection_method: 'send_invoice' as const, days_until_due: org.invoiceDueDays } : { collection_method: 'charge_automatically' as const }),
            auto_advance: false,
            pending_invoice_items_behavior: 'exclude',
            ...numbering.params,
            metadata: { ledgerflow_invoice_id: invoice.id, ledgerflow_organization_id: organizationId, ledgerflow_workflow_id: invoice.workflowId, ledgerflow_invoice_number: number },
          },
          { idempotencyKey: `ledgerflow-invoice-${invoice.id}` },
        ),
      );
      stripeInvoiceId = await storeOnce(prisma, invoice.id, created.id);
      freshDraft = stripeInvoiceId === created.id;
    }

    // A Stripe invoice we made in an earlier attempt may already hold some items, or be finalized.
    const existing = freshDraft ? { draft: true, lineIds: new Set<string>(), numbered: true, hostedInvoiceUrl: null, dueDate: null } : await stripeInvoiceContents(stripe, stripeInvoiceId, numbering);
    let hostedInvoiceUrl: string | null = existing.hostedInvoiceUrl;
    /** a sent invoice's due date as Stripe has it (a charged one has none) */
    let dueAt: Date | null = method === 'send_invoice' ? existing.dueDate : null;
    if (existing.draft) {
      // A draft made before the invoice had its number (or by an older worker) gets it now.
      if (!existing.numbered) {
        await callStripe(() =>
          stripe.invoices.update(stripeInvoiceId, { ...numbering.params, metadata: { ledgerflow_invoice_number: number } }, { idempotencyKey: `ledgerflow-invoice-number-${invoice.id}-${number}` }),
        );
      }
      for (const { line, amount } of items) {
        if (existing.lineIds.has(line.id)) continue;
        await callStripe(() =>
          stripe.invoiceItems.create(
            {
              customer: stripeCustomerId,
              invoice: stripeInvoiceId,
              currency,
              amount,
              description: line.description,
              period: { start: unixSeconds(line.periodStart), end: unixSeconds(line.periodEnd) },
              metadata: { ledgerflow_line_id: line.id, ledgerflow_invoice_id: invoice.id, ledgerflow_line_kind: line.kind },
            },
            { idempotencyKey: `ledgerflow-line-${line.id}` },
          ),
        );
      }
      if (method === 'send_invoice') {
        // A draft made in an earlier attempt: the customer's address may have gone since.
        if (!emailChecked) await ensureInvoiceEmail(stripe, stripeCustomerId, invoice.customer);
        // Due the organization's days after finalizing, on the workflow's clock (the run's timers keep it), even when
        // finalized long after the draft was made in Stripe.
        const due = unixSeconds(dueDateAt(workflowClock(), org.invoiceDueDays));
        await callStripe(() => stripe.invoices.update(stripeInvoiceId, { due_date: due }, { idempotencyKey: `ledgerflow-invoice-due-${invoice.id}-${due}` }));
        dueAt = new Date(due * 1000);
      }
      const finalized = await callStripe(() => stripe.invoices.finalizeInvoice(stripeInvoiceId, {}, { idempotencyKey: `ledgerflow-finalize-${invoice.id}` }));
      hostedInvoiceUrl = finalized.hosted_invoice_url ?? null;
      // What Stripe finalized with is the due date (two overlapping attempts may each have set one).
      if (method === 'send_invoice' && finalized.due_date) dueAt = new Date(finalized.due_date * 1000);
    }
    if (method === 'send_invoice') {
      if (!dueAt) throw ApplicationFailure.nonRetryable(`Stripe invoice ${stripeInvoiceId} is sent to the customer but has no due date`, 'SentInvoiceWithoutDueDate');
      // Stripe emails the customer the invoice with its payment page (our invoice is still 'approved' here: sent once).
      const sent = await callStripe(() => stripe.invoices.sendInvoice(stripeInvoiceId, {}, { idempotencyKey: `ledgerflow-send-${invoice.id}` }));
      hostedInvoiceUrl = sent.hosted_invoice_url ?? hostedInvoiceUrl;
    }

    await prisma.$transaction(async (tx) => {
      const finalizedAt = new Date();
      const { count } = await tx.invoice.updateMany({
        where: { id: invoice.id, organizationId, status: 'approved' },
        data: { status: 'finalized', finalizedAt, hostedInvoiceUrl, dueAt },
      });
      if (count === 0) return;
      const number = await assignInvoiceNumber(tx, organizationId, invoice.id);
      await emitInvoiceEvent(tx, organizationId, invoice.id, 'invoice.finalized');
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'invoice.finalized',
        entityType: 'invoice',
        entityId: invoice.id,
        before: { status: 'approved', stripeInvoiceId: invoice.stripeInvoiceId },
        after: {
          status: 'finalized',
          number,
          finalizedAt: finalizedAt.toISOString(),
          stripeInvoiceId,
          stripeCustomerId,
          amountDueMinor,
          collectionMethod: method,
          dueAt: dueAt?.toISOString() ?? null,
          hostedInvoiceUrl,
        },
      });
    }, TX_OPTIONS);
    return { stripeInvoiceId, amountDueMinor, collection: { method, dueAt: dueAt?.toISOString() ?? null } };
  };
}

/**
 * A run other than the one that drafted the invoice is working on it: ops
 * reset the billing run in Temporal. Recorded once per new run, so the audit
 * history shows each reset (from the run that last touched the invoice).
 */
async function auditResetOnce(prisma: PrismaClient, invoice: { id: string; organizationId: string; workflowId: string; workflowRunId: string }, actor: AuditActor): Promise<void> {
  if (actor.type !== 'workflow' || actor.runId === invoice.workflowRunId) return;
  const toRunId = actor.runId;
  await prisma.$transaction(async (tx) => {
    // Serialises concurrent attempts of this step so each run is recorded once.
    await tx.$queryRaw`SELECT id FROM invoices WHERE id = ${invoice.id}::uuid FOR UPDATE`;
    const resets = await tx.auditLog.findMany({
      where: { organizationId: invoice.organizationId, entityType: 'invoice', entityId: invoice.id, action: RESET_DETECTED_ACTION },
      orderBy: { id: 'desc' },
      select: { runId: true },
    });
    if (resets.some((row) => row.runId === toRunId)) return;
    const fromRunId = resets[0]?.runId ?? invoice.workflowRunId;
    await writeAudit(tx, {
      organizationId: invoice.organizationId,
      actor,
      action: RESET_DETECTED_ACTION,
      entityType: 'invoice',
      entityId: invoice.id,
      after: { workflowId: invoice.workflowId, fromRunId, toRunId },
    });
  }, TX_OPTIONS);
}

/** How a finalized invoice is collected; one put into Stripe before invoices kept it was charged. */
function storedCollection(invoice: { collectionMethod: string | null; dueAt: Date | null }): InvoiceCollection {
  return invoice.collectionMethod === 'send_invoice'
    ? { method: 'send_invoice', dueAt: invoice.dueAt?.toISOString() ?? null }
    : { method: 'charge_automatically', dueAt: null };
}

/**
 * How the invoice is collected, decided the first time it goes to Stripe and
 * kept on the invoice, so a retry or a reset creates the same Stripe invoice
 * (a card saved meanwhile changes the next invoice, not this one). A card
 * saved through Checkout but not yet the customer's invoice default is made
 * the default, so every payment attempt uses it.
 */
async function decideOnce(
  stripe: Stripe,
  prisma: PrismaClient,
  invoice: { id: string; customerId: string; stripeInvoiceId: string | null; collectionMethod: string | null },
  stripeCustomerId: string,
  invoiceCollection: string,
): Promise<CollectionMethod> {
  if (invoice.collectionMethod === 'send_invoice' || invoice.collectionMethod === 'charge_automatically') return invoice.collectionMethod;
  // A Stripe invoice made before invoices kept the decision was charged.
  if (invoice.stripeInvoiceId) {
    await prisma.invoice.updateMany({ where: { id: invoice.id, collectionMethod: null }, data: { collectionMethod: 'charge_automatically' } });
    return 'charge_automatically';
  }
  const setting = isCollectionSetting(invoiceCollection) ? invoiceCollection : 'auto';
  const card = setting === 'send_invoice' ? ({ kind: 'none' } as const) : await cardOnFile(stripe, stripeCustomerId);
  const decision = decideCollection(setting, card);
  if (decision.makeDefault) {
    const paymentMethod = decision.makeDefault;
    await callStripe(() =>
      stripe.customers.update(stripeCustomerId, { invoice_settings: { default_payment_method: paymentMethod } }, { idempotencyKey: `ledgerflow-default-pm-${invoice.customerId}-${paymentMethod}` }),
    );
  }
  await prisma.invoice.updateMany({ where: { id: invoice.id, collectionMethod: null }, data: { collectionMethod: decision.method } });
  const stored = await prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id }, select: { collectionMethod: true } });
  return stored.collectionMethod === 'send_invoice' ? 'send_invoice' : 'charge_automatically';
}

/** Stores the Stripe invoice id unless one is stored already; returns the stored one. */
async function storeOnce(prisma: PrismaClient, invoiceId: string, stripeInvoiceId: string): Promise<string> {
  await prisma.invoice.updateMany({ where: { id: invoiceId, stripeInvoiceId: null }, data: { stripeInvoiceId } });
  const stored = await prisma.invoice.findUniqueOrThrow({ where: { id: invoiceId }, select: { stripeInvoiceId: true } });
  return stored.stripeInvoiceId ?? stripeInvoiceId;
}

/** The label of our number on a Stripe invoice in an account other organizations may share. */
export const NUMBER_FIELD = 'Invoice number';

/** How our number goes onto the Stripe invoice, and whether a Stripe invoice already carries it. */
function stripeNumbering(number: string, own: boolean) {
  return own
    ? { params: { number }, carries: (invoice: Stripe.Invoice) => invoice.number === number }
    : { params: { custom_fields: [{ name: NUMBER_FIELD, value: number }] }, carries: (invoice: Stripe.Invoice) => (invoice.custom_fields ?? []).some((f) => f.name === NUMBER_FIELD && f.value === number) };
}

async function stripeInvoiceContents(
  stripe: Stripe,
  stripeInvoiceId: string,
  numbering: ReturnType<typeof stripeNumbering>,
): Promise<{ draft: boolean; lineIds: Set<string>; numbered: boolean; hostedInvoiceUrl: string | null; dueDate: Date | null }> {
  const current = await callStripe(() => stripe.invoices.retrieve(stripeInvoiceId));
  if (current.status !== 'draft') {
    return { draft: false, lineIds: new Set(), numbered: true, hostedInvoiceUrl: current.hosted_invoice_url ?? null, dueDate: current.due_date ? new Date(current.due_date * 1000) : null };
  }
  const lines = await callStripe(() => stripe.invoices.listLineItems(stripeInvoiceId, { limit: 100 }).autoPagingToArray({ limit: 10_000 }));
  return {
    draft: true,
    lineIds: new Set(lines.map((line) => line.metadata?.ledgerflow_line_id).filter((id): id is string => Boolean(id))),
    numbered: numbering.carries(current),
    hostedInvoiceUrl: null,
    dueDate: null,
  };
}

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

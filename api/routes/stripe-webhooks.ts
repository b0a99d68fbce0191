import { WorkflowNotFoundError } from '@temporalio/client';
import express, { Router, type Request } from 'express';
import Stripe from 'stripe';
import { writeAudit } from '../../prisma/audit';
import { recordInvoicePaidIn } from '../../prisma/invoice-payments';
import { auditGranted, grantTopUp } from '../../prisma/credit-top-ups';
import type { Prisma } from '../../prisma/client';
import { paymentEventSignal, type PaymentEvent } from '../../temporal/billing-messages';
import type { ApiConfig } from '../config';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { UUID } from './catalog-common';
import { openOrganizationSecret } from '../../prisma/organization-secrets';
import { SecretKeyError, SecretOpenError } from '../../prisma/secret-box';
import { creditTopUpWorkflowId } from '../../temporal/credit-top-up';
import { topUpPaidSignal } from '../../temporal/credit-top-up-signals';

/**
 * What processing a stored event did; kept on the event row (stripe_events.outcome).
 * `paid_after_run`: the invoice's billing run had ended, so the payment was recorded here.
 */
type Outcome = 'signaled' | 'workflow_not_found' | 'paid_after_run' | 'invoice_not_found' | 'stored' | 'top_up_granted' | 'top_up_granted_before' | 'top_up_not_found' | 'top_up_other_invoice';

/** Stripe's invoice events that tell a billing run how its payment went. */
const PAYMENT_OUTCOMES: Record<string, PaymentEvent['outcome']> = {
  'invoice.paid': 'paid',
  'invoice.payment_succeeded': 'paid',
  'invoice.payment_failed': 'failed',
};

const WEBHOOK_ACTOR = { type: 'system', id: 'stripe-webhook' } as const;

type StripeObject = Record<string, unknown>;

const stringField = (object: StripeObject, key: string): string | undefined => {
  const value = object[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
};

function metadataOf(object: StripeObject): StripeObject {
  const metadata = object.metadata;
  return typeof metadata === 'object' && metadata !== null ? (metadata as StripeObject) : {};
}

/** A customer reference is an id, or the customer itself when the endpoint expands it. */
function customerIdOf(object: StripeObject): string | undefined {
  const customer = object.customer;
  if (typeof customer === 'string') return customer;
  if (typeof customer === 'object' && customer !== null) return stringField(customer as StripeObject, 'id');
  return undefined;
}

/** The event, only if Stripe signed exactly these bytes with our secret. */
function verifiedEvent(req: Request, secret: string): Stripe.Event {
  if (!Buffer.isBuffer(req.body)) throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
  const header = req.get('stripe-signature');
  if (!header) throw new ApiError(400, 'INVALID_SIGNATURE', 'Missing Stripe-Signature header');
  try {
    return Stripe.webhooks.constructEvent(req.body, header, secret);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw new ApiError(400, 'INVALID_SIGNATURE', `Stripe-Signature does not match the body: ${err.message}`);
    }
    // The signature matched but the signed body is not JSON.
    if (err instanceof SyntaxError) throw new ApiError(400, 'INVALID_JSON', 'Request body is not valid JSON');
    throw err;
  }
}

interface OurInvoice {
  id: string;
  organizationId: string;
  workflowId: string;
}

/** Our invoice behind a Stripe invoice: by the id we put in its metadata, else by the Stripe invoice id we stored. */
async function findInvoice(tx: Prisma.TransactionClient, stripeInvoice: StripeObject): Promise<OurInvoice | null> {
  const select = { id: true, organizationId: true, workflowId: true } as const;
  const ours = stringField(metadataOf(stripeInvoice), 'ledgerflow_invoice_id');
  if (ours && UUID.test(ours)) {
    const invoice = await tx.invoice.findUnique({ where: { id: ours }, select });
    if (invoice) return invoice;
  }
  const stripeId = stringField(stripeInvoice, 'id');
  return stripeId ? tx.invoice.findFirst({ where: { stripeInvoiceId: stripeId }, select }) : null;
}

/**
 * The organization an event belongs to: the one named in its metadata, else
 * the one of the invoice it is about, else the one whose customer it concerns
 * (only if exactly one organization has that Stripe customer). Unknown ids
 * give null rather than a foreign-key error Stripe would retry forever.
 */
async function organizationOf(tx: Prisma.TransactionClient, object: StripeObject, invoice: OurInvoice | null): Promise<string | null> {
  const named = stringField(metadataOf(object), 'ledgerflow_organization_id');
  if (named && UUID.test(named) && (await tx.organization.findUnique({ where: { id: named }, select: { id: true } }))) return named;
  if (invoice) return invoice.organizationId;
  const stripeCustomerId = customerIdOf(object);
  if (!stripeCustomerId) return null;
  const owners = await tx.customer.findMany({ where: { stripeCustomerId }, select: { organizationId: true }, distinct: ['organizationId'], take: 2 });
  return owners.length === 1 && owners[0] ? owners[0].organizationId : null;
}

/** Tells the invoice's billing run how its payment went; a run that has ended is recorded, not retried. */
async function signalBillingRun(deps: ApiDeps, config: ApiConfig, invoice: OurInvoice, signal: PaymentEvent): Promise<Outcome> {
  try {
    await deps.temporal.withDeadline(Date.now() + config.temporalTimeoutMs, () =>
      deps.temporal.workflow.getHandle(invoice.workflowId).signal(paymentEventSignal, signal),
    );
    return 'signaled';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'workflow_not_found';
    config.log(`could not signal ${invoice.workflowId} for Stripe event ${signal.stripeEventId}`, err);
    // Rolls the stored event back too, so Stripe's retry processes it afresh.
    throw new ApiError(503, 'TEMPORAL_UNAVAILABLE', 'Could not reach the billing workflows; Stripe will retry this event');
  }
}

/**
 * Stores and processes one event in one transaction. The insert is
 * ON CONFLICT DO NOTHING on the event id: a concurrent delivery of the same
 * event waits on the first one's row and then finds it, so the event is
 * processed once. If the transaction fails after the signal went out, Stripe's
 * retry signals again with the same stripeEventId, which the run can tell apart.
 */
async function receiveEvent(deps: ApiDeps, config: ApiConfig, event: Stripe.Event, endpointOrganizationId: string | null): Promise<{ duplicate: boolean }> {
  const object = event.data.object as unknown as StripeObject;
  const paymentOutcome = PAYMENT_OUTCOMES[event.type];
  let paidByInvoice: string | null = null;
  const received = await deps.prisma.$transaction(
    async (tx) => {
      const found = paymentOutcome && object.object === 'invoice' ? await findInvoice(tx, object) : null;
      // An organization's own endpoint speaks for that organization only: another one's invoice is not found.
      const invoice = endpointOrganizationId && found?.organizationId !== endpointOrganizationId ? null : found;
      const organizationId = endpointOrganizationId ?? (await organizationOf(tx, object, invoice));
      const { count } = await tx.stripeEvent.createMany({
        data: [{ id: event.id, type: event.type, organizationId, payload: event as unknown as Prisma.InputJsonValue }],
        skipDuplicates: true,
      });
      if (count === 0) return { duplicate: true };

      let outcome: Outcome = 'stored';
      const topUpId = stringField(metadataOf(object), 'ledgerflow_top_up_id');
      if (paymentOutcome === 'paid' && object.object === 'invoice' && topUpId && UUID.test(topUpId) && organizationId) {
        // A credit top-up's invoice: its credits are granted once, whether its workflow or this event sees the payment first.
        // Only the invoice the top-up is charged through grants it (metadata copied onto another invoice does not).
        const paid = await grantTopUp(tx, {
          organizationId,
          topUpId,
          createdBy: `${WEBHOOK_ACTOR.type}:${WEBHOOK_ACTOR.id}`,
          now: new Date(event.created * 1000),
          stripeInvoiceId: stringField(object, 'id') ?? '',
        });
        if (paid?.granted === true) {
          await auditGranted(tx, organizationId, WEBHOOK_ACTOR, paid.topUp);
          if (paid.topUp.payBy) paidByInvoice = topUpId;
        }
        outcome = !paid ? 'top_up_not_found' : paid.granted === 'other_invoice' ? 'top_up_other_invoice' : paid.granted ? 'top_up_granted' : 'top_up_granted_before';
      } else if (paymentOutcome) {
        outcome = invoice
          ? await signalBillingRun(deps, config, invoice, { outcome: paymentOutcome, stripeEventId: event.id, stripeInvoiceId: stringField(object, 'id') ?? '' })
          : 'invoice_not_found';
        // A payment after the run ended (written off as uncollectible, or stopped while collecting) is money
        // received all the same: recorded here, in the event's transaction, so revenue and the invoice agree.
        if (outcome === 'workflow_not_found' && paymentOutcome === 'paid' && invoice) {
          const recorded = await recordInvoicePaidIn(tx, {
            organizationId: invoice.organizationId,
            invoiceId: invoice.id,
            actor: WEBHOOK_ACTOR,
            from: ['finalized', 'uncollectible'],
            source: 'webhook_after_run',
            stripeEventId: event.id,
            paidAt: new Date(event.created * 1000),
          });
          if (recorded === true) outcome = 'paid_after_run';
        }
      }
      await tx.stripeEvent.update({ where: { id: event.id }, data: { processedAt: new Date(), outcome } });
      if (organizationId) {
        await writeAudit(tx, {
          organizationId,
          actor: WEBHOOK_ACTOR,
          action: 'stripe_event.received',
          entityType: 'stripe_event',
          entityId: event.id,
          after: { type: event.type, outcome, invoice_id: invoice?.id ?? null, workflow_id: invoice?.workflowId ?? null },
        });
      }
      return { duplicate: false };
    },
    // Deliveries of one event queue behind the first; the first may wait on Temporal.
    { maxWait: 10_000, timeout: config.temporalTimeoutMs + 10_000 },
  );
  // A top-up paid by invoice: its workflow stops waiting for the due date. After the commit (the grant is visible to
  // it), within the API's Temporal deadline, best effort: at the due date it asks Stripe and finds it paid anyway.
  if (paidByInvoice) {
    const topUpId = paidByInvoice;
    await deps.temporal
      .withDeadline(Date.now() + config.temporalTimeoutMs, () => deps.temporal.workflow.getHandle(creditTopUpWorkflowId(topUpId)).signal(topUpPaidSignal))
      .catch(() => undefined);
  }
  return received;
}

/** The signing secret of an organization's own endpoint, opened from its sealed column. */
async function organizationWebhookSecret(deps: ApiDeps, organizationId: string): Promise<string> {
  const notConfigured = new ApiError(404, 'NOT_FOUND', `No Stripe webhook endpoint for organization ${organizationId}: set its stripe_webhook_secret (PATCH /api/v1/settings/alerts)`);
  if (!UUID.test(organizationId)) throw notConfigured;
  const org = await deps.prisma.organization.findUnique({ where: { id: organizationId }, select: { stripeWebhookSecretEnc: true } });
  if (!org?.stripeWebhookSecretEnc) throw notConfigured;
  try {
    return openOrganizationSecret('stripe_webhook_secret', organizationId, org.stripeWebhookSecretEnc)!;
  } catch (err) {
    if (err instanceof SecretKeyError || err instanceof SecretOpenError) throw new ApiError(503, 'WEBHOOK_SECRET_UNREADABLE', `The stored signing secret cannot be opened (${err.message}); set it again`);
    throw err;
  }
}

/**
 * POST /webhooks/stripe, verified with the deployment's STRIPE_WEBHOOK_SECRET,
 * and POST /webhooks/stripe/<organizationId>, verified with that
 * organization's own signing secret (its events belong to it). Mounted
 * outside /api/v1 and ahead of any JSON parser: the signature covers the
 * exact bytes Stripe sent, so the body stays raw. Authentication is the
 * signature, not an API key.
 */
export function stripeWebhooksRouter(deps: ApiDeps, config: ApiConfig): Router {
  const router = Router();
  const raw = express.raw({ type: 'application/json', limit: config.bodyLimit });
  router.post('/', raw, async (req, res) => {
    const secret = config.stripeWebhookSecret;
    if (!secret) {
      throw new ApiError(503, 'WEBHOOK_NOT_CONFIGURED', 'Stripe webhooks are not configured on this server: set STRIPE_WEBHOOK_SECRET to the endpoint\'s signing secret');
    }
    const event = verifiedEvent(req, secret);
    const { duplicate } = await receiveEvent(deps, config, event, null);
    res.json({ received: true, duplicate });
  });
  router.post('/:organizationId', raw, async (req, res) => {
    const organizationId = String(req.params.organizationId);
    const event = verifiedEvent(req, await organizationWebhookSecret(deps, organizationId));
    const { duplicate } = await receiveEvent(deps, config, event, organizationId);
    res.json({ received: true, duplicate });
  });
  return router;
}

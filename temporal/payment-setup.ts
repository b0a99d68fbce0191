import type { Client } from '@temporalio/client';
import type { AuditActor } from '../prisma/audit';
import { askWorker, type WorkerAnswer } from './worker-answers';

export const PAYMENT_SETUP_WORKFLOW_TYPE = 'createPaymentSetup';

/**
 * One per request: a customer may be sent several links. The same request sent again (its request_key and the same
 * body) has the same id, and joins the running workflow or, once it ended, asks Stripe again under the same key.
 */
export const paymentSetupWorkflowId = (customerId: string, requestId: string): string => `payment-setup:${customerId}:${requestId}`;

export interface PaymentSetupRequest {
  organizationId: string;
  customerId: string;
  /** where Stripe sends the customer after the card is saved, and when they go back */
  successUrl: string;
  cancelUrl: string | null;
  /** the currency the customer will be invoiced in: Stripe offers the payment methods that can pay it */
  currency: string;
  actor: AuditActor;
  /** the Stripe idempotency key's part: a retried activity, or the request sent again with its key, opens the same session */
  requestId: string;
  /** the workflow id's part when it differs from requestId: the caller's key with the request's body, so the key with another body starts its own workflow (and Stripe refuses it) instead of joining the first */
  workflowKey?: string;
}

export interface PaymentSetupSession {
  /** Stripe's Checkout session (cs_…) */
  sessionId: string;
  /** the page to send the customer to */
  url: string;
  /** ISO time the page stops working (Stripe's default: 24 hours) */
  expiresAt: string;
  stripeCustomerId: string;
}

/** Why the worker refused a session, as ApplicationFailure types. */
export const PAYMENT_SETUP_REFUSALS = { notFound: 'CustomerNotFound' } as const;

/**
 * A hosted Stripe Checkout page in setup mode, where a customer saves a card
 * for their invoices (activities/stripe/payment-setup.ts). The worker asks
 * Stripe: the API and the web app hold no Stripe key.
 */
export function requestPaymentSetup(deps: { temporal: Client; taskQueue: string }, request: PaymentSetupRequest): Promise<WorkerAnswer<PaymentSetupSession>> {
  return askWorker<PaymentSetupSession>(deps, {
    workflowType: PAYMENT_SETUP_WORKFLOW_TYPE,
    workflowId: paymentSetupWorkflowId(request.customerId, request.workflowKey ?? request.requestId),
    args: [request],
    waitMs: 20_000,
    timeout: '10 minutes',
    joinRunning: true,
  });
}

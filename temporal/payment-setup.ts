import type { Client } from '@temporalio/client';
import type { AuditActor } from '../prisma/audit';
import { askWorker, type WorkerAnswer } from './worker-answers';

export const PAYMENT_SETUP_WORKFLOW_TYPE = 'createPaymentSetup';

/** One per request (a request sent again with its request_key joins it): a customer may be sent several links. */
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
    workflowId: paymentSetupWorkflowId(request.customerId, request.requestId),
    args: [request],
    waitMs: 20_000,
    timeout: '10 minutes',
    joinRunning: true,
  });
}

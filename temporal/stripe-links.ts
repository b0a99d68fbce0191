import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { AuditActor } from '../prisma/audit';

export const LINK_STRIPE_CUSTOMER_WORKFLOW_TYPE = 'linkStripeCustomer';

export interface StripeLinkRequest {
  organizationId: string;
  customerId: string;
  stripeCustomerId: string;
  expectedCurrent: string | null;
  actor: AuditActor;
}

/** How long a request waits for Stripe's answer before saying it is still being checked. */
const LINK_WAIT_MS = 20_000;

export type StripeLinkOutcome =
  | { kind: 'linked'; stripeCustomerId: string; name: string | null; email: string | null; workflowId: string }
  | { kind: 'refused'; message: string; workflowId: string }
  | { kind: 'pending'; workflowId: string };

/**
 * A link of a customer to an existing Stripe customer, checked in the
 * organization's Stripe account by the worker (workflows/link-stripe-customer.ts):
 * the API and the web app hold no Stripe key. Waits a while for the answer.
 */
export async function requestStripeLink(deps: { temporal: Client; taskQueue: string }, request: StripeLinkRequest): Promise<StripeLinkOutcome> {
  const workflowId = `stripe-link:${request.customerId}:${randomUUID()}`;
  const handle = await deps.temporal.workflow.start(LINK_STRIPE_CUSTOMER_WORKFLOW_TYPE, { workflowId, taskQueue: deps.taskQueue, args: [request] });
  try {
    const result = await deps.temporal.withDeadline(Date.now() + LINK_WAIT_MS, () => handle.result());
    return { kind: 'linked', ...(result as { stripeCustomerId: string; name: string | null; email: string | null }), workflowId };
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause?.cause instanceof Error ? err.cause.cause : err.cause;
      return { kind: 'refused', message: cause?.message ?? err.message, workflowId };
    }
    // Still checking (Stripe slow, or retried): the workflow writes the link when Stripe answers.
    return { kind: 'pending', workflowId };
  }
}

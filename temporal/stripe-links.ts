import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { AuditActor } from '../prisma/audit';

export const LINK_STRIPE_CUSTOMER_WORKFLOW_TYPE = 'linkStripeCustomer';

/** One link at a time per customer: a second request while one runs is told so. */
export const stripeLinkWorkflowId = (customerId: string): string => `stripe-link:${customerId}`;

export interface StripeLinkRequest {
  organizationId: string;
  customerId: string;
  stripeCustomerId: string;
  expectedCurrent: string | null;
  actor: AuditActor;
}

/** Why the worker refused a link (activities/stripe/link-customer.ts), as ApplicationFailure types. */
export const LINK_REFUSALS = {
  deleted: 'StripeCustomerDeleted',
  otherOrganization: 'StripeCustomerOfAnotherOrganization',
  taken: 'StripeCustomerTaken',
  inUse: 'StripeCustomerInUse',
  changed: 'StripeLinkChanged',
  notFound: 'CustomerNotFound',
} as const;

/** How long a request waits for Stripe's answer before saying it is still being checked. */
const LINK_WAIT_MS = 20_000;

export type StripeLinkOutcome =
  | { kind: 'linked'; stripeCustomerId: string; name: string | null; email: string | null; workflowId: string }
  /** refused for good: the failure's type (LINK_REFUSALS, or the Stripe error's class such as StripeInvalidRequestError) and words */
  | { kind: 'refused'; type: string | null; message: string; workflowId: string }
  /** another link of this customer is running */
  | { kind: 'in_progress'; workflowId: string }
  | { kind: 'pending'; workflowId: string };

/**
 * A link of a customer to an existing Stripe customer, checked in the
 * organization's Stripe account by the worker (workflows/link-stripe-customer.ts):
 * the API and the web app hold no Stripe key. Waits a while for the answer;
 * a link not taken up within 10 minutes (no worker) times out instead of
 * landing later, after what it was checked against changed.
 */
export async function requestStripeLink(deps: { temporal: Client; taskQueue: string }, request: StripeLinkRequest): Promise<StripeLinkOutcome> {
  const workflowId = stripeLinkWorkflowId(request.customerId);
  let handle;
  try {
    handle = await deps.temporal.workflow.start(LINK_STRIPE_CUSTOMER_WORKFLOW_TYPE, { workflowId, taskQueue: deps.taskQueue, args: [request], workflowExecutionTimeout: '10 minutes' });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { kind: 'in_progress', workflowId };
    throw err;
  }
  try {
    const result = await deps.temporal.withDeadline(Date.now() + LINK_WAIT_MS, () => handle.result());
    return { kind: 'linked', ...(result as { stripeCustomerId: string; name: string | null; email: string | null }), workflowId };
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause?.cause instanceof Error ? err.cause.cause : err.cause;
      return { kind: 'refused', type: cause instanceof ApplicationFailure ? (cause.type ?? null) : null, message: cause?.message ?? err.message, workflowId };
    }
    // Still checking (Stripe slow, retried, or no worker yet): the workflow writes the link when Stripe answers, within its timeout.
    return { kind: 'pending', workflowId };
  }
}

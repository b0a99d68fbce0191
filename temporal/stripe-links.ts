import type { Client } from '@temporalio/client';
import type { AuditActor } from '../prisma/audit';
import { askWorker, type WorkerAnswer } from './worker-answers';

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
  | Exclude<WorkerAnswer<never>, { kind: 'done' }>;

/**
 * A link of a customer to an existing Stripe customer, checked in the
 * organization's Stripe account by the worker (workflows/link-stripe-customer.ts):
 * the API and the web app hold no Stripe key. Waits a while for the answer;
 * a link not taken up within 10 minutes (no worker) times out instead of
 * landing later, after what it was checked against changed.
 */
export async function requestStripeLink(deps: { temporal: Client; taskQueue: string }, request: StripeLinkRequest): Promise<StripeLinkOutcome> {
  const answer = await askWorker<{ stripeCustomerId: string; name: string | null; email: string | null }>(deps, {
    workflowType: LINK_STRIPE_CUSTOMER_WORKFLOW_TYPE,
    workflowId: stripeLinkWorkflowId(request.customerId),
    args: [request],
    waitMs: LINK_WAIT_MS,
    timeout: '10 minutes',
  });
  return answer.kind === 'done' ? { kind: 'linked', ...answer.result, workflowId: answer.workflowId } : answer;
}

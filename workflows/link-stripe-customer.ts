import { proxyActivities } from '@temporalio/workflow';
import type { LedgerflowActivities } from '../activities';
import type { StripeLinkRequest } from '../temporal/stripe-links';

/** Stripe: network faults and 5xx retried a few times; Stripe refusing (no such customer) fails for good at once. */
const stripe = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 },
});

/** Links a customer to an existing Stripe customer once Stripe confirms it exists (activities/stripe/link-customer.ts). */
export async function linkStripeCustomer(request: StripeLinkRequest) {
  return stripe.linkStripeCustomer(request);
}

import { proxyActivities } from '@temporalio/workflow';
import type { LedgerflowActivities } from '../activities';
import type { PaymentSetupRequest } from '../temporal/payment-setup';

/** Stripe: network faults and 5xx retried a few times; Stripe refusing fails for good at once. */
const stripe = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 },
});

/** Opens a Checkout page in setup mode where the customer saves a card (activities/stripe/payment-setup.ts). */
export async function createPaymentSetup(request: PaymentSetupRequest) {
  return stripe.createPaymentSetupSession(request);
}

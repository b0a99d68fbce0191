// Shared by the top-up workflow and the ledger code: no imports, so the workflow bundle can take it.

/**
 * How a top-up's failure reason starts when Stripe could not be reached for the whole retry schedule: a fault of
 * ours or Stripe's, not of the customer's card, so it does not pause the wallet's automatic top-up.
 */
export const STRIPE_UNREACHABLE = 'Stripe could not be charged: ';

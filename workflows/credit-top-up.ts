import { ActivityFailure, ApplicationFailure, condition, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { LedgerflowActivities } from '../activities';
import type { CreditTopUpInput } from '../temporal/credit-top-up';
import { topUpPaidSignal } from '../temporal/credit-top-up-signals';
import { STRIPE_UNREACHABLE } from '../temporal/top-up-failure';

/** Database steps: idempotent, retried without limit. */
const db = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** The charge: Stripe faults are retried for about an hour (every call has an idempotency key), then the top-up fails and alerts. */
const stripe = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 10 },
});

/** Delivering the failure alert: best effort (it stays in the outbox for the next delivery). */
const notify = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 4 },
});

/** Workflows from this version on close a failed top-up's Stripe invoice before marking it failed. */
export const CLOSE_FAILED_INVOICE_PATCH = 'close-failed-top-up-invoice';

/**
 * `credit-top-up:<id>`: charges the top-up through Stripe and, when the
 * payment succeeds, grants its credits (once: a reset or a late
 * invoice.paid webhook grants nothing more). One paid by invoice waits for
 * the customer to pay Stripe's page: the webhook grants it and signals
 * topUpPaid; still unpaid at pay_by, its invoice is voided and it fails. A declined card, no card on
 * file, or Stripe unreachable for the whole retry schedule marks the
 * top-up failed and alerts the organization, after voiding its Stripe
 * invoice (best effort: one Stripe will not void stays open, and if the
 * customer pays it the invoice.paid webhook grants the credits). A failed
 * automatic top-up pauses the wallet's automatic top-up.
 */
export async function creditTopUp(input: CreditTopUpInput): Promise<{ status: string }> {
  let paidMeanwhile = false;
  setHandler(topUpPaidSignal, () => {
    paidMeanwhile = true;
  });
  let reason: string;
  try {
    const charged = await stripe.chargeTopUp(input);
    if (charged.outcome === 'paid') return { status: (await db.grantPaidTopUp(input)).status };
    if (charged.outcome === 'awaiting_payment') {
      // Paid by invoice: the webhook grants it when the customer pays (and says so); at pay_by, an unpaid one fails.
      await condition(() => paidMeanwhile, charged.msUntilDue);
      reason = `its invoice was not paid by ${charged.payBy}`;
    } else {
      reason = charged.reason;
    }
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    reason = `${STRIPE_UNREACHABLE}${err.cause instanceof ApplicationFailure ? err.cause.message : err.message}`;
  }
  if (patched(CLOSE_FAILED_INVOICE_PATCH)) {
    try {
      if ((await stripe.closeFailedTopUpInvoice(input)).paid) return { status: (await db.grantPaidTopUp(input)).status };
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      // (left open: paid later, the invoice.paid webhook grants it)
    }
  }
  const failed = await db.failCreditTopUp({ ...input, reason });
  try {
    await notify.deliverNotifications({ organizationId: input.organizationId });
  } catch {
    // (delivered with the organization's next notifications)
  }
  return failed;
}

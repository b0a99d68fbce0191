import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import { failureReason } from './failures';
import type { LedgerflowActivities } from '../activities';
import type { CreditNoteRequest } from '../temporal/credit-note-messages';

/** Database steps: idempotent, retried without limit; a refusal (bad amount, invoice not finalized) fails for good. */
const db = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Stripe: network faults and 5xx retried with backoff; Stripe refusing the note marks it failed (the activity says so). */
const stripe = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

/**
 * A credit note on a finalized invoice (issue 12, point 2): written as
 * pending (checked against the invoice under a lock), then issued in Stripe
 * and numbered. Its id is `credit-note:<org>:<request key>`: a repeated
 * request, a retry or a reset converge on one note and one Stripe credit note.
 */
export async function creditNote(request: CreditNoteRequest) {
  await db.recordCreditNote(request);
  try {
    return await stripe.issueCreditNoteInStripe({ organizationId: request.organizationId, creditNoteId: request.creditNoteId });
  } catch (err) {
    // Failed for good after it was recorded: the note says why, and no longer holds back what is left to credit.
    if (err instanceof ActivityFailure) {
      await db.failCreditNote({ organizationId: request.organizationId, creditNoteId: request.creditNoteId, reason: failureReason(err) });
    }
    throw err;
  }
}

import { proxyActivities, sleep } from '@temporalio/workflow';
import type { LedgerflowActivities } from '../activities';
import type { CreditReservationInput } from '../temporal/credit-reservation';
import { now } from './clock';

/** A database step: idempotent (one settle transaction per reservation), retried without limit. */
const db = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * `credit-reservation:<id>`: waits on a durable timer until the
 * reservation's expires_at, then gives back to the wallet whatever it still
 * holds. A reservation committed by an event or released before then is
 * left as it is; a reset or a retry converges on the one settlement the
 * ledger allows.
 */
export async function creditReservationExpiry(input: CreditReservationInput): Promise<{ status: string }> {
  const wait = Date.parse(input.expiresAt) - now();
  if (wait > 0) await sleep(wait);
  return db.expireCreditReservation(input);
}

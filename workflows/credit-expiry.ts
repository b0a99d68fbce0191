import { proxyActivities, sleep } from '@temporalio/workflow';
import type { LedgerflowActivities } from '../activities';
import type { CreditExpiryInput } from '../temporal/credit-expiry';
import { now } from './clock';

/** A database step: idempotent (one expiry transaction per grant), retried without limit. */
const db = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * `credit-expiry:<grant id>`: waits on a durable timer until the grant's
 * expires_at, then moves what is left of it to breakage, once. A reset
 * or a retry converges on the one expiry transaction the ledger allows.
 */
export async function creditGrantExpiry(input: CreditExpiryInput): Promise<{ expired: string }> {
  const wait = Date.parse(input.expiresAt) - now();
  if (wait > 0) await sleep(wait);
  return db.expireCreditGrant(input);
}

import { dec, Dec } from './decimal';
import type { Draw } from './credit-burn';

/*
 * Credit reservations (issue 15, point 5): a hold on a wallet's credits
 * before an expensive call. Holding draws the estimate from the grants in
 * burn order (billing/credit-burn.ts planBurn) into the organization's
 * `reserved` account; settling gives each grant its held credits back and,
 * when an event commits the reservation, burns what the event used from the
 * same grants in the same order. Pure rules; prisma/credit-ledger.ts writes
 * them.
 */

export interface Settlement {
  /** what the event used, from the hold's grants in the hold's order (none for a release or an expiry) */
  commits: Draw[];
  /** the credits the event used beyond the hold: burned from the wallet like any usage */
  excess: Dec;
}

/**
 * Settles a hold against the credits an event used (`used`; 0 for a
 * release or an expiry): the hold's grants cover it in the order they were
 * held, each up to what it holds; what the hold could not cover is the
 * excess. Every held credit goes back to its grant first, so a grant's
 * balance afterwards is what it had, less what it committed.
 */
export function settleHold(hold: readonly Draw[], used: Dec): Settlement {
  if (used.isNegative()) throw new RangeError(`a reservation cannot commit a negative amount of credits (${used.toFixed()})`);
  let left = dec(used);
  const commits: Draw[] = [];
  for (const d of hold) {
    if (left.isZero()) break;
    const take = Dec.min(left, d.credits);
    commits.push({ grantId: d.grantId, credits: take });
    left = left.minus(take);
  }
  return { commits, excess: left };
}

/** How long a reservation holds its credits unless committed or released: 5 minutes by default, at most a day. */
export const RESERVATION_DEFAULT_SECONDS = 300;
export const RESERVATION_MAX_SECONDS = 86_400;

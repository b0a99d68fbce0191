import type { Dec } from './decimal';

/*
 * Credit balance alerts (issue 15, point 8): what a burn tells the
 * organization about the wallet it drew from. Pure; the ingest batch raises
 * them (activities/ingest-steps.ts) in the notifications outbox, whose unique
 * dedupe key makes "once" a database fact, as quota and margin alerts do.
 */

export type CreditAlertLevel = 'low_balance' | 'exhausted';

/**
 * The alert a burn leaves a wallet at: `exhausted` when nothing spendable is
 * left (the higher level says more, as a quota's `exceeded` skips its
 * warning), else `low_balance` when the balance is at or below the wallet's
 * threshold, else none. Asked after every burn: the dedupe key (creditAlertKey)
 * makes each level alert once per episode.
 */
export function creditAlertLevel(q: { after: Dec; threshold: Dec | null }): CreditAlertLevel | null {
  if (q.after.lte(0)) return 'exhausted';
  if (q.threshold !== null && q.after.lte(q.threshold)) return 'low_balance';
  return null;
}

/**
 * One alert per wallet, level and episode. An episode ends with a new grant
 * (a purchase, a top-up, a promotion): the next time the balance falls low
 * it alerts again, and a grant too small to lift it over the threshold says
 * so at the next burn. `newestGrantId` is null for a wallet without grants.
 */
export const creditAlertKey = (level: CreditAlertLevel, walletId: string, newestGrantId: string | null): string =>
  `credits.${level}:${walletId}:${newestGrantId ?? 'no-grant'}`;

import { dec, type Dec } from './decimal';

export const QUOTA_MODES = ['HARD', 'SOFT', 'DISABLED'] as const;
export type QuotaMode = (typeof QUOTA_MODES)[number];

export interface QuotaPolicy {
  mode: QuotaMode;
  limit: string;
  softWarningPercent: number;
  gracePeriodSeconds: number;
}

export interface QuotaState {
  used: Dec;
  /** when usage first reached the limit in this window, if it has */
  limitReachedAt: Date | null;
}

/**
 * Decides, one event at a time and in order, which quantities a HARD limit
 * admits. A HARD limit admits an event while usage + quantity stays within the
 * limit, or while the grace period since the limit was first reached lasts.
 * SOFT and DISABLED limits admit everything.
 */
export function admitUnderLimit(
  policy: QuotaPolicy,
  state: QuotaState,
  quantities: readonly Dec[],
  now: Date,
  /** per quantity: usage that already happened (the AI proxy's served calls): counted, never refused */
  served: readonly boolean[] = [],
): { admitted: boolean[]; state: QuotaState } {
  let used = state.used;
  let reachedAt = state.limitReachedAt;
  const limit = dec(policy.limit);
  const admitted = quantities.map((q, i) => {
    if (policy.mode !== 'HARD' || served[i]) {
      used = used.plus(q);
      if (!reachedAt && used.gte(limit)) reachedAt = now;
      return true;
    }
    const next = used.plus(q);
    if (next.lte(limit)) {
      used = next;
      if (!reachedAt && used.gte(limit)) reachedAt = now;
      return true;
    }
    // This event would go over: the limit counts as reached from now on.
    if (!reachedAt) reachedAt = now;
    // Clocks of several API instances disagree a little: a limit reached
    // "after" now counts as reached now, never as time left in the grace.
    const elapsedMs = Math.max(0, now.getTime() - reachedAt.getTime());
    if (policy.gracePeriodSeconds > 0 && elapsedMs < policy.gracePeriodSeconds * 1000) {
      used = next;
      return true;
    }
    return false;
  });
  return { admitted, state: { used, limitReachedAt: reachedAt } };
}

export type QuotaLevel = 'warning' | 'exceeded';

/** The highest threshold usage has crossed: the soft-warning percent, then 100%. */
export function quotaLevel(policy: Pick<QuotaPolicy, 'limit' | 'softWarningPercent'>, used: Dec): QuotaLevel | null {
  const limit = dec(policy.limit);
  if (used.gte(limit)) return 'exceeded';
  if (used.gte(limit.times(policy.softWarningPercent).div(100))) return 'warning';
  return null;
}

export function remaining(limit: string, used: Dec): Dec {
  const left = dec(limit).minus(used);
  return left.isNegative() ? dec(0) : left;
}

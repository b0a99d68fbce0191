import { applicableLimit } from '../../billing/applicable-limit';
import { admitUnderLimit, type QuotaPolicy } from '../../billing/quota';
import { quotaWindow } from '../../billing/quota-window';
import { dec, toPlainString, type Dec } from '../../billing/decimal';
import type { QuotaLimitRow } from '../../prisma/quota-limit-row';

export { LIMIT_COLUMNS, type QuotaLimitRow } from '../../prisma/quota-limit-row';

export function policyOf(limit: QuotaLimitRow): QuotaPolicy {
  return { mode: limit.mode, limit: limit.limitValue, softWarningPercent: limit.softWarningPercent, gracePeriodSeconds: limit.gracePeriodSeconds };
}

/** One usage counter: a HARD limit, a customer and a reset window. */
export interface CounterKey {
  limit: QuotaLimitRow;
  customerExternalId: string;
  windowStart: Date;
  windowEnd: Date | null;
  /** stable identity, also the lock order */
  key: string;
}

/** The HARD counter an event counts against, if any (SOFT limits are counted by the workflow). */
export function hardCounterFor(
  limits: readonly QuotaLimitRow[],
  event: { customer_external_id: string; event_type: string; timestamp: string },
): CounterKey | undefined {
  const limit = applicableLimit(limits, event.event_type, event.customer_external_id);
  if (!limit || limit.mode !== 'HARD') return undefined;
  const window = quotaWindow(limit.resetWindow, new Date(event.timestamp));
  return {
    limit,
    customerExternalId: event.customer_external_id,
    windowStart: window.start,
    windowEnd: window.end,
    key: `${limit.id}|${event.customer_external_id}|${window.start.toISOString()}`,
  };
}

export interface CounterState {
  used: Dec;
  limitReachedAt: Date | null;
}

export interface QuotaOutcome {
  /** positions (in the given list) that the limit does not admit */
  refused: Set<number>;
  /** the counters' new state, by CounterKey.key */
  counters: Map<string, CounterState>;
}

/**
 * Walks events in request order through their counters' HARD limits. Each
 * counter's state starts from the locked row and advances event by event, so
 * the outcome is the same as if the events had arrived one at a time.
 */
export function admitEvents(
  events: readonly { counter: CounterKey; quantity: string; served?: boolean }[],
  start: ReadonlyMap<string, CounterState>,
  now: Date,
): QuotaOutcome {
  const byCounter = new Map<string, { counter: CounterKey; positions: number[]; quantities: Dec[]; served: boolean[] }>();
  events.forEach(({ counter, quantity, served }, position) => {
    let group = byCounter.get(counter.key);
    if (!group) {
      group = { counter, positions: [], quantities: [], served: [] };
      byCounter.set(counter.key, group);
    }
    group.positions.push(position);
    group.quantities.push(dec(quantity));
    group.served.push(served === true);
  });
  const refused = new Set<number>();
  const counters = new Map<string, CounterState>();
  for (const [key, group] of byCounter) {
    const policy = policyOf(group.counter.limit);
    const state = start.get(key) ?? { used: dec(0), limitReachedAt: null };
    const result = admitUnderLimit(policy, state, group.quantities, now, group.served);
    result.admitted.forEach((ok, i) => {
      if (!ok) refused.add(group.positions[i] as number);
    });
    counters.set(key, result.state);
  }
  return { refused, counters };
}

export function quotaDetails(counter: CounterKey, state: CounterState): { limit: string; current: string; reset_at: string | null } {
  return {
    limit: toPlainString(dec(counter.limit.limitValue)),
    current: toPlainString(state.used),
    reset_at: counter.windowEnd ? counter.windowEnd.toISOString() : null,
  };
}

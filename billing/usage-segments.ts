import type { BillingPeriod } from './billing-period';
import { planTimeline, type PlanChangeRow, type PlanRow, type PriceRow, type PricedStretch } from './draft-inputs';

/**
 * Usage across a plan change (the rule, as Stripe bills a subscription whose
 * metered price changes mid-period): the period's usage is split at each
 * plan change inside it, and each stretch is priced on its own under the
 * plan in effect during it. Tiers restart with each stretch, because each
 * stretch is its own priced quantity; a meter the new plan does not price
 * is billed for the stretch before the change and not after it.
 */
export interface UsageSegment {
  /** inclusive */
  start: Date;
  /** exclusive */
  end: Date;
  plan: PlanRow;
}

/** The period's stretches, oldest first: one (the whole period) when no change falls inside it. */
export function usageSegments(current: PlanRow, changes: readonly PlanChangeRow[], period: BillingPeriod, subscriptionStart: Date): UsageSegment[] {
  const planAt = planTimeline(current, changes);
  const cuts = [...new Set(changes.map((c) => c.effectiveAt.getTime()).filter((t) => t > period.start.getTime() && t < period.end.getTime()))].sort((a, b) => a - b);
  const bounds = [period.start.getTime(), ...cuts, period.end.getTime()];
  return bounds.slice(0, -1).map((start, i) => {
    // A subscription that starts inside the period is on its first plan from its start.
    const inEffect = i === 0 && subscriptionStart.getTime() > start ? subscriptionStart : new Date(start);
    return { start: new Date(start), end: new Date(bounds[i + 1]!), plan: planAt(inEffect) };
  });
}

/** Whether an instant falls in a segment. */
export const inSegment = (segment: UsageSegment, at: Date): boolean => at.getTime() >= segment.start.getTime() && at.getTime() < segment.end.getTime();

/** A segment with the prices its plan has. */
export type PricedSegment = PricedStretch;

/**
 * Stretches for late usage: a period that was billed as one stretch (closed
 * before usage was priced per stretch; `billedWhole` holds its start) is
 * measured as one again, under the plan it was billed by (the plan at its
 * end), so late usage compares like with like.
 */
export function asBilled(stretchesOf: (period: BillingPeriod) => PricedSegment[], billedWhole: ReadonlySet<number>): (period: BillingPeriod) => PricedSegment[] {
  return (period) => {
    const stretches = stretchesOf(period);
    if (stretches.length < 2 || !billedWhole.has(period.start.getTime())) return stretches;
    const last = stretches.at(-1)!;
    return [{ ...last, start: period.start, end: period.end }];
  };
}

/** The stretches of any period of the subscription, each with its plan's prices: what its usage, or its late usage, is priced by. */
export function pricedSegments(
  current: PlanRow,
  changes: readonly PlanChangeRow[],
  subscriptionStart: Date,
  pricesByPlan: ReadonlyMap<string, readonly PriceRow[]>,
): (period: BillingPeriod) => PricedSegment[] {
  return (period) => usageSegments(current, changes, period, subscriptionStart).map((s) => ({ ...s, prices: pricesByPlan.get(s.plan.id) ?? [] }));
}

import { roundMoney } from './currency';
import { Dec, dec } from './decimal';
import { priceQuantity, type PriceModel } from './price-models';
import { rateVendorUsage, type TokenRate, type TokenUsage } from './token-cost';

/*
 * Revenue-leak rules. Pure: the reconcile activities read the rows, these
 * functions do the arithmetic, one per finding kind. Each returns null when
 * there is nothing to report, so "no finding" is never a zero-amount row.
 *
 * Amounts are in the finding's currency; revenue kinds are priced with the
 * plan's price model (per-line rounding, as invoices are), stale rating
 * compares unrounded vendor costs (rounded only when reported).
 */

export type LeakKind = 'unbilled_usage' | 'missed_overage' | 'under_reported_usage' | 'renewal_drift' | 'stale_rating';

/** Kinds whose leak is revenue a customer owes (a Stripe draft can recover it); stale rating is our cost, not theirs. */
export const BILLABLE_KINDS: ReadonlySet<LeakKind> = new Set(['unbilled_usage', 'missed_overage', 'under_reported_usage', 'renewal_drift']);

export interface LeakAmounts {
  expected: Dec;
  billed: Dec;
  /** expected − billed, positive */
  leak: Dec;
}

const amounts = (expected: Dec, billed: Dec): LeakAmounts | null => {
  const leak = expected.minus(billed);
  return leak.gt(0) ? { expected, billed, leak } : null;
};

const price = (model: PriceModel, quantity: Dec, currency: string): Dec => priceQuantity(model, quantity, currency).amount;

/**
 * Unbilled usage: events of a closed period (its invoice exists) that no
 * invoice line claimed. Priced as the marginal amount over what was billed:
 * expected = price(billed + unbilled quantity), billed = price(billed quantity).
 * Quantities are the meter's aggregation of the billed events and of all the
 * period's events, so max/latest/unique meters are handled by the caller's
 * aggregation, not by adding.
 */
export function unbilledUsage(input: { price: PriceModel; currency: string; billedQuantity: Dec; totalQuantity: Dec }): LeakAmounts | null {
  if (input.totalQuantity.lte(input.billedQuantity)) return null;
  return amounts(price(input.price, input.totalQuantity, input.currency), price(input.price, input.billedQuantity, input.currency));
}

/**
 * Missed overage: the events an invoice's lines claimed for a meter, priced
 * by the plan (what the quantity above included units costs), against what
 * those lines charged. expected = price(claimed quantity), billed = Σ line amounts.
 */
export function missedOverage(input: { price: PriceModel; currency: string; claimedQuantity: Dec; lineAmounts: readonly Dec[] }): LeakAmounts | null {
  const included = input.price.includedUnits ?? dec(0);
  if (input.claimedQuantity.lte(included)) return null;
  const billed = input.lineAmounts.reduce((sum, a) => sum.plus(a), dec(0));
  return amounts(price(input.price, input.claimedQuantity, input.currency), billed);
}

/**
 * Under-reported usage: a quantity reported elsewhere (POST /reported-usage)
 * below what Ledgerflow metered for the same customer, meter and period.
 * leak = price(metered) − price(reported).
 */
export function underReportedUsage(input: { price: PriceModel; currency: string; meteredQuantity: Dec; reportedQuantity: Dec }): LeakAmounts | null {
  if (input.reportedQuantity.gte(input.meteredQuantity)) return null;
  return amounts(price(input.price, input.meteredQuantity, input.currency), price(input.price, input.reportedQuantity, input.currency));
}

/**
 * Renewal drift: a renewal period's (not the first period, no proration)
 * base-fee lines below what the subscription should pay: its contracted
 * price when it has one, else the plan's current base fee.
 */
export function renewalDrift(input: { currency: string; planBaseFee: Dec; contractedFee?: Dec | null; baseFeeLines: readonly Dec[] }): LeakAmounts | null {
  const expected = roundMoney(input.contractedFee ?? input.planBaseFee, input.currency);
  const billed = input.baseFeeLines.reduce((sum, a) => sum.plus(a), dec(0));
  return amounts(expected, billed);
}

export interface RatedUsageEvent {
  timestamp: Date;
  vendorUsage: readonly TokenUsage[];
  /** vendor_rates ids the event was rated with */
  rateIds: readonly string[];
  /** the recorded cost */
  cost: Dec;
}

export interface StaleRating extends LeakAmounts {
  staleEvents: number;
}

/**
 * Stale rating: events rated with a vendor rate not in effect at their
 * timestamp. expected = cost re-rated with the rates in effect, billed = the
 * recorded cost, summed over the stale events only. Reported when the
 * recorded cost is lower (we under-count cost, so margins look better than
 * they are); an over-count is not a leak.
 */
export function staleRating(rates: readonly TokenRate[], events: readonly RatedUsageEvent[]): StaleRating | null {
  const byId = new Map(rates.map((r) => [r.id, r]));
  const inEffect = (id: string, at: Date): boolean => {
    const rate = byId.get(id);
    return !!rate && rate.effectiveFrom.getTime() <= at.getTime() && (rate.effectiveTo === null || at.getTime() < rate.effectiveTo.getTime());
  };
  let expected = dec(0);
  let recorded = dec(0);
  let staleEvents = 0;
  for (const e of events) {
    if (e.rateIds.every((id) => inEffect(id, e.timestamp))) continue;
    staleEvents += 1;
    expected = expected.plus(rateVendorUsage(rates, e.vendorUsage, e.timestamp).cost);
    recorded = recorded.plus(e.cost);
  }
  if (staleEvents === 0) return null;
  const found = amounts(expected, recorded);
  return found && { ...found, staleEvents };
}

/** What lowers confidence in a finding (counts over the events behind it). */
export interface ConfidenceSignals {
  events: number;
  /** events received after their period's close (the next close may still bill them as late usage) */
  lateEvents: number;
  /** events whose customer is not linked yet (customer_id null: ingest has not finished with them) */
  unlinkedEvents: number;
  /** the customer has a Stripe customer id */
  stripeMapped: boolean;
  /** the reported data covers only part of what was metered (some of the customer's meters reported, not all) */
  partialReport?: boolean;
}

export interface ConfidenceReason {
  code: 'late_events' | 'unlinked_events' | 'no_stripe_mapping' | 'partial_reported_data';
  detail: string;
  /** the factor it multiplied confidence by, 3 decimals */
  factor: string;
}

export interface Confidence {
  /** 0..1, 3 decimals */
  value: Dec;
  reasons: ConfidenceReason[];
}

/**
 * Confidence starts at 1 and is multiplied by one factor per reason:
 *  - late events:     1 − 0.5 × late / events   (half the weight of the late share: they may still be billed as late usage)
 *  - unlinked events: 1 − 0.5 × unlinked / events (linking may move them to another customer)
 *  - no Stripe mapping: 0.8 (nothing to cross-check against, and no draft can be sent until it exists)
 *  - partial reported data: 0.7 (the report may simply be incomplete, not low)
 * Each factor is rounded half-up to 3 decimals, and so is the product.
 * Example: 2 of 4 events late, no Stripe mapping → 0.750 × 0.800 = 0.600.
 */
export function confidence(s: ConfidenceSignals): Confidence {
  const reasons: ConfidenceReason[] = [];
  const add = (code: ConfidenceReason['code'], detail: string, factor: Dec) => reasons.push({ code, detail, factor: factor.toDecimalPlaces(3, Dec.ROUND_HALF_UP).toFixed(3) });
  const share = (n: number) => dec(1).minus(dec(0.5).times(n).div(Math.max(s.events, n, 1)));
  if (s.lateEvents > 0) add('late_events', `${s.lateEvents} of ${s.events} events arrived after the period closed`, share(s.lateEvents));
  if (s.unlinkedEvents > 0) add('unlinked_events', `${s.unlinkedEvents} of ${s.events} events are not linked to the customer yet`, share(s.unlinkedEvents));
  if (!s.stripeMapped) add('no_stripe_mapping', 'the customer has no Stripe customer id', dec('0.8'));
  if (s.partialReport) add('partial_reported_data', 'usage was reported for only some of the customer\'s meters', dec('0.7'));
  const value = reasons.reduce((c, r) => c.times(r.factor), dec(1)).toDecimalPlaces(3, Dec.ROUND_HALF_UP);
  return { value, reasons };
}

export type FindingStatus = 'open' | 'actioned' | 'recovered' | 'dismissed';

const TRANSITIONS: Record<FindingStatus, readonly FindingStatus[]> = {
  open: ['actioned', 'dismissed'],
  actioned: ['recovered', 'dismissed'],
  recovered: [],
  dismissed: [],
};

/** open → actioned → recovered | dismissed (an open finding may also be dismissed). */
export function canTransition(from: FindingStatus, to: FindingStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

import { monthIndex, periodContaining, type BillingInterval, type BillingPeriod } from './billing-period';
import { dec, type Dec } from './decimal';
import type { DraftInput, LateUsage, MeterUsage, PlanChange, PlanTerms } from './invoice-draft';
import { awaitsRedraft, type InvoiceStatus } from './invoice-status';
import { type Meter, type MeterAggregation } from './meter-aggregation';
import type { ProrationMode } from './proration';
import { inSlice, sliceLabel, sliceOf, type DimensionSlice } from './dimension-slices';
import { priceFromRow, type StoredPrice } from './stored-price';

/*
 * From the stored rows a billing period is drafted from to the DraftInput
 * billing/invoice-draft.ts prices. Shared by the close-period activity (which
 * claims the events it reads and snapshots them) and the upcoming-invoice
 * endpoint (which only reads), so a preview and the invoice that follows it
 * are composed by the same rules. Pure: rows in, values out; the rows'
 * shapes are structural so Prisma's rows fit as they are.
 */

type Amount = { toString(): string };

export interface PlanRow {
  id: string;
  name: string;
  baseFee: Amount;
}

/** A subscription_plan_changes row with both plans. */
export interface PlanChangeRow {
  effectiveAt: Date;
  fromPlan: PlanRow;
  toPlan: PlanRow;
}

export interface MeterRow {
  id: string;
  name: string;
  eventType: string;
  aggregation: MeterAggregation;
  property: string | null;
  /** the event property a plan may price value by value (meters.dimension) */
  dimension: string | null;
}

/** A plan_prices row with its meter. */
export interface PriceRow extends StoredPrice {
  meter: MeterRow;
  /** the dimension value it prices; null: the whole meter, or a dimensional meter's default */
  dimensionValue: string | null;
}

export interface SubscriptionRow {
  startDate: Date;
  billingAnchorDay: number;
  status: 'active' | 'canceled';
  canceledAt: Date | null;
  /** the plan the subscription is on now (after any recorded change) */
  plan: PlanRow & { currency: string; interval: BillingInterval };
  organization: { prorationMode: string };
}


export interface MeterRef extends Meter {
  id: string;
  eventType: string;
  /** the meter's dimension: its daily readings (snapshots) are per value of it */
  dimension?: string;
  /** the slice of the meter's events a price bills; absent: all of them */
  slice?: DimensionSlice;
}

export function meterOf(m: Omit<MeterRow, 'name' | 'dimension'> & { dimension?: string | null }): MeterRef {
  return { id: m.id, eventType: m.eventType, aggregation: m.aggregation, ...(m.property ? { property: m.property } : {}), ...(m.dimension ? { dimension: m.dimension } : {}) };
}


/** The meter a price reads: its meter, narrowed to the price's slice when the meter has a dimension. */
export function pricedMeter(price: PriceRow, planPrices: readonly PriceRow[]): MeterRef {
  const slice = sliceOf(price, planPrices);
  return { ...meterOf(price.meter), ...(slice ? { slice } : {}) };
}



/** A price's meter as an invoice line names it (sliceLabel). */
export function slicedMeterName(price: PriceRow, planPrices: readonly PriceRow[]): string {
  return sliceLabel(price.meter.name, sliceOf(price, planPrices));
}

/**
 * The plan in effect at each instant: a change applies from its effective
 * time; before the first change the subscription is on that change's old plan.
 */
export function planTimeline<P extends PlanRow>(current: P, changes: readonly { effectiveAt: Date; fromPlan: P; toPlan: P }[]): (at: Date) => P {
  return (at) => {
    let plan = changes[0]?.fromPlan ?? current;
    for (const c of changes) if (c.effectiveAt.getTime() <= at.getTime()) plan = c.toPlan;
    return plan;
  };
}

const terms = (p: PlanRow): PlanTerms => ({ planId: p.id, name: p.name, baseFee: dec(p.baseFee) });

export interface PeriodPlans {
  /** in effect when the period (or a subscription starting inside it) starts */
  initialPlan: PlanTerms;
  /** changes after that instant and before the period end, oldest first */
  planChanges: PlanChange[];
  /** in effect at the period end: its prices price the period's usage */
  finalPlan: PlanRow;
}

/** The plans of one period, from the subscription's plan changes (all of them, oldest first). */
export function periodPlans(subscription: SubscriptionRow, changes: readonly PlanChangeRow[], period: BillingPeriod): PeriodPlans {
  const planAt = planTimeline(subscription.plan, changes);
  const firstInstant = subscription.startDate > period.start ? subscription.startDate : period.start;
  return {
    initialPlan: terms(planAt(firstInstant)),
    planChanges: changes
      .filter((c) => c.effectiveAt > firstInstant && c.effectiveAt < period.end)
      .map((c) => ({ at: c.effectiveAt, from: terms(c.fromPlan), to: terms(c.toPlan) })),
    finalPlan: planAt(new Date(period.end.getTime() - 1)),
  };
}

/** A price's usage line input: its meter's (or slice's) quantity (read in SQL, prisma/usage-aggregates.ts) priced by the stored row. */
export function meterUsage(price: PriceRow, planPrices: readonly PriceRow[], quantity: Dec, snapshotIds: string[], credited?: Dec): MeterUsage {
  return {
    meterId: price.meter.id,
    meterName: slicedMeterName(price, planPrices),
    dimensionValue: price.dimensionValue,
    price: priceFromRow(price),
    quantity,
    ...(credited && !credited.isZero() ? { credited } : {}),
    snapshotIds,
  };
}

/** A stretch of a period priced by one plan (billing/usage-segments.ts). */
export interface PricedStretch {
  start: Date;
  end: Date;
  plan: PlanRow;
  prices: readonly PriceRow[];
}

/** Late events of one price (meter, or slice of one) in one earlier period (in one stretch of it, when a plan change split it). */
export interface LateGroup {
  price: PriceRow;
  /** every price of the plan that prices the stretch (a default slice is what the others leave) */
  planPrices: readonly PriceRow[];
  period: BillingPeriod;
  /** the stretch the events fall in when a plan change split the period; null when it did not */
  stretch: { start: Date; end: Date; planName: string } | null;
  eventIds: string[];
}

/**
 * A late event as the close reads it, for one meter of its type that has not
 * billed it yet (an event two meters read comes once per meter), with the
 * values of the dimensions the plans price (by property name).
 */
export interface LateEvent {
  id: string;
  meterId: string;
  timestamp: Date;
  dimensions?: Readonly<Record<string, string | null>> | null;
}

/**
 * Events of earlier periods not yet on an invoice, grouped by priced meter
 * (by slice, for a dimensional meter) and the subscription's period (and
 * stretch of it) they fall in, priced by the plan in effect then. Events of
 * a meter that plan does not price are not its to bill and are left out.
 */
export function groupLateEvents(subscription: SubscriptionRow, stretchesOf: (period: BillingPeriod) => readonly PricedStretch[], events: readonly LateEvent[]): LateGroup[] {
  const groups = new Map<string, LateGroup>();
  const known = new Map<number, readonly PricedStretch[]>();
  for (const e of events) {
    const period = periodContaining(e.timestamp, subscription.billingAnchorDay, subscription.plan.interval, monthIndex(subscription.startDate));
    const stretches = known.get(period.start.getTime()) ?? stretchesOf(period);
    known.set(period.start.getTime(), stretches);
    const stretch = stretches.find((s) => e.timestamp >= s.start && e.timestamp < s.end);
    // Its meter bills it (when the stretch's plan prices that meter), in the slice its dimension value falls in.
    const price = stretch?.prices.find((p) => p.meter.id === e.meterId && inSlice(sliceOf(p, stretch.prices), p.meter.dimension ? (e.dimensions?.[p.meter.dimension] ?? null) : null));
    if (!stretch || !price) continue;
    const key = `${price.meter.id}|${price.dimensionValue ?? ''}|${stretch.start.toISOString()}`;
    const group = groups.get(key) ?? {
      price,
      planPrices: stretch.prices,
      period,
      stretch: stretches.length > 1 ? { start: stretch.start, end: stretch.end, planName: stretch.plan.name } : null,
      eventIds: [],
    };
    group.eventIds.push(e.id);
    groups.set(key, group);
  }
  // Oldest stretch first, then in the order its plan lists its prices (as usage lines are), whatever order the events came in.
  const start = (g: LateGroup) => (g.stretch ?? g.period).start.getTime();
  return [...groups.values()].sort((a, b) => start(a) - start(b) || a.planPrices.indexOf(a.price) - b.planPrices.indexOf(b.price));
}

/**
 * The late groups a close bills now: those of periods that closed (have an
 * invoice) and are not waiting for finance to re-draft or write off a
 * rejected draft or a voided invoice; those late events go to the period's
 * next revision instead.
 */
export function lateGroupsToBill(groups: readonly LateGroup[], standings: ReadonlyMap<number, InvoiceStatus>): LateGroup[] {
  return groups.filter((g) => {
    const status = standings.get(g.period.start.getTime());
    return status !== undefined && !awaitsRedraft(status);
  });
}

/** What earlier invoices billed of a group's price, from the billed rows of its stretch (prisma/billing-reads.ts readBilledUsage). */
export function billedOf<B extends { meterId: string | null; dimensionValue: string | null }>(rows: readonly B[], group: LateGroup): B | undefined {
  return rows.find((b) => b.meterId === group.price.meter.id && b.dimensionValue === group.price.dimensionValue);
}

/** The meter a late group's price reads (its slice, for a dimensional meter). */
export const lateMeter = (group: LateGroup): MeterRef => pricedMeter(group.price, group.planPrices);

/**
 * A late-usage line input: the group's period (or stretch) as it now stands
 * (`periodEvents`: every billable event of the meter in it, the late ones
 * included) against what it was billed so far.
 */
export function lateUsage(
  group: LateGroup,
  /** the meter's usage over the stretch's events as they now stand (billable: not forgiven), and of it what prepaid credits covered */
  usage: { quantity: Dec; credited: Dec },
  billed: { quantity: Amount | null; amount: Amount | null; creditedQuantity?: Amount | null } | undefined,
  snapshotIds: string[],
): LateUsage {
  return {
    meterId: group.price.meter.id,
    meterName: slicedMeterName(group.price, group.planPrices),
    dimensionValue: group.price.dimensionValue,
    price: priceFromRow(group.price),
    periodStart: group.stretch?.start ?? group.period.start,
    periodEnd: group.stretch?.end ?? group.period.end,
    ...(group.stretch ? { planName: group.stretch.planName } : {}),
    quantity: usage.quantity.minus(usage.credited),
    ...(usage.credited.isZero() ? {} : { credited: usage.credited }),
    billedQuantity: dec(billed?.quantity ?? 0),
    ...(billed?.creditedQuantity ? { billedCredited: dec(billed.creditedQuantity) } : {}),
    billedAmount: dec(billed?.amount ?? 0),
    lateEvents: group.eventIds.length,
    snapshotIds,
  };
}

function prorationMode(value: string): ProrationMode {
  if (value !== 'day' && value !== 'second') throw new Error(`unknown proration mode "${value}"`);
  return value;
}

/** Everything draftInvoice needs for one period of one subscription. */
export function draftInput(subscription: SubscriptionRow, period: BillingPeriod, plans: PeriodPlans, usage: MeterUsage[], late: LateUsage[]): DraftInput {
  return {
    currency: subscription.plan.currency,
    periodStart: period.start,
    periodEnd: period.end,
    prorationMode: prorationMode(subscription.organization.prorationMode),
    subscriptionStart: subscription.startDate,
    initialPlan: plans.initialPlan,
    planChanges: plans.planChanges,
    canceledAt: subscription.status === 'canceled' ? subscription.canceledAt : null,
    usage,
    late,
  };
}

import { formatDay } from './calendar';
import { roundMoney } from './currency';
import { dec, type Dec } from './decimal';
import { InvalidPriceError, priceQuantity, type PriceModel, type TierCharge } from './price-models';
import { prorate, type ProrationMode } from './proration';
import { DomainError } from './domain-error';

/**
 * What a billing period's invoice says, line by line. Pure: the close-period
 * activity and the upcoming-invoice endpoint load the inputs and both call this.
 *
 * Base fee, in arrears for the period:
 *  - the plan in effect when the period (or a mid-period subscription) starts
 *    is charged in full, or prorated from a mid-period start;
 *  - each plan change credits the unused part of the old fee and charges the
 *    remaining part of the new one, two lines each rounded on its own;
 *  - a cancellation inside the period credits the unused part of the fee.
 * Usage: each priced meter's period quantity, priced by its model (with the
 * tier breakdown), priced by the plan in effect at the end of the period.
 * Late usage: events that arrived after an earlier period closed are billed
 * here as the difference between what that period's usage costs now and what
 * it was billed.
 * Prepaid credits: the units of a meter that credits covered (the events
 * burned them, billing/credit-burn.ts) are not billed again. A usage line
 * prices what credits left uncovered (the overage) and says how much they
 * covered; a late-usage line likewise, against what was billed net before.
 */

export type DraftLineKind = 'base_fee' | 'proration_credit' | 'proration_charge' | 'usage' | 'late_usage' | 'adjustment';

export interface PlanTerms {
  planId: string;
  name: string;
  baseFee: Dec;
}

export interface PlanChange {
  at: Date;
  from: PlanTerms;
  to: PlanTerms;
}

export interface MeterUsage {
  meterId: string;
  /** with the slice, for a dimensional meter's price */
  meterName: string;
  /** the dimension value its price is for (null: the whole meter, or the default slice) */
  dimensionValue: string | null;
  price: PriceModel;
  /** what was used (the snapshots' sum) */
  quantity: Dec;
  /** of it, the units prepaid credits covered: the line bills quantity less this */
  credited?: Dec;
  snapshotIds: string[];
  /** the stretch of the period this usage falls in, when a plan change split it (billing/usage-segments.ts) */
  segment?: { start: Date; end: Date; planName: string };
}

export interface LateUsage {
  meterId: string;
  meterName: string;
  dimensionValue: string | null;
  price: PriceModel;
  /** the earlier period the late events belong to (the stretch of it, when a plan change split it) */
  periodStart: Date;
  periodEnd: Date;
  /** the plan of that stretch, when a plan change split the period */
  planName?: string;
  /** that period's quantity including the late events, less what prepaid credits covered */
  quantity: Dec;
  /** the units prepaid credits covered in that period, the late events' included */
  credited?: Dec;
  /** what that period was billed for this meter so far (sum of its usage and late lines), and what credits covered on them */
  billedQuantity: Dec;
  billedCredited?: Dec;
  billedAmount: Dec;
  lateEvents: number;
  snapshotIds: string[];
}

export interface DraftInput {
  currency: string;
  periodStart: Date;
  /** exclusive */
  periodEnd: Date;
  prorationMode: ProrationMode;
  subscriptionStart: Date;
  /** the plan in effect at the later of the period start and the subscription start */
  initialPlan: PlanTerms;
  /** changes inside the period, oldest first */
  planChanges: PlanChange[];
  /** a cancellation that takes effect inside the period */
  canceledAt: Date | null;
  usage: MeterUsage[];
  late: LateUsage[];
}

export interface DraftLine {
  kind: DraftLineKind;
  description: string;
  meterId: string | null;
  /** usage of one dimension value of the meter (null: of the whole meter, or of its default slice) */
  dimensionValue: string | null;
  /** what the line bills (for usage: net of what prepaid credits covered) */
  quantity: Dec | null;
  /** the units prepaid credits covered, not billed (null: none) */
  creditedQuantity: Dec | null;
  includedUnits: Dec | null;
  /** rounded to the currency's minor unit, on its own */
  amount: Dec;
  tiers: TierCharge[];
  periodStart: Date;
  periodEnd: Date;
  snapshotIds: string[];
}

export interface Draft {
  lines: DraftLine[];
  /** the sum of the rounded lines */
  total: Dec;
}

export class InvalidDraftError extends DomainError {}

const within = (at: Date, start: Date, end: Date) => at.getTime() >= start.getTime() && at.getTime() < end.getTime();

function baseFeeLines(input: DraftInput): DraftLine[] {
  const { currency, periodStart, periodEnd, prorationMode: mode } = input;
  const flat = (kind: DraftLineKind, description: string, amount: Dec, from: Date): DraftLine => ({
    kind,
    description,
    meterId: null,
    dimensionValue: null,
    quantity: null,
    creditedQuantity: null,
    includedUnits: null,
    amount,
    tiers: [],
    periodStart: from,
    periodEnd,
    snapshotIds: [],
  });
  const lines: DraftLine[] = [];
  let current = input.initialPlan;
  if (input.subscriptionStart.getTime() > periodStart.getTime()) {
    if (!within(input.subscriptionStart, periodStart, periodEnd)) throw new InvalidDraftError('the subscription starts after the period');
    const { charge } = prorate({ periodStart, periodEnd, changeAt: input.subscriptionStart, fromAmount: dec(0), toAmount: current.baseFee, currency, mode });
    lines.push(flat('proration_charge', `${current.name}: base fee from ${formatDay(input.subscriptionStart)} (prorated)`, charge, input.subscriptionStart));
  } else {
    lines.push(flat('base_fee', `${current.name}: base fee`, roundMoney(current.baseFee, currency), periodStart));
  }
  for (const change of input.planChanges) {
    if (!within(change.at, periodStart, periodEnd)) throw new InvalidDraftError(`a plan change at ${change.at.toISOString()} lies outside the period`);
    const p = prorate({ periodStart, periodEnd, changeAt: change.at, fromAmount: change.from.baseFee, toAmount: change.to.baseFee, currency, mode });
    const day = formatDay(change.at);
    lines.push(flat('proration_credit', `${change.from.name}: unused base fee from ${day}`, p.credit, change.at));
    lines.push(flat('proration_charge', `${change.to.name}: remaining base fee from ${day}`, p.charge, change.at));
    current = change.to;
  }
  if (input.canceledAt && within(input.canceledAt, periodStart, periodEnd)) {
    const p = prorate({ periodStart, periodEnd, changeAt: input.canceledAt, fromAmount: current.baseFee, toAmount: dec(0), currency, mode });
    lines.push(flat('proration_credit', `${current.name}: unused base fee after cancellation on ${formatDay(input.canceledAt)}`, p.credit, input.canceledAt));
  }
  return lines;
}

/** Prices a meter's quantity; a price that cannot be computed is refused naming the meter and the field. */
function priceMeter(meterName: string, price: PriceModel, quantity: Dec, currency: string): ReturnType<typeof priceQuantity> {
  try {
    return priceQuantity(price, quantity, currency);
  } catch (err) {
    if (err instanceof InvalidPriceError) throw new InvalidDraftError(`the price of ${meterName}: ${err.field}: ${err.message}`);
    throw err;
  }
}

/** Covered units as a line keeps them: none is null. */
const creditedOrNull = (credited: Dec | undefined): Dec | null => (credited && !credited.isZero() ? credited : null);

/** What a usage description adds when credits covered part of it. */
function creditsNote(used: Dec, credited: Dec | null): string {
  if (!credited) return '';
  return credited.eq(used) ? ` (${used.toFixed()} used, all covered by prepaid credits)` : ` (${used.toFixed()} used, ${credited.toFixed()} covered by prepaid credits)`;
}

function usageLine(input: DraftInput, usage: MeterUsage): DraftLine {
  const credited = creditedOrNull(usage.credited);
  const billed = credited ? usage.quantity.minus(credited) : usage.quantity;
  const priced = priceMeter(usage.meterName, usage.price, billed, input.currency);
  const { segment } = usage;
  const what = segment ? `${usage.meterName}: usage on ${segment.planName}, ${formatDay(segment.start)} – ${formatDay(segment.end)}` : `${usage.meterName}: usage`;
  return {
    kind: 'usage',
    description: `${what}${creditsNote(usage.quantity, credited)}`,
    meterId: usage.meterId,
    dimensionValue: usage.dimensionValue,
    quantity: billed,
    creditedQuantity: credited,
    includedUnits: usage.price.includedUnits ?? dec(0),
    amount: roundMoney(priced.amount, input.currency),
    tiers: priced.tiers,
    periodStart: segment?.start ?? input.periodStart,
    periodEnd: segment?.end ?? input.periodEnd,
    snapshotIds: usage.snapshotIds,
  };
}

function lateLine(input: DraftInput, late: LateUsage): DraftLine {
  const priced = priceMeter(late.meterName, late.price, late.quantity, input.currency);
  const events = late.lateEvents === 1 ? '1 event' : `${late.lateEvents} events`;
  const credited = creditedOrNull((late.credited ?? dec(0)).minus(late.billedCredited ?? dec(0)));
  const covered = credited ? `; prepaid credits covered ${credited.toFixed()} more` : '';
  return {
    kind: 'late_usage',
    description: `${late.meterName}: adjustment for ${formatDay(late.periodStart)} – ${formatDay(late.periodEnd)}${late.planName ? ` on ${late.planName}` : ''}, ${events} received after that period closed${covered}`,
    meterId: late.meterId,
    dimensionValue: late.dimensionValue,
    quantity: late.quantity.minus(late.billedQuantity),
    creditedQuantity: credited,
    includedUnits: late.price.includedUnits ?? dec(0),
    amount: roundMoney(priced.amount.minus(late.billedAmount), input.currency),
    tiers: priced.tiers,
    periodStart: late.periodStart,
    periodEnd: late.periodEnd,
    snapshotIds: late.snapshotIds,
  };
}

/** The period's draft lines, in a stable order: base fee, usage, late usage. */
export function draftInvoice(input: DraftInput): Draft {
  const lines = [...baseFeeLines(input), ...input.usage.map((u) => usageLine(input, u)), ...input.late.map((l) => lateLine(input, l))];
  return { lines, total: sumLines(lines) };
}

/** An invoice's total: the sum of its rounded lines. */
export function sumLines(lines: readonly { amount: Dec }[]): Dec {
  return lines.reduce((total, line) => total.plus(line.amount), dec(0));
}

import { dec, Dec } from './decimal';

/*
 * Prepaid credits (issue 15): which grants a burn draws from. A wallet holds
 * grants; each grant's balance is derived from the ledger (prisma/credit-
 * ledger.ts), never stored. Pure rules, no clock: `now` comes in.
 */

export const GRANT_KINDS = ['purchased', 'promotional', 'recurring'] as const;
export type GrantKind = (typeof GRANT_KINDS)[number];

/** A grant as a burn sees it. */
export interface GrantBalance {
  id: string;
  /** lower burns first */
  priority: number;
  /** null: never expires */
  expiresAt: Date | null;
  createdAt: Date;
  /** credits left (its ledger account's balance) */
  balance: Dec;
}

/** A grant can be burned from at `now` when it has credits left and has not expired (expiry is exclusive: at expires_at it is gone). */
export const spendable = (g: GrantBalance, now: Date): boolean => g.balance.gt(0) && (g.expiresAt === null || g.expiresAt.getTime() > now.getTime());

/**
 * Burn order: priority (lowest first), then the soonest expiry (grants that
 * never expire last), then the oldest grant; the id settles ties so two
 * processes always agree.
 */
export function burnOrder<G extends GrantBalance>(grants: readonly G[], now: Date): G[] {
  const expiry = (g: GrantBalance) => (g.expiresAt === null ? Number.POSITIVE_INFINITY : g.expiresAt.getTime());
  return grants
    .filter((g) => spendable(g, now))
    .sort((a, b) => a.priority - b.priority || expiry(a) - expiry(b) || a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface Draw {
  grantId: string;
  credits: Dec;
}

export interface BurnPlan {
  draws: Draw[];
  /** what the spendable grants could not cover (0 when they could) */
  uncovered: Dec;
}

/**
 * Draws `credits` from the wallet's grants in burn order, each grant down to
 * zero before the next. What is left over is `uncovered`: the caller bills it
 * as overage, refuses it (prepaid only), or lets the wallet go into overdraft.
 */
export function planBurn(grants: readonly GrantBalance[], credits: Dec, now: Date): BurnPlan {
  if (credits.isNegative()) throw new RangeError(`cannot burn a negative amount of credits (${credits.toFixed()})`);
  let left = dec(credits);
  const draws: Draw[] = [];
  for (const g of burnOrder(grants, now)) {
    if (left.isZero()) break;
    const take = Dec.min(left, g.balance);
    draws.push({ grantId: g.id, credits: take });
    left = left.minus(take);
  }
  return { draws, uncovered: left };
}

/** A wallet's spendable balance at `now`: the sum of its unexpired grants' balances. */
export function walletBalance(grants: readonly GrantBalance[], now: Date): Dec {
  return grants.filter((g) => spendable(g, now)).reduce((sum, g) => sum.plus(g.balance), dec(0));
}

/** A burn table row (services/credit-burn-rates.ts) with what its meter reads. */
export interface BurnRate {
  meterId: string;
  eventType: string;
  /** only sum and count meters burn per event */
  aggregation: 'sum' | 'count';
  dimension: string | null;
  /** null: every value without a rate of its own */
  dimensionValue: string | null;
  credits: Dec;
  perUnits: Dec;
  effectiveFrom: Date;
  effectiveTo: Date | null;
}

/** An event as burning reads it: its type, quantity, time, and the values of the dimensions the rates' meters have. */
export interface BurnableEvent {
  eventType: string;
  quantity: Dec;
  timestamp: Date;
  dimensions: Readonly<Record<string, string | null>> | null;
}


/** What an event burns: its credits, and the meters whose rates priced it (their usage of it is billed net of credits). */
export interface EventBurn {
  credits: Dec;
  meterIds: string[];
}

/** A burn rate with credits ÷ per_units worked out once, as a fraction of integers: num ÷ den. */
interface PreparedRate {
  rate: BurnRate;
  num: bigint;
  den: bigint;
}

/** A non-negative decimal's digits as an integer and how many of them are decimals: "12.50" → [1250n, 2]. */
function scaled(text: string): [bigint, number] {
  const dot = text.indexOf('.');
  return dot < 0 ? [BigInt(text), 0] : [BigInt(text.slice(0, dot) + text.slice(dot + 1)), text.length - dot - 1];
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** credits ÷ per_units as num ÷ den: (C ÷ 10^b) ÷ (P ÷ 10^d) = C·10^d ÷ (P·10^b). */
function rateFraction(rate: BurnRate): { num: bigint; den: bigint } {
  const [c, b] = scaled(rate.credits.toFixed());
  const [p, d] = scaled(rate.perUnits.toFixed());
  return { num: c * pow10(d), den: p * pow10(b) };
}

/** The rates of one meter, in the table's order (the first rate's dimension is the meter's). */
interface PreparedMeter {
  meterId: string;
  rates: PreparedRate[];
}

/** Burn rates arranged for looking up events: per event type, its meters in first-seen order. */
const preparedTables = new WeakMap<readonly BurnRate[], Map<string, PreparedMeter[]>>();

function prepared(rates: readonly BurnRate[]): Map<string, PreparedMeter[]> {
  const cached = preparedTables.get(rates);
  if (cached) return cached;
  const byType = new Map<string, PreparedMeter[]>();
  for (const rate of rates) {
    const meters = byType.get(rate.eventType) ?? [];
    if (meters.length === 0) byType.set(rate.eventType, meters);
    let meter = meters.find((m) => m.meterId === rate.meterId);
    if (!meter) meters.push((meter = { meterId: rate.meterId, rates: [] }));
    meter.rates.push({ rate, ...rateFraction(rate) });
  }
  preparedTables.set(rates, byType);
  return byType;
}

/**
 * The rate that prices an event for one meter at `at`: the rate in effect for the event's dimension value, else the
 * meter's default; none when neither is in effect, or when the chosen rate is 0 (a rate of 0 burns nothing, so
 * nothing covers the meter's usage: it is invoiced at the plan's price).
 */
function chosenRate(meter: PreparedMeter, at: number, dimensions: Readonly<Record<string, string | null>> | null): PreparedRate | undefined {
  let fallback: PreparedRate | undefined;
  let own: PreparedRate | undefined;
  let value: string | null | undefined;
  for (const p of meter.rates) {
    const r = p.rate;
    if (r.effectiveFrom.getTime() > at || (r.effectiveTo !== null && r.effectiveTo.getTime() <= at)) continue;
    // (the dimension of the first rate in effect is the meter's)
    if (value === undefined) value = r.dimension ? (dimensions?.[r.dimension] ?? null) : null;
    if (r.dimensionValue === null) fallback ??= p;
    else if (r.dimensionValue === value) own ??= p;
  }
  const chosen = own ?? fallback;
  return chosen && !chosen.rate.credits.isZero() ? chosen : undefined;
}

/**
 * The credits an event burns: for each meter of its type, its units (a sum meter's: the quantity; a count
 * meter's: one) at the rate in effect at the event's timestamp, the rate for its dimension value before the
 * meter's default; their sum rounded once to the ledger's 6 decimals, half away from zero. Worked out exactly,
 * in integers (each units × credits ÷ per_units a fraction): 40-digit decimals would round each term of a
 * divisor like 30 on its own, and three such terms can sum to just under a half and round the other way. A
 * meter with no rate in effect for it, or a rate of 0, is not among `meterIds` (its usage is invoiced). The
 * rates are arranged by event type once per table (kept while the caller keeps the array).
 */
export function eventBurn(rates: readonly BurnRate[], event: BurnableEvent): EventBurn {
  const meterIds: string[] = [];
  const micro = microCredits(rates, event.eventType, () => event.quantity.toFixed(), event.timestamp, event.dimensions, meterIds);
  return { credits: fromMicroCredits(micro), meterIds };
}

/** An event as the ingest batch's burn reads it from its row: the quantity as PostgreSQL prints a numeric. */
export interface StoredBurnableEvent {
  eventType: string;
  /** a non-negative decimal ("2000", "0.333000") */
  quantity: string;
  timestamp: Date;
  dimensions: Readonly<Record<string, string | null>> | null;
}

/**
 * eventBurn's credits in millionths of a credit, without a decimal or an array per event: what the ingest batch
 * burns with (activities/ingest-steps.ts planBatchBurn), so a 1,000-event batch leaves little for the garbage
 * collector.
 */
export function eventMicroCredits(rates: readonly BurnRate[], event: StoredBurnableEvent): bigint {
  return microCredits(rates, event.eventType, () => event.quantity, event.timestamp, event.dimensions, null);
}

const MICRO = 1_000_000n;

/** The rule of eventBurn in millionths, adding the meters that priced the event to `meterIds` when given. Quantities are never negative (services/schemas/decimal.ts). */
function microCredits(
  rates: readonly BurnRate[],
  eventType: string,
  quantity: () => string,
  timestamp: Date,
  dimensions: Readonly<Record<string, string | null>> | null,
  meterIds: string[] | null,
): bigint {
  let num = 0n;
  let den = 1n;
  let units: [bigint, number] | undefined;
  const at = timestamp.getTime();
  for (const meter of prepared(rates).get(eventType) ?? []) {
    const chosen = chosenRate(meter, at, dimensions);
    if (!chosen) continue;
    meterIds?.push(meter.meterId);
    // units × num ÷ den, units being U ÷ 10^a (a count meter's: 1)
    let termNum = chosen.num;
    let termDen = chosen.den;
    if (chosen.rate.aggregation !== 'count') {
      units ??= scaled(quantity());
      termNum *= units[0];
      termDen *= pow10(units[1]);
    }
    if (den === termDen) num += termNum;
    else [num, den] = [num * termDen + termNum * den, den * termDen];
  }
  if (num === 0n) return 0n;
  // num × 10^6 ÷ den to the nearest integer, half away from zero (num ≥ 0)
  return (2n * num * MICRO + den) / (2n * den);
}

/** Millionths of a credit (eventMicroCredits) as the ledger's decimal. */
export const fromMicroCredits = (micro: bigint): Dec => dec(micro.toString()).div(1_000_000);

/**
 * Which events a burn's uncovered credits fall on: a wallet covers its
 * batch's events in their order (the caller's: timestamp, then id) until it
 * runs out, so the uncovered part is the tail — the last events wholly, the
 * one where the wallet ran out in part. Returns each event's uncovered
 * credits, in the order given; they sum to `uncovered` (which cannot exceed
 * the events' credits).
 */
export function allocateUncovered(credits: readonly Dec[], uncovered: Dec): Dec[] {
  const total = credits.reduce((s, c) => s.plus(c), dec(0));
  if (uncovered.isNegative() || uncovered.gt(total)) throw new RangeError(`uncovered credits ${uncovered.toFixed()} are not within 0 and the events' ${total.toFixed()}`);
  let left = dec(uncovered);
  const result = credits.map(() => dec(0));
  for (let i = credits.length - 1; i >= 0 && left.gt(0); i--) {
    const take = Dec.min(left, credits[i]!);
    result[i] = take;
    left = left.minus(take);
  }
  return result;
}

/**
 * The units of an event an invoice bills for a meter it burned credits for:
 * its uncovered share (uncovered / credits of its units, to 6 decimals, half
 * up); all of them when it burned no credits (nothing was drawn to cover
 * them). prisma/usage-aggregates.ts creditedSql is this rule in SQL (as the
 * units covered: units less these).
 */
export function billableUnits(units: Dec, credits: Dec, uncovered: Dec): Dec {
  if (credits.isZero()) return units;
  return units.times(uncovered).div(credits).toDecimalPlaces(6, Dec.ROUND_HALF_UP);
}

/** Whether a prepaid-only customer's wallet covers what it is about to use, and why, in words. */
export interface CreditVerdict {
  allowed: boolean;
  reason: string;
  /** credits the usage would burn at the rates in effect */
  required: Dec;
  /** the wallet's spendable balance */
  balance: Dec;
}

/**
 * The entitlement check's answer for a customer on a prepaid-only plan
 * (issue 15, point 4): usage is allowed when the wallet's spendable balance
 * covers the credits it would burn; usage that burns no credits (no rate
 * for its meters) is allowed, as there is nothing to pay.
 */
export function judgeCredits(q: { planKey: string; eventType: string; quantity: Dec; required: Dec; balance: Dec }): CreditVerdict {
  const { planKey, eventType, required, balance } = q;
  const base = { required, balance };
  if (required.isZero()) return { ...base, allowed: true, reason: `plan ${planKey} is prepaid only, and ${eventType} burns no credits` };
  if (balance.gte(required)) {
    return { ...base, allowed: true, reason: `plan ${planKey} is prepaid only: ${q.quantity.toFixed()} ${eventType} needs ${required.toFixed()} credits, and the wallet has ${balance.toFixed()}` };
  }
  return {
    ...base,
    allowed: false,
    reason: `plan ${planKey} is prepaid only: ${q.quantity.toFixed()} ${eventType} needs ${required.toFixed()} credits, but the wallet has ${balance.toFixed()}; add credits first`,
  };
}

import { dec, toPlainString, type Dec } from './decimal';

/**
 * What a vendor charges, by the part of a usage line it prices. Token prices
 * are per million tokens, unit prices per image, second or request. A price
 * the rate does not set is null: cached and cache-write input fall back to
 * the input price and reasoning to the output price (vendors bill them so
 * unless they publish their own); any other count with no price leaves the
 * line unpriced (its cost unknown, never zero).
 */
export interface RatePrices {
  inputPerMillionTokens: string | null;
  outputPerMillionTokens: string | null;
  cachedInputPerMillionTokens?: string | null;
  cacheWritePerMillionTokens?: string | null;
  reasoningPerMillionTokens?: string | null;
  perImage?: string | null;
  perSecond?: string | null;
  perRequest?: string | null;
}

/** A vendor's prices for one model, and when they apply. */
export interface TokenRate extends RatePrices {
  id: string;
  vendor: string;
  model: string;
  currency: string;
  effectiveFrom: Date;
  effectiveTo: Date | null;
}

/** The counts a usage line may carry, each priced by one of the rate's prices. */
export interface UsageCounts {
  /** input tokens not read from or written to a prompt cache */
  input_tokens?: number;
  /** input tokens read from the vendor's prompt cache (not in input_tokens) */
  cached_input_tokens?: number;
  /** input tokens written to the vendor's prompt cache (not in input_tokens) */
  cache_write_tokens?: number;
  /** output tokens, reasoning excluded */
  output_tokens?: number;
  /** reasoning ("thinking") tokens (not in output_tokens) */
  reasoning_tokens?: number;
  images?: number;
  /** audio or video seconds, up to 6 decimals */
  seconds?: number;
  requests?: number;
}

export interface TokenUsage extends UsageCounts {
  vendor: string;
  model: string;
}

export type UsageCount = keyof UsageCounts;
type PriceKey = keyof RatePrices;

/** Each count, the price it takes (then the fallback when unset), and what the price is per. */
export const USAGE_PRICING: readonly { count: UsageCount; price: PriceKey; fallback?: PriceKey; per: number }[] = [
  { count: 'input_tokens', price: 'inputPerMillionTokens', per: 1_000_000 },
  { count: 'cached_input_tokens', price: 'cachedInputPerMillionTokens', fallback: 'inputPerMillionTokens', per: 1_000_000 },
  { count: 'cache_write_tokens', price: 'cacheWritePerMillionTokens', fallback: 'inputPerMillionTokens', per: 1_000_000 },
  { count: 'output_tokens', price: 'outputPerMillionTokens', per: 1_000_000 },
  { count: 'reasoning_tokens', price: 'reasoningPerMillionTokens', fallback: 'outputPerMillionTokens', per: 1_000_000 },
  { count: 'images', price: 'perImage', per: 1 },
  { count: 'seconds', price: 'perSecond', per: 1 },
  { count: 'requests', price: 'perRequest', per: 1 },
];

export const USAGE_COUNTS: readonly UsageCount[] = USAGE_PRICING.map((p) => p.count);

/**
 * Each price of a rate: its name in the API and the web form, which is also
 * its column in vendor_rates, and what it is, in words.
 */
export const RATE_PRICES = [
  { key: 'inputPerMillionTokens', name: 'input_per_million_tokens', label: 'Input, per million tokens', description: 'Per million input tokens (not read from or written to a prompt cache)', example: '2.50' },
  { key: 'outputPerMillionTokens', name: 'output_per_million_tokens', label: 'Output, per million tokens', description: 'Per million output tokens (reasoning tokens excluded)', example: '10.00' },
  {
    key: 'cachedInputPerMillionTokens',
    name: 'cached_input_per_million_tokens',
    label: 'Cached input (cache reads), per million tokens',
    description: "Per million input tokens read from the vendor's prompt cache; unset: the input price",
    example: '1.25',
  },
  {
    key: 'cacheWritePerMillionTokens',
    name: 'cache_write_per_million_tokens',
    label: 'Cache writes, per million tokens',
    description: "Per million input tokens written to the vendor's prompt cache; unset: the input price",
    example: '3.125',
  },
  { key: 'reasoningPerMillionTokens', name: 'reasoning_per_million_tokens', label: 'Reasoning, per million tokens', description: 'Per million reasoning ("thinking") tokens; unset: the output price', example: '10.00' },
  { key: 'perImage', name: 'per_image', label: 'Per image', description: 'Per image generated or read', example: '0.04' },
  { key: 'perSecond', name: 'per_second', label: 'Per second', description: 'Per second of audio or video', example: '0.0001' },
  { key: 'perRequest', name: 'per_request', label: 'Per request', description: 'Per request (a search, a tool call)', example: '0.005' },
] as const satisfies readonly { key: PriceKey; name: string; label: string; description: string; example: string }[];

export type RatePriceName = (typeof RATE_PRICES)[number]['name'];

/** A rate's prices in words, the ones it sets only: "Input, per million tokens 2.5; Per image 0.04". */
export function describePrices(rate: Partial<Record<RatePriceName, string | null>>): string {
  return RATE_PRICES.filter(({ name }) => rate[name] != null)
    .map(({ name, label }) => `${label} ${rate[name]}`)
    .join('; ');
}

export type LinePrice = { ok: true; cost: Dec } | { ok: false; unpricedCounts: UsageCount[] };

/**
 * Exact, unrounded cost of one usage line at a rate (rounding happens per
 * invoice line), or the counts the rate has no price for (then the line is
 * unpriced as a whole: a part-priced line would pass for a cheap one).
 */
export function linePrice(rate: RatePrices, usage: UsageCounts): LinePrice {
  let cost = dec(0);
  const unpricedCounts: UsageCount[] = [];
  for (const { count, price, fallback, per } of USAGE_PRICING) {
    const n = usage[count];
    if (n === undefined || n === 0) continue;
    const unit = rate[price] ?? (fallback ? rate[fallback] : null) ?? null;
    if (unit === null) unpricedCounts.push(count);
    else cost = cost.plus(dec(unit).times(n).div(per));
  }
  return unpricedCounts.length ? { ok: false, unpricedCounts } : { ok: true, cost };
}

/** The rate for vendor+model in effect at `at`: effectiveFrom ≤ at < effectiveTo; the latest start wins. */
export function rateInEffect<R extends Pick<TokenRate, 'vendor' | 'model' | 'effectiveFrom' | 'effectiveTo'>>(
  rates: readonly R[],
  vendor: string,
  model: string,
  at: Date,
): R | undefined {
  let best: R | undefined;
  for (const rate of rates) {
    if (rate.vendor !== vendor || rate.model !== model) continue;
    if (rate.effectiveFrom.getTime() > at.getTime()) continue;
    if (rate.effectiveTo && rate.effectiveTo.getTime() <= at.getTime()) continue;
    if (!best || rate.effectiveFrom.getTime() > best.effectiveFrom.getTime()) best = rate;
  }
  return best;
}

export interface RatedUsage {
  cost: Dec;
  rateIds: string[];
  /** usage lines with no rate in effect, a count their rate has no price for, or a cost past MAX_EVENT_COST (cost for those is unknown, not zero) */
  unrated: TokenUsage[];
}

/**
 * An event's cost is stored in numeric(24,12): below 10^12. A line that would
 * take it there (a count of 10^13 images, say) is left unpriced like one
 * without a price, rather than failing the batch that holds the event.
 */
export const MAX_EVENT_COST = dec('1e12');

/**
 * Cost of all vendor usage lines of one event at its timestamp. `base` is
 * what the event's cost already holds (a re-rate adds to it), for the
 * MAX_EVENT_COST bound only.
 */
export function rateVendorUsage(rates: readonly TokenRate[], usage: readonly TokenUsage[], at: Date, base: Dec = dec(0)): RatedUsage {
  let cost = dec(0);
  const rateIds: string[] = [];
  const unrated: TokenUsage[] = [];
  for (const line of usage) {
    const rate = rateInEffect(rates, line.vendor, line.model, at);
    const priced = rate && linePrice(rate, line);
    if (!rate || !priced?.ok || base.plus(cost).plus(priced.cost).gte(MAX_EVENT_COST)) {
      unrated.push(line);
      continue;
    }
    cost = cost.plus(priced.cost);
    if (!rateIds.includes(rate.id)) rateIds.push(rate.id);
  }
  return { cost, rateIds, unrated };
}

/**
 * An event's stored vendor_usage split into lines that can be priced and
 * lines of the wrong shape (reported as unpriced rather than failing the
 * event or being priced at zero). A value that is not an array counts as one
 * line.
 */
export function splitVendorUsage(value: unknown): { lines: TokenUsage[]; malformed: unknown[] } {
  const lines: TokenUsage[] = [];
  const malformed: unknown[] = [];
  for (const line of Array.isArray(value) ? value : [value]) {
    if (isTokenUsage(line)) lines.push(line);
    else malformed.push(line);
  }
  return { lines, malformed };
}

/**
 * Vendor and model names and counts (any of them; none costs nothing): token,
 * image and request counts whole numbers, seconds with up to 6 decimals, each
 * below 10^15. Lines stored before the other counts existed carry
 * input_tokens and output_tokens, and still read.
 */
function isTokenUsage(line: unknown): line is TokenUsage {
  if (typeof line !== 'object' || line === null || Array.isArray(line)) return false;
  const l = line as Record<string, unknown>;
  if (typeof l.vendor !== 'string' || typeof l.model !== 'string') return false;
  return USAGE_COUNTS.every((count) => l[count] === undefined || isUsageCount(count, l[count]));
}

/** A count's value as ingest takes it: see isTokenUsage. */
export function isUsageCount(count: UsageCount, v: unknown): v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1e15) return false;
  return count === 'seconds' ? /^\d+(\.\d{1,6})?$/.test(String(v)) : Number.isInteger(v);
}

export { toPlainString };

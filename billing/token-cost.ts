import { dec, toPlainString, type Dec } from './decimal';

/** A vendor's token prices, per one million tokens, and when they apply. */
export interface TokenRate {
  id: string;
  vendor: string;
  model: string;
  currency: string;
  inputPerMillionTokens: string;
  outputPerMillionTokens: string;
  effectiveFrom: Date;
  effectiveTo: Date | null;
}

export interface TokenUsage {
  vendor: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
}

const MILLION = 1_000_000;

/** Exact, unrounded cost of one usage line (rounding happens per invoice line). */
export function tokenCost(rate: Pick<TokenRate, 'inputPerMillionTokens' | 'outputPerMillionTokens'>, inputTokens: number, outputTokens: number): Dec {
  const input = dec(rate.inputPerMillionTokens).times(inputTokens).div(MILLION);
  const output = dec(rate.outputPerMillionTokens).times(outputTokens).div(MILLION);
  return input.plus(output);
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
  /** usage lines with no rate in effect (cost for those is unknown, not zero) */
  unrated: TokenUsage[];
}

/** Cost of all vendor usage lines of one event at its timestamp. */
export function rateVendorUsage(rates: readonly TokenRate[], usage: readonly TokenUsage[], at: Date): RatedUsage {
  let cost = dec(0);
  const rateIds: string[] = [];
  const unrated: TokenUsage[] = [];
  for (const line of usage) {
    const rate = rateInEffect(rates, line.vendor, line.model, at);
    if (!rate) {
      unrated.push(line);
      continue;
    }
    cost = cost.plus(tokenCost(rate, line.input_tokens, line.output_tokens));
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

/** Vendor and model names, and token counts that are whole numbers of at most 15 digits. */
function isTokenUsage(line: unknown): line is TokenUsage {
  if (typeof line !== 'object' || line === null || Array.isArray(line)) return false;
  const l = line as Record<string, unknown>;
  const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1e15;
  return typeof l.vendor === 'string' && typeof l.model === 'string' && count(l.input_tokens) && count(l.output_tokens);
}

export { toPlainString };

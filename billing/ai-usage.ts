import type { UsageCounts } from './token-cost';

/*
 * What an AI vendor's response says a call used, as a vendor_usage line's counts (billing/token-cost.ts prices
 * them). Pure: the proxy (proxy/) reads the usage objects from responses and streams; the SDKs' helpers follow
 * the same mapping. Each vendor counts differently:
 *
 * - OpenAI: prompt_tokens includes the cached ones (prompt_tokens_details.cached_tokens) and completion_tokens
 *   includes the reasoning ones (completion_tokens_details.reasoning_tokens); ours are disjoint, so input is
 *   prompt − cached and output is completion − reasoning. Embeddings report prompt_tokens only.
 * - Anthropic: input_tokens already excludes cache reads (cache_read_input_tokens) and writes
 *   (cache_creation_input_tokens); output_tokens includes thinking, which Anthropic does not report apart.
 */

const count = (value: unknown): number => (typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0);
const field = (object: unknown, key: string): unknown => (object !== null && typeof object === 'object' ? (object as Record<string, unknown>)[key] : undefined);

/** Only the counts that are not zero: a line says what was used. */
function nonZero(counts: Required<Pick<UsageCounts, 'input_tokens' | 'cached_input_tokens' | 'cache_write_tokens' | 'output_tokens' | 'reasoning_tokens'>>): UsageCounts {
  return Object.fromEntries(Object.entries(counts).filter(([, v]) => v > 0)) as UsageCounts;
}

/**
 * An OpenAI `usage` object as our counts: chat completions, a stream's last chunk and embeddings name them
 * prompt/completion tokens; the Responses API names them input/output tokens, with the same inclusive cached and
 * reasoning details.
 */
export function openAiUsageCounts(usage: unknown): UsageCounts {
  const responses = field(usage, 'prompt_tokens') === undefined && field(usage, 'input_tokens') !== undefined;
  const [inName, outName] = responses ? ['input_tokens', 'output_tokens'] : ['prompt_tokens', 'completion_tokens'];
  const prompt = count(field(usage, inName));
  const completion = count(field(usage, outName));
  const cached = Math.min(prompt, count(field(field(usage, `${inName}_details`), 'cached_tokens')));
  const reasoning = Math.min(completion, count(field(field(usage, `${outName}_details`), 'reasoning_tokens')));
  return nonZero({ input_tokens: prompt - cached, cached_input_tokens: cached, cache_write_tokens: 0, output_tokens: completion - reasoning, reasoning_tokens: reasoning });
}

/** An Anthropic `usage` object (a message, or a stream's message_start merged with its last message_delta) as our counts. */
export function anthropicUsageCounts(usage: unknown): UsageCounts {
  return nonZero({
    input_tokens: count(field(usage, 'input_tokens')),
    cached_input_tokens: count(field(usage, 'cache_read_input_tokens')),
    cache_write_tokens: count(field(usage, 'cache_creation_input_tokens')),
    output_tokens: count(field(usage, 'output_tokens')),
    reasoning_tokens: 0,
  });
}

/** Every token a line counts: the event's quantity for a call. */
export function totalTokens(counts: UsageCounts): number {
  return (counts.input_tokens ?? 0) + (counts.cached_input_tokens ?? 0) + (counts.cache_write_tokens ?? 0) + (counts.output_tokens ?? 0) + (counts.reasoning_tokens ?? 0);
}

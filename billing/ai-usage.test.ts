import { anthropicUsageCounts, openAiUsageCounts, totalTokens } from './ai-usage';

describe('openAiUsageCounts', () => {
  it('splits cached input and reasoning output out of OpenAI\'s totals, so no token is counted twice', () => {
    const counts = openAiUsageCounts({
      prompt_tokens: 1200,
      completion_tokens: 300,
      total_tokens: 1500,
      prompt_tokens_details: { cached_tokens: 1000 },
      completion_tokens_details: { reasoning_tokens: 120 },
    });
    expect(counts).toEqual({ input_tokens: 200, cached_input_tokens: 1000, output_tokens: 180, reasoning_tokens: 120 });
    expect(totalTokens(counts)).toBe(1500);
  });

  it('reads an embeddings usage (prompt tokens only) and ignores what is not a count', () => {
    expect(openAiUsageCounts({ prompt_tokens: 8, total_tokens: 8 })).toEqual({ input_tokens: 8 });
    expect(openAiUsageCounts({ prompt_tokens: -3, completion_tokens: '7', prompt_tokens_details: null })).toEqual({});
    expect(openAiUsageCounts(undefined)).toEqual({});
    // a cached count larger than the prompt (a vendor bug) cannot make input negative
    expect(openAiUsageCounts({ prompt_tokens: 5, prompt_tokens_details: { cached_tokens: 9 } })).toEqual({ cached_input_tokens: 5 });
  });

  it('reads the Responses API\'s usage, which names the same inclusive totals input and output tokens', () => {
    const counts = openAiUsageCounts({
      input_tokens: 900,
      input_tokens_details: { cached_tokens: 600 },
      output_tokens: 250,
      output_tokens_details: { reasoning_tokens: 200 },
      total_tokens: 1150,
    });
    expect(counts).toEqual({ input_tokens: 300, cached_input_tokens: 600, output_tokens: 50, reasoning_tokens: 200 });
    expect(totalTokens(counts)).toBe(1150);
  });
});

describe('anthropicUsageCounts', () => {
  it('maps cache reads and writes, which Anthropic already reports apart from input_tokens', () => {
    const counts = anthropicUsageCounts({ input_tokens: 25, cache_creation_input_tokens: 100, cache_read_input_tokens: 2000, output_tokens: 410 });
    expect(counts).toEqual({ input_tokens: 25, cache_write_tokens: 100, cached_input_tokens: 2000, output_tokens: 410 });
    expect(totalTokens(counts)).toBe(2535);
  });
});

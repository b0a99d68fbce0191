/*
 * OpenAI and Anthropic responses as an event's `vendor_response`: the vendor, the response id, the model and the
 * usage object as the vendor sent it. The API reads the usage into token counts (cached and reasoning tokens
 * apart), the same way its AI proxy does, so this file only finds those three fields: it holds no mapping of its own.
 */

export type Vendor = 'openai' | 'anthropic';

export interface VendorResponse {
  vendor: Vendor;
  response: { id?: string; model: string; usage: Record<string, unknown> };
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Which vendor answered: Anthropic's messages say type "message"; OpenAI's objects say what they are in `object`. */
function vendorOf(response: Json): Vendor | undefined {
  if (response.type === 'message') return 'anthropic';
  if (typeof response.object === 'string') return 'openai';
  const usage = response.usage;
  if (isObject(usage) && 'prompt_tokens' in usage) return 'openai';
  if (isObject(usage) && ('cache_read_input_tokens' in usage || 'cache_creation_input_tokens' in usage)) return 'anthropic';
  return undefined;
}

/**
 * The id, model and usage of a response object from the official `openai` or `@anthropic-ai/sdk` clients (chat
 * completions, embeddings, the Responses API, messages). Throws a TypeError naming what is missing: a response
 * without usage cannot be metered.
 */
export function vendorResponse(response: unknown, vendor?: Vendor): VendorResponse {
  if (!isObject(response)) throw new TypeError('response must be the response object of an OpenAI or Anthropic call');
  const who = vendor ?? vendorOf(response);
  if (!who) throw new TypeError('cannot tell whether response is OpenAI\'s or Anthropic\'s; pass vendor');
  if (!isObject(response.usage)) throw new TypeError(`the ${who} response has no usage object${who === 'openai' ? ' (a stream reports it only with stream_options: { include_usage: true })' : ''}`);
  if (typeof response.model !== 'string' || response.model === '') throw new TypeError(`the ${who} response has no model`);
  return { vendor: who, response: { ...(typeof response.id === 'string' ? { id: response.id } : {}), model: response.model, usage: response.usage } };
}

/**
 * Reads usage off a stream's chunks as they pass: OpenAI's chunks carry id and model, and the last one the usage
 * (when the request asked for it with stream_options.include_usage); Anthropic's message_start carries the id,
 * model and input usage, and each message_delta the usage so far.
 */
export class StreamUsage {
  private id: string | undefined;
  private model: string | undefined;
  private usage: Json | undefined;
  private vendor: Vendor | undefined;

  constructor(vendor?: Vendor) {
    this.vendor = vendor;
  }

  see(chunk: unknown): void {
    if (!isObject(chunk)) return;
    if (chunk.type === 'message_start' && isObject(chunk.message)) {
      this.vendor ??= 'anthropic';
      const { id, model, usage } = chunk.message;
      if (typeof id === 'string') this.id = id;
      if (typeof model === 'string') this.model = model;
      if (isObject(usage)) this.usage = { ...usage };
    } else if (chunk.type === 'message_delta' && isObject(chunk.usage)) {
      this.vendor ??= 'anthropic';
      // Anthropic's delta repeats the running totals; a null is a count it does not report here.
      const reported = Object.fromEntries(Object.entries(chunk.usage).filter(([, v]) => v !== null && v !== undefined));
      this.usage = { ...(this.usage ?? {}), ...reported };
    } else if (chunk.object === 'chat.completion.chunk') {
      this.vendor ??= 'openai';
      if (typeof chunk.id === 'string') this.id ??= chunk.id;
      if (typeof chunk.model === 'string') this.model ??= chunk.model;
      if (isObject(chunk.usage)) this.usage = chunk.usage;
    }
  }

  /** The response as far as the stream went; undefined when no chunk said who or what answered. */
  result(): VendorResponse | undefined {
    if (!this.vendor || !this.model) return undefined;
    return { vendor: this.vendor, response: { ...(this.id ? { id: this.id } : {}), model: this.model, usage: this.usage ?? {} } };
  }

  /** Whether the vendor reported usage (an OpenAI stream does only when asked to). */
  get reported(): boolean {
    return this.usage !== undefined;
  }
}

/**
 * The same chunks, in order, as the stream gives them; once it ends (or the caller stops reading, or it fails),
 * `done` gets what was used and whether the stream was read to its end.
 */
export async function* meterStream<Chunk>(stream: AsyncIterable<Chunk>, done: (usage: StreamUsage, complete: boolean) => void, vendor?: Vendor): AsyncGenerator<Chunk, void, undefined> {
  const usage = new StreamUsage(vendor);
  let complete = false;
  try {
    for await (const chunk of stream) {
      usage.see(chunk);
      yield chunk;
    }
    complete = true;
  } finally {
    done(usage, complete);
  }
}

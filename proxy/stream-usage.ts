import { anthropicUsageCounts, openAiUsageCounts } from '../billing/ai-usage';
import type { UsageCounts } from '../billing/token-cost';
import type { ProxyVendor } from '../services/proxy-upstreams';

/*
 * Reading a vendor's server-sent events as they pass through the proxy, chunk by chunk, for what the call
 * used: OpenAI's last chunk carries `usage` (the proxy asks for it with stream_options.include_usage);
 * Anthropic's message_start carries the input side and each message_delta the output so far. Pure: fed the
 * bytes the client is sent, never holding more than one unfinished event.
 */

export interface SseEvent {
  event: string | null;
  data: string;
  /** the event as it came, with the blank line that ended it */
  raw: string;
}

/** Splits a byte stream into server-sent events; a chunk may end anywhere, even inside a line. */
export class SseReader {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  feed(chunk: Uint8Array): SseEvent[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r?\n\r?\n/.exec(this.buffer);
      if (!match) break;
      const block = this.buffer.slice(0, match.index);
      const raw = this.buffer.slice(0, match.index + match[0].length);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      let event: string | null = null;
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
      if (data.length > 0) events.push({ event, data: data.join('\n'), raw });
    }
    return events;
  }
}

/** What a call's stream (or response) showed it used. */
export interface CallUsage {
  /** the vendor's id for the response (chatcmpl-…, msg_…), when it sent one */
  id: string | null;
  model: string | null;
  counts: UsageCounts;
  /** the vendor reported the final usage (a stream that ended early has only part of it) */
  complete: boolean;
  /** content deltas seen: about one token each, the estimate when a stream ended before its usage */
  deltas: number;
  /** the vendor sent an error event inside the stream */
  errored: boolean;
}

const parse = (data: string): Record<string, unknown> | null => {
  try {
    const value: unknown = JSON.parse(data);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Follows an OpenAI chat completions stream; returns the events the chunk completed, `usageOnly` marking the chunk that carries only the usage. */
export class OpenAiStreamUsage {
  private readonly reader = new SseReader();
  readonly usage: CallUsage = { id: null, model: null, counts: {}, complete: false, deltas: 0, errored: false };

  feed(chunk: Uint8Array): (SseEvent & { usageOnly?: boolean })[] {
    const events: (SseEvent & { usageOnly?: boolean })[] = this.reader.feed(chunk);
    for (const e of events) {
      if (e.data === '[DONE]') continue;
      const body = parse(e.data);
      if (!body) continue;
      if (body.error) {
        this.usage.errored = true;
        continue;
      }
      this.usage.id ??= text(body.id);
      this.usage.model ??= text(body.model);
      const choices = Array.isArray(body.choices) ? (body.choices as { delta?: { content?: unknown; tool_calls?: unknown } }[]) : [];
      if (choices.some((c) => c.delta?.content || c.delta?.tool_calls)) this.usage.deltas++;
      if (body.usage) {
        this.usage.counts = openAiUsageCounts(body.usage);
        this.usage.complete = true;
        e.usageOnly = choices.length === 0;
      }
    }
    return events;
  }
}

/** Follows an Anthropic messages stream. */
export class AnthropicStreamUsage {
  private readonly reader = new SseReader();
  private raw: Record<string, unknown> = {};
  readonly usage: CallUsage = { id: null, model: null, counts: {}, complete: false, deltas: 0, errored: false };

  feed(chunk: Uint8Array): SseEvent[] {
    const events = this.reader.feed(chunk);
    for (const e of events) {
      const body = parse(e.data);
      if (!body) continue;
      const type = e.event ?? text(body.type);
      if (type === 'error') this.usage.errored = true;
      else if (type === 'message_start') {
        const message = (body.message ?? {}) as Record<string, unknown>;
        this.usage.id ??= text(message.id);
        this.usage.model ??= text(message.model);
        this.raw = { ...((message.usage ?? {}) as Record<string, unknown>) };
      } else if (type === 'message_delta') {
        // Cumulative counts: a later delta replaces what an earlier one said, count by count (a null says nothing).
        for (const [key, value] of Object.entries((body.usage ?? {}) as Record<string, unknown>)) if (typeof value === 'number') this.raw[key] = value;
      } else if (type === 'content_block_delta') {
        this.usage.deltas++;
      } else if (type === 'message_stop') {
        this.usage.complete = true;
      }
      this.usage.counts = anthropicUsageCounts(this.raw);
    }
    return events;
  }
}

/** What a whole (not streamed) response says the call used: the same fields a stream's events carry. */
export function wholeResponseUsage(vendor: ProxyVendor, whole: Buffer): CallUsage {
  // (not JSON: no usage to read; the event still records the call)
  const body = parse(whole.toString('utf8')) ?? {};
  const counts = vendor === 'openai' ? openAiUsageCounts(body.usage) : anthropicUsageCounts(body.usage);
  return { id: text(body.id), model: text(body.model), counts, complete: true, deltas: 0, errored: false };
}

import { AnthropicStreamUsage, OpenAiStreamUsage, SseReader } from './stream-usage';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('SseReader', () => {
  it('gives whole events whatever the chunk boundaries, CRLF or LF, with multi-line data joined', () => {
    const stream = 'event: ping\r\ndata: {"a":1}\r\n\r\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n';
    for (const size of [1, 3, 7, stream.length]) {
      const reader = new SseReader();
      const events = [];
      for (let i = 0; i < stream.length; i += size) events.push(...reader.feed(bytes(stream.slice(i, i + size))));
      expect(events.map(({ event, data }) => ({ event, data }))).toEqual([
        { event: 'ping', data: '{"a":1}' },
        { event: null, data: 'line one\nline two' },
        { event: null, data: '[DONE]' },
      ]);
    }
  });

  it('keeps a character split across chunks whole', () => {
    const reader = new SseReader();
    const all = bytes('data: "é"\n\n');
    const events = [...reader.feed(all.slice(0, 8)), ...reader.feed(all.slice(8))];
    expect(events).toEqual([{ event: null, data: '"é"', raw: 'data: "é"\n\n' }]);
  });
});

describe('OpenAiStreamUsage', () => {
  it('reads the id, the model, the deltas and the final usage chunk', () => {
    const t = new OpenAiStreamUsage();
    t.feed(bytes('data: {"id":"chatcmpl-1","model":"gpt-4o","choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'));
    t.feed(bytes('data: {"id":"chatcmpl-1","model":"gpt-4o","choices":[{"delta":{"content":"Hi"}}]}\n\n'));
    expect(t.usage).toMatchObject({ id: 'chatcmpl-1', model: 'gpt-4o', complete: false, deltas: 1, counts: {} });
    const last = t.feed(bytes('data: {"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}}\n\ndata: [DONE]\n\n'));
    expect(t.usage).toEqual({ id: 'chatcmpl-1', model: 'gpt-4o', complete: true, deltas: 1, errored: false, counts: { input_tokens: 6, cached_input_tokens: 4, output_tokens: 2 } });
    // the usage chunk is marked, so a client that did not ask for it can be spared it
    expect(last.map((e) => Boolean(e.usageOnly))).toEqual([true, false]);
  });

  it('notes an error sent inside the stream', () => {
    const t = new OpenAiStreamUsage();
    t.feed(bytes('data: {"error":{"message":"server error","type":"server_error"}}\n\n'));
    expect(t.usage).toMatchObject({ errored: true, complete: false, deltas: 0 });
  });
});

describe('AnthropicStreamUsage', () => {
  it('takes input from message_start and the cumulative output from the last message_delta', () => {
    const t = new AnthropicStreamUsage();
    t.feed(bytes('event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4","usage":{"input_tokens":25,"cache_read_input_tokens":100,"output_tokens":1}}}\n\n'));
    t.feed(bytes('event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}\n\n'));
    expect(t.usage).toMatchObject({ id: 'msg_1', complete: false, deltas: 1, counts: { input_tokens: 25, cached_input_tokens: 100, output_tokens: 1 } });
    // a delta's null counts say nothing: the input side stays as message_start said
    t.feed(bytes('event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":15,"input_tokens":null,"cache_read_input_tokens":null}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'));
    expect(t.usage).toEqual({ id: 'msg_1', model: 'claude-sonnet-4', complete: true, deltas: 1, errored: false, counts: { input_tokens: 25, cached_input_tokens: 100, output_tokens: 15 } });
  });
});

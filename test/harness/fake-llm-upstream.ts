import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A local stand-in for OpenAI and Anthropic (the AI proxy's upstreams in tests): the three endpoints the proxy
 * serves, whole and streamed, with the usage each vendor reports. What a request does is chosen by its model:
 *
 * - `fail-400`: the vendor's own 400 error; `slow`: answers after 2 s; `gated`: a stream that sends its first
 *   chunk, then waits until the test opens the gate; `long`: a stream of 200 chunks, one every 20 ms;
 *   `same-id`: every answer has the id `chatcmpl-same` / `msg_same`; `stream-error`: a stream that fails
 *   (an error event) before any content.
 *
 * It checks the vendor key it was configured with and records every request (headers, body, whether the
 * client went away before the answer ended).
 *
 * By default it answers at once. With `pace`, other models answer like a model does: the first token after
 * `firstTokenMs` (varied by ± `jitter` of it, as a model's time to first token varies), then `tokens` words in
 * all, one every `tokenIntervalMs` (a whole answer comes when its last word would have), so a benchmark can load
 * the proxy the way real calls do (bench/proxy.ts).
 */

export interface UpstreamPace {
  firstTokenMs: number;
  /** 0 to 1: the first token comes after firstTokenMs × (1 ± jitter), uniformly */
  jitter: number;
  tokenIntervalMs: number;
  tokens: number;
}

export interface UpstreamRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** the connection closed before the whole answer was sent */
  closedEarly: boolean;
}

export interface FakeLlmUpstream {
  url: string;
  requests: UpstreamRequest[];
  openGate(): void;
  close(): Promise<void>;
}

export const OPENAI_UPSTREAM_KEY = 'sk-upstream-openai';
export const ANTHROPIC_UPSTREAM_KEY = 'sk-upstream-anthropic';

export async function startFakeLlmUpstream(options: { pace?: UpstreamPace; record?: boolean } = {}): Promise<FakeLlmUpstream> {
  const { pace, record: keepRequests = true } = options;
  const requests: UpstreamRequest[] = [];
  let serial = 0;
  let gate: () => void = () => {};
  let gateOpen = new Promise<void>((resolve) => (gate = resolve));

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${serial}` }).end(text);
  };
  const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': `req_${serial}` });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const paced = (model: string) => pace !== undefined && !['long', 'gated', 'slow'].includes(model);
  const wordsOf = (model: string) =>
    model === 'long' ? Array.from({ length: 200 }, (_, i) => `w${i} `) : paced(model) ? ['Hello', ...Array.from({ length: pace!.tokens - 1 }, (_, i) => ` w${i}`)] : ['Hello', ' world'];
  /**
   * A paced answer's waits, drawn once per request: before its first word, and before each later one. The
   * response says how long the upstream meant to wait (x-fake-wait-ms: to the first word of a stream, to the end
   * of a whole answer), so a benchmark can take the model's own time out of what it measured.
   */
  const waitsOf = (model: string, stream: boolean, res: ServerResponse): { each: number[]; total: number } | null => {
    if (!paced(model)) return null;
    const first = pace!.firstTokenMs * (1 - pace!.jitter + 2 * pace!.jitter * Math.random());
    const total = first + (pace!.tokens - 1) * pace!.tokenIntervalMs;
    res.setHeader('x-fake-wait-ms', String(stream ? first : total));
    return { each: [first, ...Array.from({ length: pace!.tokens - 1 }, () => pace!.tokenIntervalMs)], total };
  };

  async function openai(req: UpstreamRequest, res: ServerResponse): Promise<void> {
    if (req.headers.authorization !== `Bearer ${OPENAI_UPSTREAM_KEY}`) return json(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    const model = String(req.body.model);
    if (model === 'fail-400') return json(res, 400, { error: { message: "Unsupported value: 'temperature' does not support 7", type: 'invalid_request_error', param: 'temperature', code: 'unsupported_value' } });
    if (model === 'slow') await sleep(2_000);
    const id = model === 'same-id' ? 'chatcmpl-same' : `chatcmpl-${++serial}`;
    if (req.path === '/v1/embeddings') return json(res, 200, { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model, usage: { prompt_tokens: 7, total_tokens: 7 } });
    const usage = { prompt_tokens: 1200, completion_tokens: 300, total_tokens: 1500, prompt_tokens_details: { cached_tokens: 1000 }, completion_tokens_details: { reasoning_tokens: 120 } };
    const waits = waitsOf(model, req.body.stream === true, res);
    if (req.body.stream !== true) {
      if (waits) await sleep(waits.total);
      return json(res, 200, { id, object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: 'Hello world' }, finish_reason: 'stop' }], usage });
    }
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    sse(res);
    if (model === 'stream-error') {
      res.end(`data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request', type: 'server_error', param: null, code: null } })}\n\n`);
      return;
    }
    res.write(chunk({ role: 'assistant', content: '' }));
    for (const [i, word] of wordsOf(model).entries()) {
      if (waits) await sleep(waits.each[i]!);
      if (res.destroyed) return;
      res.write(chunk({ content: word }));
      if (model === 'gated' && i === 0) await gateOpen;
      if (model === 'long') await sleep(20);
    }
    res.write(chunk({}, 'stop'));
    const options = req.body.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage) res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model, choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  }

  async function anthropic(req: UpstreamRequest, res: ServerResponse): Promise<void> {
    // The key as x-api-key (the npm client) or as a bearer token (the Python client since 2.x).
    if (req.headers['x-api-key'] !== ANTHROPIC_UPSTREAM_KEY && req.headers.authorization !== `Bearer ${ANTHROPIC_UPSTREAM_KEY}`) return json(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    const model = String(req.body.model);
    if (model === 'fail-400') return json(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } });
    if (model === 'slow') await sleep(2_000);
    const id = model === 'same-id' ? 'msg_same' : `msg_${++serial}`;
    const usage = { input_tokens: 25, cache_creation_input_tokens: 100, cache_read_input_tokens: 2000, output_tokens: 410 };
    const waits = waitsOf(model, req.body.stream === true, res);
    if (req.body.stream !== true) {
      if (waits) await sleep(waits.total);
      return json(res, 200, { id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text: 'Hello world' }], stop_reason: 'end_turn', stop_sequence: null, usage });
    }
    const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    sse(res);
    if (model === 'stream-error') {
      res.end(event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
      return;
    }
    res.write(event('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }));
    res.write(event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    for (const [i, word] of wordsOf(model).entries()) {
      if (waits) await sleep(waits.each[i]!);
      if (res.destroyed) return;
      res.write(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: word } }));
      if (model === 'gated' && i === 0) await gateOpen;
      if (model === 'long') await sleep(20);
    }
    res.write(event('content_block_stop', { index: 0 }));
    // (as the API may: the input counts null in the delta, which says nothing about them)
    res.write(event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens, input_tokens: null, cache_read_input_tokens: null, cache_creation_input_tokens: null } }));
    res.end(event('message_stop', {}));
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record: UpstreamRequest = { path: (req.url ?? '').split('?')[0]!, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>, closedEarly: false };
      if (keepRequests) requests.push(record);
      res.on('close', () => {
        if (!res.writableFinished) record.closedEarly = true;
      });
      const handler = record.path === '/v1/messages' ? anthropic : ['/v1/chat/completions', '/v1/embeddings'].includes(record.path) ? openai : null;
      if (!handler) return json(res, 404, { error: { message: `no route ${record.path}` } });
      handler(record, res).catch((err: unknown) => res.destroy(err as Error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    openGate: () => {
      gate();
      gateOpen = new Promise<void>((resolve) => (gate = resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

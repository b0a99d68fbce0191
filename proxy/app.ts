import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Pool } from 'pg';
import { totalTokens } from '../billing/ai-usage';
import { urlRefusal, type OutboundPolicy } from '../billing/outbound-urls';
import type { UsageCounts } from '../billing/token-cost';
import { proxyServiceToken, readProxyUpstream, type ProxyUpstreamTarget, type ProxyVendor } from '../services/proxy-upstreams';
import { DomainError } from '../services/errors';
import { connectAddress } from '../services/outbound-address';
import { AnthropicStreamUsage, OpenAiStreamUsage, wholeResponseUsage, type CallUsage } from './stream-usage';
import { vendorError } from './vendor-errors';

/*
 * The AI proxy (issue 16): OpenAI- and Anthropic-compatible endpoints that forward each call to the
 * organization's upstream (PUT /api/v1/settings/proxy-upstreams/{vendor}) and meter it as one usage event.
 * Per call: the caller's Ledgerflow key (scope `proxy`) and customer header → POST /api/v1/proxy/authorize (the
 * entitlement check; a refusal is answered in the vendor's own error format and nothing is forwarded) → the
 * upstream, its response passed through as it comes (a stream chunk by chunk) → POST /api/v1/events with the
 * caller's key, after the client has its answer: the same ingest path as any app's events, the idempotency key
 * taken from the vendor's response id so a repeated post counts once.
 */

export interface ProxyConfig {
  /** the Ledgerflow API the proxy asks and posts to */
  apiUrl: string;
  /** how long the upstream may take to start answering (a stream may then run as long as it runs) */
  upstreamTimeoutMs: number;
  /** how long an upstream's settings are used before they are read again */
  upstreamCacheMs: number;
  /** the largest request body forwarded */
  maxBodyBytes: number;
  /** how long an "allowed" answer of the API is reused for the same key, customer and vendor (0: ask before every call) */
  authorizeCacheMs: number;
  /**
   * how long a call's event waits for others to go in the same post (at most 100 a post). The ingest batches
   * events of 250 ms anyway (README "Ingest"), so a wait this long costs no rating delay, and each post it
   * saves is an API request and an ingest transaction fewer on the machine the calls run on.
   */
  eventFlushMs: number;
  outbound: OutboundPolicy;
  log: (message: string, err?: unknown) => void;
  /** what shows the API an event post is the proxy's (default: derived from LEDGERFLOW_SECRET_KEY) */
  serviceToken?: string;
}

export const defaultProxyConfig: Omit<ProxyConfig, 'apiUrl' | 'log'> = {
  upstreamTimeoutMs: 600_000,
  upstreamCacheMs: 60_000,
  maxBodyBytes: 20 * 1024 * 1024,
  authorizeCacheMs: 1_000,
  eventFlushMs: 200,
  outbound: { allowDevelopmentTargets: false },
};

type EndpointKind = 'chat' | 'embeddings' | 'messages';
const ENDPOINTS: Record<string, { vendor: ProxyVendor; kind: EndpointKind; suffix: string }> = {
  '/v1/chat/completions': { vendor: 'openai', kind: 'chat', suffix: '/chat/completions' },
  '/v1/embeddings': { vendor: 'openai', kind: 'embeddings', suffix: '/embeddings' },
  '/v1/messages': { vendor: 'anthropic', kind: 'messages', suffix: '/messages' },
};

/** Request headers a client sends that the upstream needs too; the rest (its key above all) stay here. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'user-agent', 'anthropic-version', 'anthropic-beta', 'openai-beta'];
/** Response headers not passed back: those of the connection, not the answer, and those about the organization's vendor account. */
const NOT_PASSED_BACK = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'proxy-connection',
  'upgrade',
  'set-cookie',
  'openai-organization',
  'openai-project',
  'anthropic-organization-id',
]);
/** The longest feature or end-user header: what an event's feature holds (api/schemas/events.ts). */
const MAX_LABEL = 255;

/** Why the proxy answered instead of the upstream: sent in the vendor's error format. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Authorized {
  organization_id: string;
  event_type: string;
  allowed: boolean;
  reason: string;
}

/** One call through the proxy, from its request to its event. */
interface Call {
  id: string;
  vendor: ProxyVendor;
  kind: EndpointKind;
  /** the path after the upstream's base URL */
  suffix: string;
  /** the client asked for the usage chunk of a stream itself (otherwise the proxy's own request for it is not passed on) */
  askedForUsage: boolean;
  key: string;
  customer: string;
  feature: string | null;
  endUser: string | null;
  eventType: string;
  request: Record<string, unknown>;
  stream: boolean;
}

export interface Proxy {
  handler: RequestListener;
  /** Resolves when every event of the calls so far has been posted (or given up on): for a clean stop and for tests. */
  idle(): Promise<void>;
  close(): void;
}

export function createProxy(pool: Pool, config: ProxyConfig): Proxy {
  const upstreams = new Map<string, { at: number; target: Promise<ProxyUpstreamTarget> }>();
  const serviceToken = config.serviceToken ?? proxyServiceToken();
  const pending = new Set<Promise<void>>();
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 512 }), https: new https.Agent({ keepAlive: true, maxSockets: 512 }) };
  // The outbound rules for the upstream's address (services/outbound-address.ts): the name resolved once per
  // connection and judged, the connection made to the address judged.
  const lookup: LookupFunction = (hostname, options, callback) => {
    connectAddress(hostname, config.outbound).then(
      ({ address, family }) => (options.all ? callback(null, [{ address, family }]) : callback(null, address, family)),
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 4),
    );
  };

  const upstreamOf = (organizationId: string, vendor: ProxyVendor): Promise<ProxyUpstreamTarget> => {
    const key = `${organizationId}:${vendor}`;
    const cached = upstreams.get(key);
    if (cached && Date.now() - cached.at < config.upstreamCacheMs) return cached.target;
    const target = readProxyUpstream(pool, organizationId, vendor);
    upstreams.set(key, { at: Date.now(), target });
    target.catch(() => upstreams.delete(key));
    return target;
  };

  async function ledgerflow(method: string, path: string, key: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const res = await fetch(`${config.apiUrl}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { error: text.slice(0, 300) };
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  const allowed = new Map<string, { at: number; auth: Authorized }>();
  const asking = new Map<string, Promise<Authorized>>();
  /** One question to the API at a time per key, customer and vendor: concurrent calls share its answer. */
  const ask = (cacheKey: string, vendor: ProxyVendor, key: string, customer: string): Promise<Authorized> => {
    const inFlight = asking.get(cacheKey);
    if (inFlight) return inFlight;
    const answer = askApi(vendor, key, customer).then(
      (auth) => {
        if (auth.allowed && config.authorizeCacheMs > 0) {
          if (allowed.size >= 10_000) allowed.clear();
          allowed.set(cacheKey, { at: Date.now(), auth });
        } else allowed.delete(cacheKey);
        return auth;
      },
      (err: unknown) => {
        allowed.delete(cacheKey);
        throw err;
      },
    );
    asking.set(cacheKey, answer);
    void answer.catch(() => {}).finally(() => asking.delete(cacheKey));
    return answer;
  };
  /**
   * The API's answer for this key, customer and vendor. An "allowed" is reused for authorizeCacheMs and then
   * asked again in the background while it is still used (at most one more authorizeCacheMs), so a busy
   * customer's calls do not wait for the API. A HARD limit reached meanwhile refuses calls from the next answer
   * on (the calls let in meanwhile are recorded all the same: served usage is never refused).
   */
  async function authorize(vendor: ProxyVendor, key: string, customer: string): Promise<Authorized> {
    const cacheKey = `${key}\u0000${customer}\u0000${vendor}`;
    const cached = allowed.get(cacheKey);
    const age = cached ? Date.now() - cached.at : Number.POSITIVE_INFINITY;
    if (cached && age < config.authorizeCacheMs) return cached.auth;
    if (cached && age < 2 * config.authorizeCacheMs) {
      ask(cacheKey, vendor, key, customer).catch(() => {});
      return cached.auth;
    }
    return ask(cacheKey, vendor, key, customer);
  }

  async function askApi(vendor: ProxyVendor, key: string, customer: string): Promise<Authorized> {
    let answer;
    try {
      answer = await ledgerflow('POST', '/api/v1/proxy/authorize', key, { vendor, customer_external_id: customer });
    } catch (err) {
      config.log('proxy: the Ledgerflow API did not answer the authorization', err);
      throw new Refusal(503, 'Ledgerflow could not check this call (its API did not answer); try again shortly', 'ledgerflow_unavailable');
    }
    const message = typeof answer.body.error === 'string' ? answer.body.error : `Ledgerflow answered ${answer.status}`;
    if (answer.status === 200) return answer.body as unknown as Authorized;
    if (answer.status === 401) throw new Refusal(401, `Ledgerflow key refused: ${message}`, 'invalid_api_key');
    if (answer.status === 403) throw new Refusal(403, `Ledgerflow key refused: ${message} (the proxy needs a key with the proxy scope)`, 'missing_scope');
    if (answer.status === 429) throw new Refusal(429, `Ledgerflow rate limit: ${message}`, 'rate_limited', { 'retry-after': answer.headers.get('retry-after') ?? '1' });
    if (answer.status === 409) throw new Refusal(503, message, String(answer.body.code ?? 'proxy_not_configured').toLowerCase(), { 'x-should-retry': 'false' });
    if (answer.status === 400) throw new Refusal(400, message, 'invalid_request');
    throw new Refusal(503, `Ledgerflow could not check this call (${message}); try again shortly`, 'ledgerflow_unavailable');
  }

  /** Posts events of one caller key, retrying what may succeed later under the same idempotency keys. */
  async function postEvents(key: string, events: Record<string, unknown>[]): Promise<void> {
    const keys = () => events.map((e) => String(e.idempotency_key)).join(', ');
    for (let attempt = 1; ; attempt++) {
      try {
        const answer = await ledgerflow('POST', '/api/v1/proxy/events', key, { events }, { 'x-ledgerflow-proxy-token': serviceToken });
        if (answer.status === 202) {
          const rejected = answer.body.rejected;
          if (Array.isArray(rejected) && rejected.length > 0) config.log(`proxy: events refused by the API: ${JSON.stringify(rejected).slice(0, 1000)}`);
          return;
        }
        if (answer.status < 500 && answer.status !== 429) {
          config.log(`proxy: the events ${keys()} were refused (${answer.status}): ${JSON.stringify(answer.body).slice(0, 500)}`);
          return;
        }
      } catch (err) {
        if (attempt >= 8) throw err;
      }
      if (attempt >= 8) {
        config.log(`proxy: gave up posting the events ${keys()} after ${attempt} attempts`);
        return;
      }
      await new Promise((r) => setTimeout(r, Math.min(10_000, 100 * 2 ** attempt)));
    }
  }

  /** Events waiting to be posted, per caller key: one post for the calls that ended within eventFlushMs (at most 100). */
  const queued = new Map<string, { events: Record<string, unknown>[]; timer: NodeJS.Timeout }>();
  const flush = (key: string): void => {
    const batch = queued.get(key);
    if (!batch) return;
    queued.delete(key);
    clearTimeout(batch.timer);
    const posting = postEvents(key, batch.events).catch((err: unknown) => config.log(`proxy: ${batch.events.length} event(s) were not posted`, err));
    pending.add(posting);
    void posting.finally(() => pending.delete(posting));
  };
  function enqueue(key: string, event: Record<string, unknown>): void {
    const batch = queued.get(key);
    if (batch) {
      batch.events.push(event);
      if (batch.events.length >= 100) flush(key);
      return;
    }
    queued.set(key, { events: [event], timer: setTimeout(() => flush(key), config.eventFlushMs) });
  }

  /** The call's one usage event (partial: why its usage is incomplete). */
  function meter(call: Call, usage: CallUsage, partial: string | null): void {
    // A stream the vendor ended with an error before it generated anything was not served: no event.
    if (usage.errored && !usage.complete && usage.deltas === 0) return;
    let counts: UsageCounts = usage.counts;
    let estimated = false;
    if (partial && !usage.complete) {
      // The stream ended before the vendor reported its usage: the deltas seen stand for output tokens (about one
      // each), and the request's length for input tokens when the vendor said nothing of them; marked as estimated.
      const input = counts.input_tokens ?? Math.ceil(JSON.stringify(call.request.messages ?? call.request.input ?? '').length / 4);
      counts = { ...counts, input_tokens: input, output_tokens: Math.max(counts.output_tokens ?? 0, usage.deltas) };
      estimated = true;
    }
    const model = usage.model ?? (typeof call.request.model === 'string' ? call.request.model : 'unknown');
    const event = {
      idempotency_key: usage.id ? `proxy:${call.vendor}:${usage.id}` : `proxy:${call.vendor}:call:${call.id}`,
      customer_external_id: call.customer,
      event_type: call.eventType,
      timestamp: new Date().toISOString(),
      quantity: String(totalTokens(counts)),
      ...(call.feature ? { feature: call.feature } : {}),
      properties: {
        source: 'proxy',
        vendor: call.vendor,
        endpoint: call.kind,
        model,
        stream: call.stream,
        ...(call.endUser ? { end_user: call.endUser } : {}),
        ...(partial ? { partial } : {}),
        ...(estimated ? { usage_estimated: true } : {}),
      },
      vendor_usage: [{ vendor: call.vendor, model, ...counts }],
    };
    enqueue(call.key, event);
  }

  function forward(call: Call, target: ProxyUpstreamTarget, body: Buffer, req: IncomingMessage, res: ServerResponse, attempt = 1): void {
    const url = new URL(`${target.baseUrl.replace(/\/+$/, '')}${call.suffix}`);
    const refusal = urlRefusal(url.toString(), 'http', config.outbound);
    if (refusal) throw new Refusal(502, `the ${call.vendor} upstream's URL is refused: ${refusal}`, 'upstream_refused');
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(body.length), 'accept-encoding': 'identity' };
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (call.vendor === 'openai') headers.authorization = `Bearer ${target.apiKey}`;
    else {
      headers['x-api-key'] = target.apiKey;
      headers['anthropic-version'] ??= '2023-06-01';
    }
    const secure = url.protocol === 'https:';
    const upstream = (secure ? https : http).request(url, { method: 'POST', headers, agent: secure ? agents.https : agents.http, lookup });
    let answered = false;
    // Silence for this long, before the answer starts or in the middle of a stream, ends the call.
    upstream.setTimeout(config.upstreamTimeoutMs, () => upstream.destroy(new Refusal(504, `the ${call.vendor} upstream did not answer within ${config.upstreamTimeoutMs} ms`, 'upstream_timeout')));
    const clientGone = () => !res.writableFinished;
    res.on('close', () => {
      // A client that leaves a stream stops the upstream (it bills what it generates; the event records what was
      // streamed). A whole answer is awaited and metered all the same: the model is producing it anyway.
      if (clientGone() && call.stream) upstream.destroy();
    });
    upstream.on('error', (err) => {
      if (answered) return; // a response already under way ends in its own handlers
      if (res.destroyed) return;
      // A kept-alive connection the upstream closed just as it was reused: the request never reached it (Node's
      // documented keep-alive race, request.reusedSocket); sent once more, on a new connection.
      if (attempt === 1 && upstream.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
        forward(call, target, body, req, res, 2);
        return;
      }
      const r = err instanceof Refusal ? err : new Refusal(502, `the ${call.vendor} upstream could not be reached: ${err.message}`, 'upstream_unreachable');
      sendError(res, call.vendor, r);
    });
    upstream.on('response', (up) => {
      answered = true;
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(up.headers)) if (value !== undefined && !NOT_PASSED_BACK.has(name)) out[name] = value;
      const status = up.statusCode ?? 502;
      const ok = status >= 200 && status < 300;
      const streaming = ok && String(up.headers['content-type'] ?? '').includes('text/event-stream');
      if (!ok) {
        // The vendor's own error, as it sent it: no event, the call was not served.
        res.writeHead(status, out);
        up.pipe(res);
        return;
      }
      if (streaming) {
        const tracker = call.vendor === 'openai' ? new OpenAiStreamUsage() : new AnthropicStreamUsage();
        res.writeHead(status, out);
        res.flushHeaders();
        let ended = false;
        // The proxy asked OpenAI for the usage chunk; a client that did not gets the stream without it.
        const strip = call.vendor === 'openai' && !call.askedForUsage;
        up.on('data', (chunk: Buffer) => {
          const events = tracker.feed(chunk);
          const out = strip ? events.filter((e) => !('usageOnly' in e && e.usageOnly)).map((e) => e.raw).join('') : chunk;
          // A client that reads slower than the vendor writes holds the vendor back, not the proxy's memory.
          if (out.length > 0 && !res.write(out)) {
            up.pause();
            res.once('drain', () => up.resume());
          }
        });
        up.on('end', () => {
          ended = true;
          res.end();
          meter(call, tracker.usage, tracker.usage.complete ? null : tracker.usage.errored ? 'upstream_error' : 'stream_ended_early');
        });
        up.on('close', () => {
          if (ended) return;
          ended = true;
          // The client disconnected (and the upstream was stopped), or the upstream broke off mid-stream.
          const reason = res.destroyed ? 'client_disconnected' : 'upstream_interrupted';
          if (!res.destroyed) res.destroy();
          meter(call, tracker.usage, reason);
        });
        return;
      }
      const chunks: Buffer[] = [];
      up.on('data', (chunk: Buffer) => chunks.push(chunk));
      up.on('end', () => {
        const whole = Buffer.concat(chunks);
        res.writeHead(status, { ...out, 'content-length': String(whole.length) });
        res.end(whole);
        meter(call, wholeResponseUsage(call.vendor, whole), null);
      });
      up.on('error', () => {
        if (!res.headersSent) sendError(res, call.vendor, new Refusal(502, `the ${call.vendor} upstream broke off its answer`, 'upstream_interrupted'));
      });
    });
    upstream.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && (path === '/health' || path === '/ready')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    const endpoint = ENDPOINTS[path];
    const vendor: ProxyVendor = endpoint?.vendor ?? (path.startsWith('/v1/messages') ? 'anthropic' : 'openai');
    let left = false;
    res.on('close', () => {
      if (!res.writableFinished) left = true;
    });
    try {
      if (!endpoint) throw new Refusal(404, `the proxy serves POST /v1/chat/completions, /v1/embeddings (OpenAI) and /v1/messages (Anthropic), not ${req.method} ${path}`, 'not_found');
      if (req.method !== 'POST') throw new Refusal(405, `${path} takes POST`, 'method_not_allowed');
      const key = callerKey(req, vendor);
      const customer = header(req, 'x-ledgerflow-customer');
      if (!customer) throw new Refusal(400, 'the x-ledgerflow-customer header is required: the id of the customer this call is metered to', 'missing_customer');
      const feature = header(req, 'x-ledgerflow-feature');
      const endUser = header(req, 'x-ledgerflow-end-user');
      for (const [name, value] of [['x-ledgerflow-customer', customer], ['x-ledgerflow-feature', feature], ['x-ledgerflow-end-user', endUser]] as const) {
        if (value !== null && value.length > MAX_LABEL) throw new Refusal(400, `the ${name} header must be at most ${MAX_LABEL} characters`, 'invalid_header');
      }
      // Who is calling before reading what: an unknown key is refused without reading its body.
      const auth = await authorize(vendor, key, customer);
      const body = await readBody(req, config.maxBodyBytes);
      const request = parseObject(body);
      if (!auth.allowed) {
        throw new Refusal(vendor === 'openai' ? 429 : 403, `Ledgerflow refused this call for ${customer}: ${auth.reason}`, 'entitlement_refused', { 'x-should-retry': 'false' });
      }
      const target = await upstreamOf(auth.organization_id, vendor).catch((err: unknown) => {
        config.log(`proxy: the ${vendor} upstream of ${auth.organization_id} could not be read`, err);
        const message = err instanceof DomainError ? err.message : `the ${vendor} upstream's settings could not be read; an admin may need to set them again`;
        throw new Refusal(503, message, 'proxy_not_configured', { 'x-should-retry': 'false' });
      });
      const stream = request.stream === true;
      let forwarded = body;
      const options = request.stream_options !== null && typeof request.stream_options === 'object' ? (request.stream_options as Record<string, unknown>) : {};
      const askedForUsage = options.include_usage === true;
      if (endpoint.kind === 'chat' && stream && !askedForUsage) {
        // The last chunk then carries the call's usage (OpenAI sends none in a stream otherwise).
        forwarded = Buffer.from(JSON.stringify({ ...request, stream_options: { ...options, include_usage: true } }));
      }
      const call: Call = {
        id: randomUUID(),
        vendor,
        kind: endpoint.kind,
        suffix: endpoint.suffix,
        askedForUsage,
        key,
        customer,
        feature,
        endUser,
        eventType: auth.event_type,
        request,
        stream,
      };
      // A client that already left gets nothing forwarded: nothing reached the model.
      if (left) return;
      forward(call, target, forwarded, req, res);
    } catch (err) {
      if (err instanceof Refusal) sendError(res, vendor, err);
      else {
        config.log('proxy: call failed', err);
        sendError(res, vendor, new Refusal(500, 'the proxy failed on this call; it was not forwarded', 'proxy_error'));
      }
    }
  }

  return {
    handler: (req, res) => void handle(req, res),
    idle: async () => {
      for (const key of [...queued.keys()]) flush(key);
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

function sendError(res: ServerResponse, vendor: ProxyVendor, r: Refusal): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(vendorError(vendor, r.status, r.message, r.code));
  res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...r.headers }).end(body);
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/** The caller's Ledgerflow key: Authorization: Bearer (OpenAI clients), or x-api-key (Anthropic clients). */
function callerKey(req: IncomingMessage, vendor: ProxyVendor): string {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  const key = bearer ?? header(req, 'x-api-key');
  if (!key) {
    const how = vendor === 'anthropic' ? 'x-api-key (the Anthropic client\'s apiKey)' : 'Authorization: Bearer (the OpenAI client\'s apiKey)';
    throw new Refusal(401, `send your Ledgerflow API key (scope proxy) as ${how}`, 'invalid_api_key');
  }
  return key;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Refusal(413, `the request body is larger than ${limit} bytes`, 'request_too_large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parseObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Refusal(400, 'the request body is not JSON', 'invalid_json');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Refusal(400, 'the request body must be a JSON object', 'invalid_json');
  return value as Record<string, unknown>;
}

import Anthropic from '@anthropic-ai/sdk';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { createApiKey } from '../prisma/api-keys';
import { createProxy, defaultProxyConfig, type Proxy, type ProxyConfig } from '../proxy/app';
import { startTestApi, type TestApi } from './api-test-app';
import { ANTHROPIC_UPSTREAM_KEY, OPENAI_UPSTREAM_KEY, startFakeLlmUpstream, type FakeLlmUpstream } from './harness/fake-llm-upstream';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma } from './harness/fixtures';

/*
 * The AI proxy (issue 16) with the official clients (openai, @anthropic-ai/sdk) pointed at it, a real API and
 * PostgreSQL behind it, and a local fake of both vendors upstream (test/harness/fake-llm-upstream.ts).
 */

const DEVELOPMENT = { allowDevelopmentTargets: true };
let api: TestApi;
let upstream: FakeLlmUpstream;
let org: Awaited<ReturnType<typeof createTestOrganization>>;
let proxyKey: string;
let proxyKeyId: string;
const proxies: { proxy: Proxy; server: Server }[] = [];
let base: string;
let proxy: Proxy;

async function startProxy(overrides: Partial<ProxyConfig> = {}): Promise<{ proxy: Proxy; base: string }> {
  // Every call asks the API (no reused "allowed"), so each test sees a quota the moment it is reached.
  const started = createProxy(testPool(), { ...defaultProxyConfig, apiUrl: api.base, outbound: DEVELOPMENT, log: () => {}, authorizeCacheMs: 0, ...overrides });
  const server = createServer(started.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxies.push({ proxy: started, server });
  return { proxy: started, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  api = await startTestApi({ outbound: DEVELOPMENT });
  upstream = await startFakeLlmUpstream();
  org = await createTestOrganization('proxy');
  ({ key: proxyKey, id: proxyKeyId } = await createApiKey(testPrisma(), org.organizationId, 'proxy', { type: 'system', id: 'test' }, ['proxy']));
  for (const [vendor, key] of [['openai', OPENAI_UPSTREAM_KEY], ['anthropic', ANTHROPIC_UPSTREAM_KEY]] as const) {
    const put = await api.put(`/api/v1/settings/proxy-upstreams/${vendor}`, org.apiKey, { base_url: `${upstream.url}/v1`, api_key: key });
    expect(put.status).toBe(200);
  }
  ({ proxy, base } = await startProxy());
});

afterAll(async () => {
  for (const p of proxies) {
    await p.proxy.idle();
    p.proxy.close();
    await new Promise((resolve) => p.server.close(resolve));
  }
  await upstream.close();
  await api.close();
  await closeTestPrisma();
});

const openai = (customer: string, extra: Record<string, string> = {}, url = base) =>
  new OpenAI({ apiKey: proxyKey, baseURL: `${url}/v1`, maxRetries: 0, defaultHeaders: { 'x-ledgerflow-customer': customer, ...extra } });
const anthropic = (customer: string, url = base) => new Anthropic({ apiKey: proxyKey, baseURL: url, maxRetries: 0, defaultHeaders: { 'x-ledgerflow-customer': customer } });

interface StoredEvent {
  idempotency_key: string;
  customer_external_id: string;
  event_type: string;
  quantity: string;
  feature: string | null;
  properties: Record<string, unknown>;
  vendor_usage: Record<string, unknown>[];
}

/** Event posts the proxy made (each is a request row under the caller's key): one per call, however the rows dedupe. */
async function posts(): Promise<number> {
  for (const p of proxies) await p.proxy.idle();
  const { rows } = await testPool().query<{ n: number }>('SELECT count(*)::int AS n FROM ingest_batches WHERE organization_id = $1 AND api_key_id = $2', [org.organizationId, proxyKeyId]);
  return rows[0]!.n;
}

async function eventsOf(customer: string): Promise<StoredEvent[]> {
  await proxy.idle();
  for (const p of proxies) await p.proxy.idle();
  const { rows } = await testPool().query<StoredEvent>(
    `SELECT idempotency_key, customer_external_id, event_type, quantity::text AS quantity, feature, properties, vendor_usage
       FROM usage_events WHERE organization_id = $1 AND customer_external_id = $2 ORDER BY id`,
    [org.organizationId, customer],
  );
  return rows;
}

describe('settings', () => {
  it('stores the upstream with its key sealed: the API shows only its last four characters, the audit row no key at all', async () => {
    const listed = await api.get('/api/v1/settings/proxy-upstreams', org.apiKey);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([
      expect.objectContaining({ vendor: 'anthropic', base_url: `${upstream.url}/v1`, event_type: 'llm.completion', api_key: { set: true, last4: ANTHROPIC_UPSTREAM_KEY.slice(-4) } }),
      expect.objectContaining({ vendor: 'openai', api_key: { set: true, last4: OPENAI_UPSTREAM_KEY.slice(-4) } }),
    ]);
    const { rows } = await testPool().query<{ api_key_enc: string }>('SELECT api_key_enc FROM proxy_upstreams WHERE organization_id = $1', [org.organizationId]);
    for (const r of rows) expect(r.api_key_enc).not.toContain('sk-upstream');
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, entityType: 'proxy_upstream' } });
    expect(audit).toHaveLength(2);
    expect(JSON.stringify(audit.map((a) => [a.before, a.after]))).not.toContain("sk-upstream");
  });

  it('refuses an upstream URL or event type it cannot use, naming the field', async () => {
    const strict = await startTestApi();
    try {
      const loopback = await strict.put('/api/v1/settings/proxy-upstreams/openai', org.apiKey, { base_url: 'http://127.0.0.1:9/v1', api_key: 'k' });
      expect(loopback.status).toBe(400);
      expect(JSON.stringify(loopback.body)).toContain('base_url');
    } finally {
      await strict.close();
    }
    const badType = await api.put('/api/v1/settings/proxy-upstreams/openai', org.apiKey, { base_url: `${upstream.url}/v1`, api_key: 'k', event_type: 'has spaces' });
    expect(badType.status).toBe(400);
    expect(JSON.stringify(badType.body)).toContain('event_type');
    const unknownVendor = await api.put('/api/v1/settings/proxy-upstreams/mistral', org.apiKey, { base_url: `${upstream.url}/v1`, api_key: 'k' });
    expect(unknownVendor.status).toBe(400);
  });
});

describe('OpenAI-compatible', () => {
  it('forwards a chat completion with the organization\'s vendor key and meters it as one event with the usage the response reports', async () => {
    const before = upstream.requests.length;
    const postsBefore = await posts();
    const reply = await openai('cust-chat', { 'x-ledgerflow-feature': 'support-bot', 'x-ledgerflow-end-user': 'u-17' }).chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(reply.choices[0]!.message.content).toBe('Hello world');
    const sent = upstream.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.authorization).toBe(`Bearer ${OPENAI_UPSTREAM_KEY}`);
    expect(Object.keys(sent[0]!.headers).filter((h) => h.startsWith('x-ledgerflow'))).toEqual([]);

    const [event, ...more] = await eventsOf('cust-chat');
    expect(more).toEqual([]);
    expect(await posts()).toBe(postsBefore + 1);
    expect(event).toEqual({
      idempotency_key: `proxy:openai:${reply.id}`,
      customer_external_id: 'cust-chat',
      event_type: 'llm.completion',
      quantity: '1500.000000',
      feature: 'support-bot',
      properties: { source: 'proxy', vendor: 'openai', endpoint: 'chat', model: 'gpt-4o', stream: false, end_user: 'u-17' },
      // prompt 1,200 of which 1,000 cached; completion 300 of which 120 reasoning
      vendor_usage: [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 200, cached_input_tokens: 1000, output_tokens: 180, reasoning_tokens: 120 }],
    });
  });

  it('passes a stream through chunk by chunk: the client reads the first delta while the upstream holds the rest; usage comes from the last chunk, which the proxy asked for', async () => {
    const before = upstream.requests.length;
    const postsBefore = await posts();
    const stream = await openai('cust-stream').chat.completions.create({ model: 'gated', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    const deltas: string[] = [];
    let id = '';
    for await (const chunk of stream) {
      id = chunk.id;
      // the usage chunk the proxy asked for is not passed to a client that did not ask for it (its choices are empty)
      expect(chunk.choices).not.toEqual([]);
      const delta = chunk.choices[0]?.delta.content;
      if (delta) {
        deltas.push(delta);
        // the upstream sends nothing more until this gate opens: the first word got here unbuffered
        if (deltas.length === 1) upstream.openGate();
      }
    }
    expect(deltas).toEqual(['Hello', ' world']);
    expect(upstream.requests[before]!.body.stream_options).toEqual({ include_usage: true });
    const [event, ...more] = await eventsOf('cust-stream');
    expect(more).toEqual([]);
    expect(await posts()).toBe(postsBefore + 1);
    expect(event).toMatchObject({
      idempotency_key: `proxy:openai:${id}`,
      quantity: '1500.000000',
      properties: { stream: true, model: 'gated' },
      vendor_usage: [{ vendor: 'openai', model: 'gated', input_tokens: 200, cached_input_tokens: 1000, output_tokens: 180, reasoning_tokens: 120 }],
    });
  });

  it('meters embeddings, which have no response id, once per call', async () => {
    const client = openai('cust-embed');
    await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
    await client.embeddings.create({ model: 'text-embedding-3-small', input: 'again' });
    const events = await eventsOf('cust-embed');
    expect(events).toHaveLength(2);
    expect(events.map((e) => e.vendor_usage)).toEqual([
      [{ vendor: 'openai', model: 'text-embedding-3-small', input_tokens: 7 }],
      [{ vendor: 'openai', model: 'text-embedding-3-small', input_tokens: 7 }],
    ]);
    expect(events[0]!.idempotency_key).toMatch(/^proxy:openai:call:/);
    expect(events[0]!.idempotency_key).not.toBe(events[1]!.idempotency_key);
  });

  it('counts a response id once: two calls the vendor answered with the same id are one event', async () => {
    const client = openai('cust-same');
    await client.chat.completions.create({ model: 'same-id', messages: [{ role: 'user', content: 'Hi' }] });
    await client.chat.completions.create({ model: 'same-id', messages: [{ role: 'user', content: 'Hi' }] });
    const events = await eventsOf('cust-same');
    expect(events.map((e) => e.idempotency_key)).toEqual(['proxy:openai:chatcmpl-same']);
  });

  it('passes the vendor\'s own error through, and meters nothing for a call the model never served', async () => {
    const error = await openai('cust-error')
      .chat.completions.create({ model: 'fail-400', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain("Unsupported value: 'temperature'");
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('unsupported_value');
    expect(await eventsOf('cust-error')).toEqual([]);
  });

  it('answers an upstream that does not answer in time with a 504 in OpenAI\'s format, and meters nothing', async () => {
    const impatient = await startProxy({ upstreamTimeoutMs: 300 });
    const error = await openai('cust-timeout', {}, impatient.base)
      .chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain('did not answer within 300 ms');
    expect(await eventsOf('cust-timeout')).toEqual([]);
  });

  it('records what a stream used when the client leaves mid-stream, marked partial and estimated, and stops the upstream', async () => {
    const before = upstream.requests.length;
    const aborted = new AbortController();
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${proxyKey}`, 'content-type': 'application/json', 'x-ledgerflow-customer': 'cust-gone' },
      body: JSON.stringify({ model: 'long', messages: [{ role: 'user', content: 'Tell me a long story' }], stream: true }),
      signal: aborted.signal,
    });
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('w2 ')) seen += new TextDecoder().decode((await reader.read()).value);
    aborted.abort();
    await reader.cancel().catch(() => {});
    const deadline = Date.now() + 5_000;
    while (!upstream.requests[before]?.closedEarly && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(upstream.requests[before]!.closedEarly).toBe(true);
    let events: StoredEvent[] = [];
    while (events.length === 0 && Date.now() < deadline) events = await eventsOf('cust-gone');
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event!.properties).toMatchObject({ partial: 'client_disconnected', usage_estimated: true, stream: true });
    const usage = event!.vendor_usage[0]!;
    // at least the three words the client saw, far fewer than the 200 the model would have written
    expect(usage.output_tokens).toBeGreaterThanOrEqual(3);
    expect(usage.output_tokens).toBeLessThan(200);
    expect(usage.input_tokens).toBeGreaterThan(0);
  });
});

describe('OpenAI-compatible, more', () => {
  it('passes the usage chunk to a client that asked for it', async () => {
    const chunks = [];
    const stream = await openai('cust-asked').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 1200, completion_tokens: 300 } });
    expect(await eventsOf('cust-asked')).toHaveLength(1);
  });

  it('meters nothing for a stream the vendor failed before it generated anything', async () => {
    const postsBefore = await posts();
    const error = await (async () => {
      const stream = await openai('cust-stream-error').chat.completions.create({ model: 'stream-error', messages: [{ role: 'user', content: 'Hi' }], stream: true });
      for await (const chunk of stream) void chunk;
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(await eventsOf('cust-stream-error')).toEqual([]);
    expect(await posts()).toBe(postsBefore);
  });

  it('records a served call that goes past a HARD quota, and refuses the next call', async () => {
    // 2,000 tokens a month; each call uses 1,500
    const limit = await api.post('/api/v1/quota-limits', org.apiKey, { event_type: 'llm.completion', customer_external_id: 'cust-over', mode: 'HARD', limit: '2000', reset_window: 'month' });
    expect(limit.status).toBe(201);
    const client = openai('cust-over');
    const ask = () => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    await ask();
    expect(await eventsOf('cust-over')).toHaveLength(1);
    // 1,500 used and one more unit allowed: the call is served, and its 1,500 tokens are recorded, past the limit
    await ask();
    const events = await eventsOf('cust-over');
    expect(events.map((e) => e.quantity)).toEqual(['1500.000000', '1500.000000']);
    const refused = await ask().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as Error).message).toContain('the HARD limit of 2000 would be passed (3000 used');
  });
});

describe('the event path', () => {
  it('takes events only from the proxy: a proxy key cannot post events, POST /events refuses proxy keys, and /proxy/events wants the proxy\'s token', async () => {
    const event = { idempotency_key: 'proxy:openai:chatcmpl-forged', customer_external_id: 'cust-forged', event_type: 'llm.completion', quantity: '0', timestamp: new Date().toISOString() };
    const withProxyKey = await api.post('/api/v1/events', proxyKey, event);
    expect(withProxyKey.status).toBe(403);
    const reserved = await api.post('/api/v1/events', org.apiKey, event);
    expect(reserved.status).toBe(400);
    expect(JSON.stringify(reserved.body)).toContain('idempotency_key must not start with');
    const noToken = await api.post('/api/v1/proxy/events', proxyKey, event);
    expect(noToken.status).toBe(403);
    expect(JSON.stringify(noToken.body)).toContain('NOT_THE_PROXY');
    const wrongToken = await api.post('/api/v1/proxy/events', proxyKey, event, { 'x-ledgerflow-proxy-token': 'guess' });
    expect(wrongToken.status).toBe(403);
    expect(await eventsOf('cust-forged')).toEqual([]);
  });

  it('posts the events of calls that end together in one post, each event once', async () => {
    const batching = await startProxy({ eventFlushMs: 300 });
    const postsBefore = await posts();
    const client = openai('cust-together', {}, batching.base);
    await Promise.all(Array.from({ length: 5 }, () => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })));
    expect(await eventsOf('cust-together')).toHaveLength(5);
    expect(await posts()).toBe(postsBefore + 1);
  });

  it('refuses a feature or end-user header longer than an event holds before forwarding', async () => {
    const before = upstream.requests.length;
    const error = await openai('cust-long', { 'x-ledgerflow-feature': 'f'.repeat(256) })
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toContain('x-ledgerflow-feature header must be at most 255 characters');
    expect(upstream.requests.length).toBe(before);
  });
});

describe('Anthropic-compatible', () => {
  it('forwards a message with the vendor key and meters cache reads and writes apart', async () => {
    const before = upstream.requests.length;
    const message = await anthropic('cust-claude').messages.create({ model: 'claude-sonnet-4', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello world' });
    expect(upstream.requests[before]!.headers['x-api-key']).toBe(ANTHROPIC_UPSTREAM_KEY);
    expect(upstream.requests[before]!.headers['anthropic-version']).toBeDefined();
    const [event] = await eventsOf('cust-claude');
    expect(event).toMatchObject({
      idempotency_key: `proxy:anthropic:${message.id}`,
      quantity: '2535.000000',
      properties: { vendor: 'anthropic', endpoint: 'messages', stream: false },
      vendor_usage: [{ vendor: 'anthropic', model: 'claude-sonnet-4', input_tokens: 25, cache_write_tokens: 100, cached_input_tokens: 2000, output_tokens: 410 }],
    });
  });

  it('streams events as they come and takes the output count from the last message_delta', async () => {
    const stream = await anthropic('cust-claude-stream').messages.create({ model: 'gated', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }], stream: true });
    const texts: string[] = [];
    for await (const e of stream) {
      if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') {
        texts.push(e.delta.text);
        if (texts.length === 1) upstream.openGate();
      }
    }
    expect(texts).toEqual(['Hello', ' world']);
    const [event, ...more] = await eventsOf('cust-claude-stream');
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      properties: { stream: true },
      vendor_usage: [{ vendor: 'anthropic', model: 'gated', input_tokens: 25, cache_write_tokens: 100, cached_input_tokens: 2000, output_tokens: 410 }],
    });
  });
});

describe('Anthropic-compatible, more', () => {
  it('meters nothing for a stream that failed (an error event) before any content', async () => {
    const error = await (async () => {
      const stream = await anthropic('cust-claude-overloaded').messages.create({ model: 'stream-error', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }], stream: true });
      for await (const e of stream) void e;
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(await eventsOf('cust-claude-overloaded')).toEqual([]);
  });
});

describe('refusals', () => {
  it('refuses a customer past a HARD quota before forwarding, in each vendor\'s own error format, and forwards nothing', async () => {
    const limit = await api.post('/api/v1/quota-limits', org.apiKey, { event_type: 'llm.completion', customer_external_id: 'cust-capped', mode: 'HARD', limit: '0', reset_window: 'month' });
    expect(limit.status).toBe(201);
    const before = upstream.requests.length;
    const fromOpenAi = await openai('cust-capped')
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(fromOpenAi).toBeInstanceOf(OpenAI.RateLimitError);
    expect((fromOpenAi as InstanceType<typeof OpenAI.APIError>).code).toBe('entitlement_refused');
    expect((fromOpenAi as InstanceType<typeof OpenAI.APIError>).message).toContain('HARD limit of 0');
    expect((fromOpenAi as InstanceType<typeof OpenAI.APIError>).headers?.get('x-should-retry')).toBe('false');
    const fromAnthropic = await anthropic('cust-capped')
      .messages.create({ model: 'claude-sonnet-4', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(fromAnthropic).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(JSON.stringify((fromAnthropic as InstanceType<typeof Anthropic.APIError>).error)).toContain('permission_error');
    expect(upstream.requests.length).toBe(before);
    expect(await eventsOf('cust-capped')).toEqual([]);
  });

  it('answers a missing or wrong key, a key without the proxy scope and a missing customer header, naming what is wrong', async () => {
    const noKey = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'x-ledgerflow-customer': 'c' }, body: '{}' });
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { error: { message: string } }).error.message).toContain('Ledgerflow API key');

    const wrong = await new OpenAI({ apiKey: 'lf_not_a_key', baseURL: `${base}/v1`, maxRetries: 0, defaultHeaders: { 'x-ledgerflow-customer': 'c' } })
      .chat.completions.create({ model: 'gpt-4o', messages: [] })
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);

    const ingestOnly = (await createApiKey(testPrisma(), org.organizationId, 'ingest only', { type: 'system', id: 'test' }, ['ingest'])).key;
    const unscoped = await new Anthropic({ apiKey: ingestOnly, baseURL: base, maxRetries: 0, defaultHeaders: { 'x-ledgerflow-customer': 'c' } })
      .messages.create({ model: 'claude-sonnet-4', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(unscoped).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((unscoped as Error).message).toContain('proxy scope');

    const noCustomer = await new OpenAI({ apiKey: proxyKey, baseURL: `${base}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o', messages: [] }).catch((e: unknown) => e);
    expect(noCustomer).toBeInstanceOf(OpenAI.BadRequestError);
    expect((noCustomer as Error).message).toContain('x-ledgerflow-customer');
  });
});

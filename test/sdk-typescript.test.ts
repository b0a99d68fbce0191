import Anthropic from '@anthropic-ai/sdk';
import fs from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { Ledgerflow, LedgerflowError, vendorResponse, type IngestEvent } from '../packages/sdk-typescript/src';
import { startTestApi, type TestApi } from './api-test-app';
import { ANTHROPIC_UPSTREAM_KEY, OPENAI_UPSTREAM_KEY, startFakeLlmUpstream, type FakeLlmUpstream } from './harness/fake-llm-upstream';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma } from './harness/fixtures';
import { runCommand } from './harness/run-command';

/*
 * The TypeScript SDK (packages/sdk-typescript, issue 16 points 7-10) against a real API and PostgreSQL. The
 * responses it meters come from the official openai and @anthropic-ai/sdk clients, talking to a local fake of
 * both vendors (test/harness/fake-llm-upstream.ts).
 */

let api: TestApi;
let upstream: FakeLlmUpstream;
let org: Awaited<ReturnType<typeof createTestOrganization>>;
const clients: Ledgerflow[] = [];

beforeAll(async () => {
  api = await startTestApi();
  upstream = await startFakeLlmUpstream();
  org = await createTestOrganization('sdk-typescript');
});

afterAll(async () => {
  for (const client of clients) await client.close(0);
  await upstream.close();
  await api.close();
  await closeTestPrisma();
});

function ledgerflow(options: Partial<ConstructorParameters<typeof Ledgerflow>[0]> = {}): Ledgerflow {
  const client = new Ledgerflow({ apiKey: org.apiKey, baseUrl: api.base, initialRetryDelayMs: 20, maxRetryDelayMs: 100, onRejected: () => {}, ...options });
  clients.push(client);
  return client;
}

interface Stored {
  idempotency_key: string;
  event_type: string;
  quantity: string;
  feature: string | null;
  properties: Record<string, unknown>;
  vendor_usage: Record<string, unknown>[];
}

async function storedOf(customer: string): Promise<Stored[]> {
  const { rows } = await testPool().query<Stored>(
    'SELECT idempotency_key, event_type, trim_scale(quantity)::text AS quantity, feature, properties, vendor_usage FROM usage_events WHERE organization_id = $1 AND customer_external_id = $2 ORDER BY idempotency_key',
    [org.organizationId, customer],
  );
  return rows;
}

const openai = () => new OpenAI({ apiKey: OPENAI_UPSTREAM_KEY, baseURL: `${upstream.url}/v1`, maxRetries: 0 });
const anthropic = () => new Anthropic({ apiKey: ANTHROPIC_UPSTREAM_KEY, baseURL: upstream.url, maxRetries: 0 });

describe('track()', () => {
  test('buffers events and posts them in batches of flushAt; flush() delivers the rest', async () => {
    const lf = ledgerflow({ flushAt: 3, flushIntervalMs: 60_000 });
    for (let i = 0; i < 7; i++) lf.track({ customer: 'batching', event_type: 'api_call', idempotency_key: `b-${i}` });
    await lf.flush();
    expect((await storedOf('batching')).map((e) => e.idempotency_key)).toEqual(['b-0', 'b-1', 'b-2', 'b-3', 'b-4', 'b-5', 'b-6']);
    const { rows } = await testPool().query<{ n: number }>(
      "SELECT count(DISTINCT batch_id)::int AS n FROM usage_events WHERE organization_id = $1 AND customer_external_id = 'batching'",
      [org.organizationId],
    );
    expect(rows[0]!.n).toBe(3); // 3 + 3 + 1
    expect(lf.stats()).toMatchObject({ tracked: 7, accepted: 7, duplicates: 0, rejected: 0, buffered: 0 });
  });

  test('sends on its own after flushIntervalMs', async () => {
    const lf = ledgerflow({ flushAt: 100, flushIntervalMs: 50 });
    lf.track({ customer: 'interval', event_type: 'api_call', quantity: '2.5' });
    const deadline = Date.now() + 5_000;
    while ((await storedOf('interval')).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect((await storedOf('interval')).map((e) => e.quantity)).toEqual(['2.5']);
  });

  test('a post whose answer was lost is sent again with the same idempotency keys, and counted once', async () => {
    let lost = 0;
    const losingFetch: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init); // the API stores the post…
      if (lost < 2) {
        lost++;
        throw new TypeError('socket hang up'); // …and the answer never arrives
      }
      return answer;
    };
    const retries: number[] = [];
    const lf = ledgerflow({ fetch: losingFetch, flushAt: 10, onRetry: (_err, attempt) => retries.push(attempt) });
    for (let i = 0; i < 4; i++) lf.track({ customer: 'lost-answer', event_type: 'api_call' });
    await lf.flush();
    expect(retries).toEqual([1, 2]);
    expect(await storedOf('lost-answer')).toHaveLength(4);
    expect(lf.stats()).toMatchObject({ tracked: 4, accepted: 0, duplicates: 4, retries: 2, buffered: 0 });
  });

  test('an event the API refuses is reported with its field; the others of its post are stored', async () => {
    const refused: { key: string; code: string; field: string | null }[] = [];
    const lf = ledgerflow({ onRejected: (rejected) => refused.push(...rejected.map((r) => ({ key: r.event.idempotency_key, code: r.code, field: r.field }))) });
    lf.track({ customer: 'refused', event_type: 'api_call', idempotency_key: 'good' });
    lf.track({ customer: 'refused', event_type: 'api_call', idempotency_key: 'bad', quantity: '-1' });
    await lf.flush();
    expect(refused).toEqual([{ key: 'bad', code: 'INVALID_VALUE', field: 'quantity' }]);
    expect((await storedOf('refused')).map((e) => e.idempotency_key)).toEqual(['good']);
    expect(lf.stats()).toMatchObject({ accepted: 1, rejected: 1 });
  });

  test('while the API is away the buffer holds maxBufferedEvents, drops the newest past it, and close() hands back what it could not send', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve)); // nothing listens there now
    const dropped: IngestEvent[] = [];
    const lf = ledgerflow({ baseUrl: `http://127.0.0.1:${port}`, flushAt: 2, maxBufferedEvents: 5, onDropped: (events) => dropped.push(...events) });
    const kept = Array.from({ length: 7 }, (_, i) => lf.track({ customer: 'away', event_type: 'api_call', idempotency_key: `away-${i}` }));
    expect(kept).toEqual([true, true, true, true, true, false, false]);
    expect(dropped.map((e) => e.idempotency_key)).toEqual(['away-5', 'away-6']);
    const undelivered = await lf.close(300);
    expect(undelivered.map((e) => e.idempotency_key).sort()).toEqual(['away-0', 'away-1', 'away-2', 'away-3', 'away-4']);
    expect(lf.stats().retries).toBeGreaterThan(0);
    expect(() => lf.track({ customer: 'away', event_type: 'api_call' })).toThrow(/closed/);
    // What close() handed back goes in later, once, with its keys.
    const later = await ledgerflow().ingest(undelivered);
    expect([later.accepted, later.duplicates]).toEqual([5, 0]);
  });

  test('a post too large for the API (413) is split in halves until each part goes in; no event is refused for its size', async () => {
    const small = await startTestApi({ bodyLimit: '4kb' });
    try {
      const refused: string[] = [];
      const lf = ledgerflow({ baseUrl: small.base, flushAt: 8, flushIntervalMs: 60_000, onRejected: (r) => refused.push(...r.map((x) => x.code)) });
      for (let i = 0; i < 8; i++) lf.track({ customer: 'too-large', event_type: 'api_call', idempotency_key: `large-${i}`, properties: { note: 'x'.repeat(900) } });
      await lf.flush();
      expect(refused).toEqual([]);
      expect(await storedOf('too-large')).toHaveLength(8);
      expect(lf.stats()).toMatchObject({ accepted: 8, rejected: 0 });
    } finally {
      await small.close();
    }
  });

  test('close() ends a retry wait the API asked for (503, Retry-After: 30) when its own time is up', async () => {
    const busy = createHttpServer((_req, res) => res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '30' }).end('{"error":"backlog","code":"INGEST_BACKLOG_FULL"}'));
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const lf = ledgerflow({ baseUrl: `http://127.0.0.1:${(busy.address() as { port: number }).port}`, flushIntervalMs: 10 });
      lf.track({ customer: 'busy', event_type: 'api_call', idempotency_key: 'busy-1' });
      await new Promise((r) => setTimeout(r, 100)); // the post was answered 503 and the 30 s wait began
      expect(lf.stats().retries).toBe(1);
      const started = Date.now();
      const left = await lf.close(200);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(left.map((e) => e.idempotency_key)).toEqual(['busy-1']);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  test('a callback that throws does not stop the sender', async () => {
    const lf = ledgerflow({
      onRejected: () => {
        throw new Error('a bug in the caller');
      },
    });
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      lf.track({ customer: 'throwing', event_type: 'api_call', idempotency_key: 'bad', quantity: '-1' });
      await lf.flush();
      lf.track({ customer: 'throwing', event_type: 'api_call', idempotency_key: 'after' });
      await lf.flush();
      expect((await storedOf('throwing')).map((e) => e.idempotency_key)).toEqual(['after']);
      expect(logged).toHaveBeenCalledWith('[ledgerflow] a callback threw:', expect.any(Error));
    } finally {
      logged.mockRestore();
    }
  });

  test('drop_oldest keeps the newest events instead', async () => {
    const dropped: string[] = [];
    const lf = ledgerflow({ baseUrl: 'http://127.0.0.1:9', flushAt: 1, flushIntervalMs: 60_000, maxBufferedEvents: 2, overflow: 'drop_oldest', onDropped: (e) => dropped.push(...e.map((x) => x.idempotency_key)) });
    for (const key of ['o-1', 'o-2', 'o-3']) lf.track({ customer: 'oldest', event_type: 'api_call', idempotency_key: key });
    expect(dropped.length).toBe(1);
    const left = (await lf.close(0)).map((e) => e.idempotency_key);
    expect(left).toContain('o-3');
    expect([...left, ...dropped].sort()).toEqual(['o-1', 'o-2', 'o-3']);
  });

  test('needs an event type unless a response stands for the usage', () => {
    const lf = ledgerflow();
    expect(() => lf.track({ customer: 'x' })).toThrow(/event_type/);
  });
});

describe('AI responses', () => {
  test("an OpenAI chat completion: cached and reasoning tokens apart, quantity its total, keyed by the response's id so it counts once", async () => {
    const completion = await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const lf = ledgerflow();
    lf.track({ customer: 'ai-openai', feature: 'chat', response: completion });
    lf.track({ customer: 'ai-openai', feature: 'chat', response: completion });
    await lf.flush();
    expect(await storedOf('ai-openai')).toEqual([
      {
        idempotency_key: `openai:${completion.id}`,
        event_type: 'llm.completion',
        quantity: '1500',
        feature: 'chat',
        properties: {},
        vendor_usage: [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 200, cached_input_tokens: 1000, output_tokens: 180, reasoning_tokens: 120 }],
      },
    ]);
    expect(lf.stats()).toMatchObject({ accepted: 1, duplicates: 1 });
  });

  test('an OpenAI embedding and an Anthropic message, read from the official clients\' objects', async () => {
    const embedding = await openai().embeddings.create({ model: 'text-embedding-3-small', input: 'hi' });
    const message = await anthropic().messages.create({ model: 'claude-sonnet-4', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    const lf = ledgerflow();
    lf.track({ customer: 'ai-mixed', event_type: 'embed', response: embedding, idempotency_key: 'embed-1' });
    lf.track({ customer: 'ai-mixed', response: message });
    await lf.flush();
    expect((await storedOf('ai-mixed')).map((e) => [e.idempotency_key, e.event_type, e.quantity, e.vendor_usage])).toEqual([
      [`anthropic:${message.id}`, 'llm.completion', '2535', [{ vendor: 'anthropic', model: 'claude-sonnet-4', input_tokens: 25, cached_input_tokens: 2000, cache_write_tokens: 100, output_tokens: 410 }]],
      ['embed-1', 'embed', '7', [{ vendor: 'openai', model: 'text-embedding-3-small', input_tokens: 7 }]],
    ]);
  });

  test('streams pass through unchanged and are tracked when they end; one read partly is marked partial', async () => {
    const lf = ledgerflow();
    const openaiStream = await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    for await (const chunk of lf.trackStream(openaiStream, { customer: 'ai-stream', feature: 'chat' })) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello world');

    const anthropicStream = await anthropic().messages.create({ model: 'claude-sonnet-4', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], stream: true });
    const kinds: string[] = [];
    for await (const event of lf.trackStream(anthropicStream, { customer: 'ai-stream' })) kinds.push(event.type);
    expect(kinds[0]).toBe('message_start');
    expect(kinds.at(-1)).toBe('message_stop');

    const early = await anthropic().messages.create({ model: 'claude-sonnet-4', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const event of lf.trackStream(early, { customer: 'ai-stream', idempotency_key: 'early' })) if (event.type === 'content_block_delta') break;

    const noUsage = await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const _ of lf.trackStream(noUsage, { customer: 'ai-stream', idempotency_key: 'no-usage' })) void _;
    await lf.flush();

    const stored = await storedOf('ai-stream');
    const byKind = (prefix: string) => stored.find((e) => e.idempotency_key.startsWith(prefix))!;
    expect(byKind('openai:')).toMatchObject({ quantity: '1500', feature: 'chat', properties: {}, vendor_usage: [{ input_tokens: 200, cached_input_tokens: 1000, output_tokens: 180, reasoning_tokens: 120 }] });
    expect(byKind('anthropic:')).toMatchObject({ quantity: '2535', vendor_usage: [{ vendor: 'anthropic', output_tokens: 410 }] });
    // Stopped after the first delta: message_start's usage (1 output token so far) and the partial mark.
    expect(byKind('early')).toMatchObject({ quantity: '2126', properties: { partial: true }, vendor_usage: [{ input_tokens: 25, cached_input_tokens: 2000, cache_write_tokens: 100, output_tokens: 1 }] });
    // An OpenAI stream not asked for usage says none: tracked at zero, marked so it can be found.
    expect(byKind('no-usage')).toMatchObject({ quantity: '0', properties: { usage_missing: true } });
  });

  test('vendorResponse() names what a response lacks', () => {
    expect(() => vendorResponse({ id: 'x', object: 'chat.completion', model: 'gpt-4o' })).toThrow(/no usage/);
    expect(() => vendorResponse({ usage: {} })).toThrow(/pass vendor/);
    expect(vendorResponse({ model: 'm', usage: { input_tokens: 1 } }, 'anthropic')).toEqual({ vendor: 'anthropic', response: { model: 'm', usage: { input_tokens: 1 } } });
  });
});

describe('checks, rating, quotes and credits', () => {
  beforeAll(async () => {
    await testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId: 'wallet-owner' } });
    for (const [path, body] of [
      ['/api/v1/vendor-rates', { vendor: 'openai', model: 'gpt-4o', input_per_million_tokens: '2.50', output_per_million_tokens: '10' }],
      ['/api/v1/quota-limits', { event_type: 'render', mode: 'HARD', limit: '2', reset_window: 'day' }],
      ['/api/v1/customers/wallet-owner/credit-grants', { credits: '10', kind: 'purchased', price_per_credit: '0.10' }],
    ] as const) {
      expect((await api.post(path, org.apiKey, body)).status).toBe(201);
    }
  });

  test('entitlements.check, rating.calculate and quotes answer typed', async () => {
    const lf = ledgerflow();
    await expect(lf.entitlements.check({ customer_external_id: 'c', event_type: 'render', quantity: '3' })).resolves.toMatchObject({ allowed: false, limit: '2', mode: 'HARD' });
    await expect(lf.entitlements.check({ customer_external_id: 'c', event_type: 'render', quantity: '2' })).resolves.toMatchObject({ allowed: true });
    await expect(lf.rating.calculate({ vendor: 'openai', model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 1_000_000 })).resolves.toMatchObject({ cost: '12.5' });
    const quote = await lf.quotes.price({ currency: 'usd', price: { model: 'graduated', tiers: [{ up_to: 100, unit_amount: '0.10' }, { up_to: null, unit_amount: '0.05' }] }, quantity: '150' });
    expect([quote.amount, quote.amount_minor]).toEqual(['12.50', 1250]);
  });

  test('credit balance and a reservation held, read and released', async () => {
    const lf = ledgerflow();
    expect(await lf.credits.balance('wallet-owner')).toMatchObject({ balance: '10', reserved: '0' });
    const held = await lf.credits.reserve({ customer_external_id: 'wallet-owner', credits: '4', idempotency_key: 'sdk-hold' });
    expect(held).toMatchObject({ status: 'held', credits: '4' });
    expect(await lf.credits.balance('wallet-owner')).toMatchObject({ balance: '6', reserved: '4' });
    expect(await lf.credits.reservation(held.id)).toMatchObject({ id: held.id, status: 'held' });
    expect(await lf.credits.release(held.id)).toMatchObject({ id: held.id, status: 'released' });
    expect(await lf.credits.balance('wallet-owner')).toMatchObject({ balance: '10', reserved: '0' });
  });

  test('an error answer is a LedgerflowError with the API\'s status, code and message', async () => {
    const lf = ledgerflow();
    const err = await lf.rating.calculate({ vendor: 'openai', model: 'unknown', input_tokens: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerflowError);
    expect(err).toMatchObject({ status: 404, retryable: false });
    const unauthorized = await new Ledgerflow({ apiKey: 'lf_wrong', baseUrl: api.base }).credits.balance('x').catch((e: unknown) => e);
    expect(unauthorized).toMatchObject({ status: 401, code: expect.any(String) });
  });
});

describe('its npm package', () => {
  test('packs the built SDK with its types and README, installs into an empty project, type-checks a caller and sends an event', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-npm-'));
    try {
      const packageDir = path.join(__dirname, '..', 'packages', 'sdk-typescript');
      const packed = await runCommand('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: packageDir });
      expect(packed.status).toBe(0);
      const [manifest] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('\n[') + 1)) as { filename: string; files: { path: string }[] }[];
      const files = manifest!.files.map((f) => f.path);
      expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/tracker.js', 'dist/ai.js', 'dist/generated/openapi.d.ts']));
      expect(files.filter((f) => f.startsWith('src/') || f.includes('.test.'))).toEqual([]);

      const app = path.join(dir, 'app');
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'caller', version: '1.0.0', private: true }));
      const installed = await runCommand('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(dir, manifest!.filename)], { cwd: app });
      expect(installed.status).toBe(0);
      fs.writeFileSync(
        path.join(app, 'caller.ts'),
        [
          "import { Ledgerflow, type IngestEvent, type ResponseBody } from '@ledgerflow/sdk';",
          'const lf = new Ledgerflow({ apiKey: process.env.KEY!, baseUrl: process.env.URL! });',
          "const event: IngestEvent = { idempotency_key: 'packed-1', customer_external_id: 'packed', event_type: 'api_call', timestamp: new Date().toISOString() };",
          "const check: Promise<ResponseBody<'/api/v1/entitlements/check', 'post'>> = lf.entitlements.check({ customer_external_id: 'packed', event_type: 'api_call' });",
          'void check.catch(() => undefined);',
          'lf.track({ customer: event.customer_external_id, event_type: event.event_type, idempotency_key: event.idempotency_key });',
          'void lf.close().then((left) => console.log(JSON.stringify({ left: left.length, ...lf.stats() })));',
        ].join('\n'),
      );
      const tsc = path.join(__dirname, '..', 'node_modules', '.bin', 'tsc');
      const typed = await runCommand(tsc, ['--strict', '--module', 'commonjs', '--target', 'es2022', '--types', 'node', '--typeRoots', path.join(__dirname, '..', 'node_modules', '@types'), 'caller.ts'], { cwd: app });
      expect(typed.stdout + typed.stderr).toBe('');
      const ran = await runCommand(process.execPath, ['caller.js'], { cwd: app, env: { ...process.env, KEY: org.apiKey, URL: api.base } });
      expect([ran.status, ran.stderr]).toEqual([0, '']);
      expect(JSON.parse(ran.stdout)).toMatchObject({ left: 0, accepted: 1 });
      expect((await storedOf('packed')).map((e) => e.idempotency_key)).toEqual(['packed-1']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

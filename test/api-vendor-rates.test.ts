import { createApiKey } from '../prisma/api-keys';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestApi, type TestApi } from './api-test-app';

// Issue 14, point 1 (first part): an organization enters its own vendor rates through the API, a price change
// supersedes the rate before it from an instant on, and nothing already entered is ever edited.

let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('api-vendor-rates');
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const path = '/api/v1/vendor-rates';
const DAY = 86_400_000;
const calculate = () => api.post('/api/v1/rating/calculate', org.apiKey, { vendor: 'openai', model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 1_000_000 });

test('a rate entered through the API prices tokens; a later one supersedes it from its start, the first kept as it was', async () => {
  expect((await calculate()).status).toBe(404);
  const first = await api.post(path, org.apiKey, { vendor: 'openai', model: 'gpt-4o', input_per_million_tokens: '2.50', output_per_million_tokens: '10' });
  expect(first.status).toBe(201);
  expect(first.body).toMatchObject({ vendor: 'openai', model: 'gpt-4o', currency: 'usd', input_per_million_tokens: '2.5', output_per_million_tokens: '10', superseded_at: null, in_effect: true });
  expect((await calculate()).body).toMatchObject({ cost: '12.5', rate: { id: first.body.id } });

  // A price change announced for two seconds from now: until then the first rate prices, from then on the second.
  const changeAt = new Date(Date.now() + 2_000).toISOString();
  const second = await api.post(path, org.apiKey, { vendor: 'openai', model: 'gpt-4o', currency: 'USD', input_per_million_tokens: '2.00', output_per_million_tokens: '8.00', effective_from: changeAt });
  expect(second.status).toBe(201);
  expect(second.body.in_effect).toBe(false);
  expect((await calculate()).body.rate.id).toBe(first.body.id);
  await new Promise((resolve) => setTimeout(resolve, Date.parse(changeAt) - Date.now() + 50));
  expect((await calculate()).body).toMatchObject({ cost: '10', rate: { id: second.body.id } });
  // One announced for next week: listed, not yet in effect, and it will supersede the current one.
  const nextWeek = new Date(Date.now() + 7 * DAY).toISOString();
  const third = await api.post(path, org.apiKey, { vendor: 'openai', model: 'gpt-4o', input_per_million_tokens: '1.00', output_per_million_tokens: '4.00', effective_from: nextWeek });
  expect(third.status).toBe(201);
  expect(third.body).toMatchObject({ in_effect: false, currency: 'usd' });
  expect((await calculate()).body.rate.id).toBe(second.body.id);

  const listed = await api.get(`${path}?vendor=openai&model=gpt-4o`, org.apiKey);
  expect(listed.status).toBe(200);
  expect(listed.body.data.map((r: { id: string; superseded_at: string | null; in_effect: boolean }) => [r.id, r.superseded_at, r.in_effect])).toEqual([
    [first.body.id, changeAt, false],
    [second.body.id, nextWeek, true],
    [third.body.id, null, false],
  ]);
  // Never edited: the first rate's row is as it was entered.
  const stored = await testPrisma().vendorRate.findUniqueOrThrow({ where: { id: first.body.id } });
  expect([stored.inputPerMillionTokens?.toFixed(), stored.outputPerMillionTokens?.toFixed(), stored.effectiveTo]).toEqual(['2.5', '10', null]);

  const audit = await testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, entityType: 'vendor_rate' }, orderBy: { id: 'asc' } });
  expect(audit.map((a) => [a.action, a.actorType, a.actorId, a.entityId])).toEqual([
    ['vendor_rate.created', 'api_key', org.apiKeyId, first.body.id],
    ['vendor_rate.created', 'api_key', org.apiKeyId, second.body.id],
    ['vendor_rate.created', 'api_key', org.apiKeyId, third.body.id],
  ]);
  expect(audit[1]!.after).toMatchObject({ input_per_million_tokens: '2', currency: 'usd', effective_from: changeAt });
});

test('a vendor and model keep one currency: a change without one takes theirs, one in another currency is refused', async () => {
  const euro = await api.post(path, org.apiKey, { vendor: 'mistral', model: 'large', currency: 'eur', input_per_million_tokens: '2', output_per_million_tokens: '6' });
  expect(euro.status).toBe(201);
  const change = await api.post(path, org.apiKey, { vendor: 'mistral', model: 'large', input_per_million_tokens: '1.8', output_per_million_tokens: '5.4', effective_from: new Date(Date.now() + DAY).toISOString() });
  expect(change.status).toBe(201);
  expect(change.body.currency).toBe('eur');
  const dollars = await api.post(path, org.apiKey, { vendor: 'mistral', model: 'large', currency: 'usd', input_per_million_tokens: '2', output_per_million_tokens: '6', effective_from: new Date(Date.now() + 2 * DAY).toISOString() });
  expect(dollars.status).toBe(400);
  expect(dollars.body).toMatchObject({ details: { field: 'currency' } });
  expect(dollars.body.error).toMatch(/priced in EUR/);
});

test('bad input is a 400 naming the field; a second rate at the same start is a 409; other organizations and read-only keys see or change nothing', async () => {
  const valid = { vendor: 'anthropic', model: 'claude-sonnet', input_per_million_tokens: '3', output_per_million_tokens: '15' };
  const cases: [unknown, string][] = [
    [{ ...valid, vendor: '' }, 'vendor'],
    [{ ...valid, input_per_million_tokens: '-3' }, 'input_per_million_tokens'],
    [{ vendor: 'anthropic', model: 'claude-sonnet' }, 'input_per_million_tokens'],
    [{ ...valid, currency: 'xyz' }, 'currency'],
    [{ ...valid, effective_from: 'yesterday' }, 'effective_from'],
    [{ ...valid, model: 'with\u0000nul' }, 'model'],
    [{ ...valid, per_image: 'free' }, 'per_image'],
    [{ ...valid, per_video: '1' }, 'per_video'],
  ];
  for (const [body, field] of cases) {
    const res = await api.post(path, org.apiKey, body);
    expect([JSON.stringify(body), res.status, res.body.details?.field]).toEqual([JSON.stringify(body), 400, field]);
  }
  const at = new Date(Date.now() + 30 * DAY).toISOString();
  expect((await api.post(path, org.apiKey, { ...valid, effective_from: at })).status).toBe(201);
  const again = await api.post(path, org.apiKey, { ...valid, input_per_million_tokens: '4', effective_from: at });
  expect(again.status).toBe(409);
  expect(again.body).toMatchObject({ code: 'ALREADY_EXISTS', details: { field: 'effective_from' } });

  const other = await createTestOrganization('api-vendor-rates-other');
  expect((await api.get(`${path}?vendor=anthropic`, other.apiKey)).body.data).toEqual([]);
  const reader = await createApiKey(testPrisma(), org.organizationId, 'reader', { type: 'system', id: 'test' }, ['read']);
  expect((await api.get(path, reader.key)).status).toBe(200);
  const refused = await api.post(path, reader.key, { ...valid, effective_from: new Date(Date.now() + 40 * DAY).toISOString() });
  expect(refused.status).toBe(403);
  expect(refused.body).toMatchObject({ code: 'INSUFFICIENT_SCOPE', details: { required_scope: 'billing' } });
});

test('a rate starts in the past only where its vendor and model had none: it fills the gap, never replaces a rate that priced events', async () => {
  const pair = { vendor: 'deepseek', model: 'r1' };
  const current = await api.post(path, org.apiKey, { ...pair, input_per_million_tokens: '0.55', output_per_million_tokens: '2.19' });
  expect(current.status).toBe(201);
  const twoDaysAgo = new Date(Date.now() - 2 * DAY).toISOString();
  const gap = await api.post(path, org.apiKey, { ...pair, input_per_million_tokens: '0.60', output_per_million_tokens: '2.20', effective_from: twoDaysAgo });
  expect(gap.status).toBe(201);
  // It covers the two days without a rate, up to where the current one starts, and is not the one in effect now.
  expect(gap.body).toMatchObject({ effective_from: twoDaysAgo, superseded_at: current.body.effective_from, in_effect: false });

  // Inside the gap rate's time, or the current one's, a back-dated rate would re-price events already rated.
  for (const from of [new Date(Date.now() - DAY).toISOString(), new Date(Date.now() - 10 * 60_000).toISOString()]) {
    const refused = await api.post(path, org.apiKey, { ...pair, input_per_million_tokens: '1', effective_from: from });
    expect([refused.status, refused.body.details?.field]).toEqual([400, 'effective_from']);
    expect(refused.body.error).toMatch(/had a rate in effect at .* a rate can start in the past only where the pair had none/);
  }
  expect((await api.get(`${path}?vendor=deepseek`, org.apiKey)).body.data.map((r: { id: string }) => r.id)).toEqual([gap.body.id, current.body.id]);

  // "Now" sent two minutes late (clock skew) starts now, not before: the current rate keeps the events it priced.
  const sent = Date.now();
  const late = await api.post(path, org.apiKey, { ...pair, input_per_million_tokens: '0.50', effective_from: new Date(sent - 2 * 60_000).toISOString() });
  expect(late.status).toBe(201);
  expect(Date.parse(late.body.effective_from)).toBeGreaterThanOrEqual(sent);
  expect(late.body.in_effect).toBe(true);
});

test('rates price cached and cache-write input, reasoning, images, seconds and requests; the cost preview prices each or names what its rate lacks', async () => {
  const created = await api.post(path, org.apiKey, {
    vendor: 'anthropic',
    model: 'claude-opus',
    input_per_million_tokens: '15',
    output_per_million_tokens: '75',
    cached_input_per_million_tokens: '1.50',
    cache_write_per_million_tokens: '18.75',
  });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    input_per_million_tokens: '15',
    cached_input_per_million_tokens: '1.5',
    cache_write_per_million_tokens: '18.75',
    reasoning_per_million_tokens: null,
    per_image: null,
    per_second: null,
    per_request: null,
  });
  const usage = { vendor: 'anthropic', model: 'claude-opus', input_tokens: 1_000, cached_input_tokens: 100_000, cache_write_tokens: 2_000, output_tokens: 500, reasoning_tokens: 1_500 };
  const priced = await api.post('/api/v1/rating/calculate', org.apiKey, usage);
  expect(priced.status).toBe(200);
  // (1,000 × 15 + 100,000 × 1.5 + 2,000 × 18.75 + 500 × 75 + 1,500 × 75, reasoning at the output price) / 1e6
  expect(priced.body).toMatchObject({ ...usage, cost: '0.3525', currency: 'usd', rate: { id: created.body.id, in_effect: true } });

  const transcription = await api.post(path, org.apiKey, { vendor: 'openai', model: 'whisper-1', per_second: '0.0001' });
  expect(transcription.body).toMatchObject({ input_per_million_tokens: null, output_per_million_tokens: null, per_second: '0.0001' });
  const seconds = await api.post('/api/v1/rating/calculate', org.apiKey, { vendor: 'openai', model: 'whisper-1', seconds: 61.25 });
  expect(seconds.body.cost).toBe('0.006125');
  const unpriced = await api.post('/api/v1/rating/calculate', org.apiKey, { vendor: 'openai', model: 'whisper-1', seconds: 3, input_tokens: 10 });
  expect(unpriced.status).toBe(400);
  expect(unpriced.body).toMatchObject({ code: 'UNPRICED_USAGE', details: { field: 'input_tokens' } });
  const decimals = await api.post('/api/v1/rating/calculate', org.apiKey, { vendor: 'openai', model: 'whisper-1', seconds: 0.0000001 });
  expect([decimals.status, decimals.body.details?.field]).toEqual([400, 'seconds']);
});

test('GET /providers/pricing: per provider and model, the rate in effect now and those announced, for a reading key; history stays on /vendor-rates', async () => {
  const book = await createTestOrganization('api-providers-pricing');
  const add = async (body: object) => {
    const res = await api.post(path, book.apiKey, body);
    expect(res.status).toBe(201);
    return res.body as { id: string };
  };
  const old = await add({ vendor: 'openai', model: 'gpt-4o', input_per_million_tokens: '5', output_per_million_tokens: '15', effective_from: new Date(Date.now() - 3 * DAY).toISOString() });
  const current = await add({ vendor: 'openai', model: 'gpt-4o', input_per_million_tokens: '2.5', output_per_million_tokens: '10', cached_input_per_million_tokens: '1.25' });
  const later = await add({ vendor: 'openai', model: 'gpt-4o', input_per_million_tokens: '2', output_per_million_tokens: '8', effective_from: new Date(Date.now() + 7 * DAY).toISOString() });
  const image = await add({ vendor: 'openai', model: 'gpt-image-1', per_image: '0.04' });
  const announced = await add({ vendor: 'anthropic', model: 'claude-next', input_per_million_tokens: '3', effective_from: new Date(Date.now() + DAY).toISOString() });

  const reader = await createApiKey(testPrisma(), book.organizationId, 'reader', { type: 'system', id: 'test' }, ['read']);
  const res = await api.get('/api/v1/providers/pricing', reader.key);
  expect(res.status).toBe(200);
  const shape = (res.body as { data: { vendor: string; models: { model: string; current: { id: string } | null; upcoming: { id: string }[] }[] }[] }).data.map((v) => ({
    vendor: v.vendor,
    models: v.models.map((m) => [m.model, m.current?.id ?? null, m.upcoming.map((u) => u.id)]),
  }));
  expect(shape).toEqual([
    { vendor: 'anthropic', models: [['claude-next', null, [announced.id]]] },
    { vendor: 'openai', models: [['gpt-4o', current.id, [later.id]], ['gpt-image-1', image.id, []]] },
  ]);
  expect(JSON.stringify(res.body)).not.toContain(old.id);
  expect(res.body.data[1].models[0].current).toMatchObject({ input_per_million_tokens: '2.5', cached_input_per_million_tokens: '1.25', per_image: null, currency: 'usd' });

  const anthropic = await api.get('/api/v1/providers/pricing?vendor=anthropic', book.apiKey);
  expect(anthropic.body.data.map((v: { vendor: string }) => v.vendor)).toEqual(['anthropic']);
  expect((await api.get('/api/v1/providers/pricing', org.apiKey)).body.data.some((v: { models: { current: { id: string } | null }[] }) => v.models.some((m) => m.current?.id === current.id))).toBe(false);
  const unknown = await api.get('/api/v1/providers/pricing?region=eu', book.apiKey);
  expect([unknown.status, unknown.body.details?.field]).toEqual([400, 'region']);
});

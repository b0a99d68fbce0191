import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization } from './harness/fixtures';

/*
 * What the schemathesis run (test/api-fuzz.test.ts) found, pinned one by one
 * so each stays fixed even where the fuzzer's seed would not reach it again.
 */

let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('api-fuzz-findings');
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const send = (method: string, path: string, body?: unknown) =>
  fetch(`${api.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${org.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe('a method a documented path does not take is a 405 naming the ones it does', () => {
  test.each([
    ['PUT', '/api/v1/batches/6f1c0000-0000-4000-8000-000000000000', 'GET, HEAD'],
    ['PATCH', '/api/v1/customers', 'GET, POST, HEAD'],
    ['DELETE', '/api/v1/settings/billing', 'GET, PATCH, HEAD'],
    ['GET', '/webhooks/stripe', 'POST'],
    ['PUT', '/API/V1/INVOICES/abc', 'GET, HEAD'],
  ])('%s %s', async (method, path, allow) => {
    const res = await send(method, path);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe(allow);
    if (method !== 'HEAD') expect(await res.json()).toEqual({ error: `${method} is not allowed on ${path}; it takes ${allow}`, code: 'METHOD_NOT_ALLOWED' });
  });

  test('a path the document does not have is still a 404, and allowed methods still reach their routes', async () => {
    expect((await send('PUT', '/api/v1/nothing-here', {})).status).toBe(404);
    expect((await send('GET', '/api/v1/settings/billing')).status).toBe(200);
  });
});

describe('input that was a 500 is a 400 naming the field', () => {
  test.each([
    ['PATCH', '/api/v1/settings/alerts', { smtp_url: 'AAA' }, 'smtp_url', /smtp:\/\/ or smtps:\/\/ URL/],
    ['POST', '/api/v1/reconciliations', { period_start: '2024-06-01T00:00:00.000Z', period_end: 'ß5HN' }, 'period_end', /ISO 8601 date/],
    ['GET', '/api/v1/revenue?as_of=%3B%3A%23', undefined, 'as_of', /ISO 8601 date \(2024-06-30\)/],
    // valid ISO 8601 that PostgreSQL's timestamptz refuses: year 0000, and a UTC year past 9999 reached through the offset
    ['GET', '/api/v1/events?from=0000-06-01T00%3A00%3A00Z', undefined, 'from', /years 0001 to 9999/],
    ['GET', '/api/v1/events?to=9999-12-31T23%3A59%3A59-15%3A00', undefined, 'to', /years 0001 to 9999/],
    ['GET', '/api/v1/revenue?as_of=0000-01-01', undefined, 'as_of', /years 0001 to 9999/],
  ])('%s %s %j', async (method, path, body, field, message) => {
    const res = await send(method, path, body);
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { error: string; details: { field: string } };
    expect(answer.details.field).toBe(field);
    expect(answer.error).toMatch(message);
  });
});

test('an offset PostgreSQL does not take (-22:26) is applied before the query: the events from then are listed', async () => {
  const res = await send('GET', '/api/v1/events?from=6396-03-06T02%3A10%3A03.255771-22%3A26');
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ data: [] });
});

describe('what the document says is what the API takes', () => {
  test('an email with more than 64 characters before the @ (RFC 5321) is refused, as format: email says', async () => {
    const res = await send('POST', '/api/v1/customers', { external_id: 'long-local-part', email: `${'a'.repeat(65)}@example.com` });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ details: { field: 'email' }, error: expect.stringMatching(/at most 64 characters before the @/) });
    expect((await send('POST', '/api/v1/customers', { external_id: 'long-local-part', email: `${'a'.repeat(64)}@example.com` })).status).toBeLessThan(300);
  });

  test('an smtp_url with a path or query string is refused by the documented pattern too', async () => {
    const res = await send('PATCH', '/api/v1/settings/alerts', { smtp_url: 'smtps://alerts@mail.example.com:465/x?proxy=http://10.0.0.1' });
    expect(res.status).toBe(400);
    const document = (await (await fetch(`${api.base}/api/openapi.json`)).json()) as { components: { schemas: Record<string, { properties: Record<string, { pattern?: string }> }> } };
    const pattern = new RegExp(document.components.schemas.AlertSettingsUpdate!.properties.smtp_url!.pattern!);
    expect(pattern.test('smtps://alerts@mail.example.com:465/x?proxy=http://10.0.0.1')).toBe(false);
    expect(pattern.test('smtps://alerts@mail.example.com:465')).toBe(true);
  });
});

import { randomUUID } from 'node:crypto';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Amounts and quantities keep every digit the client sent (issue 12,
 * point 6): a JSON number is read from its own text (api/exact-json.ts),
 * never through a binary double, on the ingest fast lane and on the Express
 * routes; a number where only a plain number fits, or in free-form
 * properties, is a 400 naming the field rather than a rounded value. Bodies
 * are sent as raw text: JSON.stringify would round them before they left.
 */

let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('api-exact-numbers');
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const minuteAgo = () => new Date(Date.now() - 60_000).toISOString();
const rawEvent = (key: string, fields: string) =>
  `{"idempotency_key": "${key}", "customer_external_id": "cust-exact", "event_type": "api_call", "timestamp": "${minuteAgo()}", ${fields}}`;
const storedEvent = (key: string) => testPrisma().usageEvent.findFirst({ where: { organizationId: org.organizationId, idempotencyKey: key } });

describe('events', () => {
  test('a quantity and a revenue amount sent as JSON numbers are stored to the digit (JSON.parse would store 99999999999999.98)', async () => {
    const key = `exact-${randomUUID()}`;
    const res = await api.post('/api/v1/events', org.apiKey, rawEvent(key, '"quantity": 99999999999999.99, "revenue_amount": 12345678901234.567, "currency": "usd"'));
    expect(res.status).toBe(202);
    const stored = await storedEvent(key);
    expect(stored?.quantity.toFixed(6)).toBe('99999999999999.990000');
    expect(stored?.revenueAmount?.toFixed(6)).toBe('12345678901234.567000');
  });

  test('in a batch, an event whose exact quantity has too many decimals is refused by field; the others are stored', async () => {
    const [good, bad] = [`exact-${randomUUID()}`, `exact-${randomUUID()}`];
    const res = await api.post('/api/v1/events', org.apiKey, `{"events": [${rawEvent(good, '"quantity": 1234567890.123456')}, ${rawEvent(bad, '"quantity": 1234567890.1234567')}]}`);
    expect(res.status).toBe(202);
    expect(res.body.rejected).toEqual([expect.objectContaining({ index: 1, field: 'quantity', message: 'quantity: has more than 6 decimal places' })]);
    expect((await storedEvent(good))?.quantity.toFixed(6)).toBe('1234567890.123456');
    expect(await storedEvent(bad)).toBeNull();
  });

  test('token counts beyond 2^53 and long numbers in properties are 400s naming the field, not rounded values', async () => {
    const tokens = `exact-${randomUUID()}`;
    const res = await api.post('/api/v1/events', org.apiKey, rawEvent(tokens, '"vendor_usage": [{"vendor": "openai", "model": "gpt-4o", "input_tokens": 12345678901234567, "output_tokens": 1}]'));
    expect(res.status).toBe(400);
    expect(res.body.details.rejected).toEqual([expect.objectContaining({ index: 0, code: 'INVALID_VALUE', field: 'vendor_usage.0.input_tokens' })]);
    expect(res.body.details.rejected[0].message).toContain('12345678901234567 has more digits than this field takes exactly');

    const props = `exact-${randomUUID()}`;
    const refused = await api.post('/api/v1/events', org.apiKey, rawEvent(props, '"properties": {"user_id": 12345678901234567}'));
    expect(refused.status).toBe(400);
    expect(refused.body.details.rejected).toEqual([expect.objectContaining({ field: 'properties.user_id', message: 'properties.user_id: has more digits than a JSON number keeps exactly (15 significant digits); send it as a string' })]);
    expect(await storedEvent(tokens)).toBeNull();
    expect(await storedEvent(props)).toBeNull();
  });
});

describe('the Express routes', () => {
  test('a plan price\'s included units sent as a long JSON number are kept exactly; a repeated key in such a body is refused', async () => {
    expect((await api.post('/api/v1/meters', org.apiKey, { key: 'api_calls', name: 'API calls', event_type: 'api_call', aggregation: 'sum' })).status).toBe(201);
    const plan = (included: string, key = 'exact') =>
      `{"key": "${key}", "name": "Exact", "currency": "usd", "interval": "month", "base_fee": "10", "prices": [{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01", "included_units": ${included}}]}`;
    const res = await api.post('/api/v1/plans', org.apiKey, plan('12345678901234.567'));
    expect(res.status).toBe(201);
    expect(res.body.prices[0].included_units).toBe('12345678901234.567');
    const row = await testPrisma().planPrice.findFirstOrThrow({ where: { organizationId: org.organizationId } });
    expect(row.includedUnits.toFixed(6)).toBe('12345678901234.567000');

    const repeated = await api.post('/api/v1/plans', org.apiKey, plan('12345678901234.567, "included_units": 1', 'exact-2'));
    expect(repeated.status).toBe(400);
    expect(repeated.body.code).toBe('INVALID_JSON');
    expect(repeated.body.error).toContain("Duplicate key 'included_units'");
  });
});

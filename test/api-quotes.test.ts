import { closeTestPrisma, createTestOrganization } from './harness/fixtures';
import { startTestApi, type TestApi } from './api-test-app';

let api: TestApi;
let apiKey: string;

beforeAll(async () => {
  api = await startTestApi();
  apiKey = (await createTestOrganization('api-quotes')).apiKey;
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const THREE_TIERS = [
  { up_to: 100, unit_amount: '0.10' },
  { up_to: 1000, unit_amount: '0.08' },
  { up_to: null, unit_amount: '0.05' },
];

const quotePrice = (body: unknown) => api.post('/api/v1/quotes/price', apiKey, body);
const quoteProration = (body: unknown) => api.post('/api/v1/quotes/proration', apiKey, body);

/** The issue's proration example: Nov 2024, upgrade on the 21st from 30 to 60. */
const NOVEMBER_UPGRADE = { currency: 'usd', period_start: '2024-11-01', period_end: '2024-12-01', change_at: '2024-11-21', from_amount: '30', to_amount: '60' };

describe('POST /api/v1/quotes/price', () => {
  test('graduated: ≤100 @ 0.10, ≤1000 @ 0.08, rest @ 0.05 at 1,500 units is 107.00 with each tier priced on its slice', async () => {
    const res = await quotePrice({ currency: 'usd', price: { model: 'graduated', tiers: THREE_TIERS }, quantity: '1500' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      currency: 'usd',
      quantity: '1500',
      amount: '107.00',
      amount_minor: 10700,
      tiers: [
        { from: '0', to: '100', quantity: '100', unit_amount: '0.1', flat_amount: '0', amount: '10.00' },
        { from: '100', to: '1000', quantity: '900', unit_amount: '0.08', flat_amount: '0', amount: '72.00' },
        { from: '1000', to: null, quantity: '500', unit_amount: '0.05', flat_amount: '0', amount: '25.00' },
      ],
    });
  });

  test('volume on the same tiers prices all 1,500 units at the tier they fall in: 75.00', async () => {
    const res = await quotePrice({ currency: 'usd', price: { model: 'volume', tiers: THREE_TIERS }, quantity: '1500' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      currency: 'usd',
      quantity: '1500',
      amount: '75.00',
      amount_minor: 7500,
      tiers: [{ from: '1000', to: null, quantity: '1500', unit_amount: '0.05', flat_amount: '0', amount: '75.00' }],
    });
  });

  test('volume adds the flat amount of the tier the quantity falls in', async () => {
    const tiers = [
      { up_to: 10, unit_amount: '1', flat_amount: '5' },
      { up_to: null, unit_amount: '0.5', flat_amount: '2.50' },
    ];
    const res = await quotePrice({ currency: 'eur', price: { model: 'volume', tiers }, quantity: '8' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ currency: 'eur', amount: '13.00', amount_minor: 1300, tiers: [{ from: '0', to: '10', flat_amount: '5', amount: '13.00' }] });
  });

  test('package of 50 for 3.00 at 120 units bills 3 whole packages: 9.00; free units come off first', async () => {
    const price = { model: 'package', package_size: 50, package_amount: '3.00' };
    const res = await quotePrice({ currency: 'usd', price, quantity: '120' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      currency: 'usd',
      quantity: '120',
      amount: '9.00',
      amount_minor: 900,
      tiers: [{ from: '0', to: null, quantity: '3', unit_amount: '3', flat_amount: '0', amount: '9.00' }],
    });

    const withFree = await quotePrice({ currency: 'usd', price: { ...price, free_units: 20 }, quantity: '120' });
    expect(withFree.status).toBe(200);
    expect(withFree.body).toMatchObject({ amount: '6.00', amount_minor: 600, tiers: [{ quantity: '2' }] });
  });

  test('per_unit multiplies exactly, with no float on the way', async () => {
    const res = await quotePrice({ currency: 'USD', price: { model: 'per_unit', unit_amount: '0.0000025' }, quantity: '1234567' });
    expect(res.status).toBe(200);
    // 1,234,567 × 0.0000025 = 3.0864175 → 3.09
    expect(res.body).toMatchObject({ currency: 'usd', quantity: '1234567', amount: '3.09', amount_minor: 309 });
  });

  test('JPY has no minor unit: half a yen rounds away from zero, per tier', async () => {
    const tiers = [
      { up_to: 1, unit_amount: '10.5' },
      { up_to: null, unit_amount: '0.5' },
    ];
    // 10.5 → 11 and 0.5 → 1, rounded on their own: 12, not round(11.0) = 11.
    const res = await quotePrice({ currency: 'jpy', price: { model: 'graduated', tiers }, quantity: '2' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ currency: 'jpy', amount: '12', amount_minor: 12, tiers: [{ amount: '11' }, { amount: '1' }] });
  });

  test('KWD has three decimals: 2,469 × 0.0005 = 1.2345 → 1.235', async () => {
    const res = await quotePrice({ currency: 'kwd', price: { model: 'per_unit', unit_amount: '0.0005' }, quantity: '2469' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ currency: 'kwd', amount: '1.235', amount_minor: 1235 });
  });

  test('zero quantity costs "0.00"', async () => {
    const res = await quotePrice({ currency: 'usd', price: { model: 'graduated', tiers: THREE_TIERS }, quantity: '0' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ amount: '0.00', amount_minor: 0 });
  });

  test('needs an API key like every /api/v1 route', async () => {
    const res = await api.post('/api/v1/quotes/price', null, { currency: 'usd', price: { model: 'per_unit', unit_amount: '1' }, quantity: '1' });
    expect(res.status).toBe(401);
  });

  const perUnit = { model: 'per_unit', unit_amount: '0.05' };
  test.each<[string, unknown, string, string]>([
    ['tiers out of order', { currency: 'usd', price: { model: 'graduated', tiers: [{ up_to: 1000, unit_amount: '0.1' }, { up_to: 100, unit_amount: '0.08' }, { up_to: null, unit_amount: '0.05' }] }, quantity: '1' }, 'price.tiers.1.up_to', 'INVALID_VALUE'],
    ['an unbounded tier that is not last', { currency: 'usd', price: { model: 'volume', tiers: [{ up_to: null, unit_amount: '0.1' }, { up_to: 100, unit_amount: '0.08' }] }, quantity: '1' }, 'price.tiers.0.up_to', 'INVALID_VALUE'],
    ['a bounded last tier', { currency: 'usd', price: { model: 'graduated', tiers: [{ up_to: 100, unit_amount: '0.1' }] }, quantity: '1' }, 'price.tiers.0.up_to', 'INVALID_VALUE'],
    ['a negative quantity', { currency: 'usd', price: perUnit, quantity: '-5' }, 'quantity', 'INVALID_VALUE'],
    ['a quantity sent as a JSON number', { currency: 'usd', price: perUnit, quantity: 1500 }, 'quantity', 'INVALID_TYPE'],
    ['a non-decimal quantity', { currency: 'usd', price: perUnit, quantity: '12abc' }, 'quantity', 'INVALID_VALUE'],
    ['an exponent-notation unit_amount', { currency: 'usd', price: { model: 'per_unit', unit_amount: '1e3' }, quantity: '1' }, 'price.unit_amount', 'INVALID_VALUE'],
    ['a non-decimal tier unit_amount', { currency: 'usd', price: { model: 'graduated', tiers: [{ up_to: null, unit_amount: 'ten' }] }, quantity: '1' }, 'price.tiers.0.unit_amount', 'INVALID_VALUE'],
    ['an unknown currency', { currency: 'xyz', price: perUnit, quantity: '1' }, 'currency', 'UNKNOWN_CURRENCY'],
    ['an unknown model', { currency: 'usd', price: { model: 'stairstep', unit_amount: '1' }, quantity: '1' }, 'price.model', 'INVALID_VALUE'],
    ['per_unit without unit_amount', { currency: 'usd', price: { model: 'per_unit' }, quantity: '1' }, 'price.unit_amount', 'MISSING_FIELD'],
    ['graduated without tiers', { currency: 'usd', price: { model: 'graduated' }, quantity: '1' }, 'price.tiers', 'MISSING_FIELD'],
    ['volume without tiers', { currency: 'usd', price: { model: 'volume' }, quantity: '1' }, 'price.tiers', 'MISSING_FIELD'],
    ['package without package_size', { currency: 'usd', price: { model: 'package', package_amount: '3.00' }, quantity: '1' }, 'price.package_size', 'MISSING_FIELD'],
    ['package without package_amount', { currency: 'usd', price: { model: 'package', package_size: 50 }, quantity: '1' }, 'price.package_amount', 'MISSING_FIELD'],
    ['a fractional package_size', { currency: 'usd', price: { model: 'package', package_size: 2.5, package_amount: '3' }, quantity: '1' }, 'price.package_size', 'INVALID_TYPE'],
    ['a field another model uses', { currency: 'usd', price: { ...perUnit, tiers: THREE_TIERS }, quantity: '1' }, 'price.tiers', 'UNKNOWN_FIELD'],
    ['an unknown field in price', { currency: 'usd', price: { ...perUnit, discount: '1' }, quantity: '1' }, 'price.discount', 'UNKNOWN_FIELD'],
    ['an unknown field in a tier', { currency: 'usd', price: { model: 'graduated', tiers: [{ up_to: null, unit_amount: '1', from: 0 }] }, quantity: '1' }, 'price.tiers.0.from', 'UNKNOWN_FIELD'],
    ['an unknown top-level field', { currency: 'usd', price: perUnit, quantity: '1', customer: 'c' }, 'customer', 'UNKNOWN_FIELD'],
    ['a missing quantity', { currency: 'usd', price: perUnit }, 'quantity', 'MISSING_FIELD'],
    ['an amount too large for integer minor units', { currency: 'usd', price: { model: 'per_unit', unit_amount: '999999999999999999' }, quantity: '999999999999999999' }, 'quantity', 'INVALID_VALUE'],
  ])('%s → 400 naming the field', async (_name, body, field, code) => {
    const res = await quotePrice(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', details: { field, issues: [expect.objectContaining({ field, code })] } });
    expect(res.body.error).toContain(field);
  });
});

describe('POST /api/v1/quotes/proration', () => {
  test('Nov 2024, 30 → 60 on Nov 21: credit -10.00, charge 20.00, net 10.00 over 10 of 30 days', async () => {
    const res = await quoteProration(NOVEMBER_UPGRADE);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ credit: '-10.00', charge: '20.00', net: '10.00', days_remaining: 10, days_in_period: 30 });
  });

  test('a new start (from_amount 0) credits "0.00", never "-0.00"', async () => {
    const res = await quoteProration({ ...NOVEMBER_UPGRADE, from_amount: '0' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ credit: '0.00', charge: '20.00', net: '20.00', days_remaining: 10, days_in_period: 30 });
  });

  test('a cancellation (to_amount 0) charges "0.00" and nets the credit', async () => {
    const res = await quoteProration({ ...NOVEMBER_UPGRADE, to_amount: '0' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ credit: '-10.00', charge: '0.00', net: '-10.00' });
  });

  test('JPY and KWD round credit and charge each on its own to their minor unit', async () => {
    // 1000 × 10/30 = 333.33… and 2000 × 10/30 = 666.66…
    const jpy = await quoteProration({ ...NOVEMBER_UPGRADE, currency: 'jpy', from_amount: '1000', to_amount: '2000' });
    expect(jpy.status).toBe(200);
    expect(jpy.body).toMatchObject({ credit: '-333', charge: '667', net: '334' });

    // 10 × 10/30 = 3.3333… and 20 × 10/30 = 6.6666…
    const kwd = await quoteProration({ ...NOVEMBER_UPGRADE, currency: 'kwd', from_amount: '10', to_amount: '20' });
    expect(kwd.status).toBe(200);
    expect(kwd.body).toMatchObject({ credit: '-3.333', charge: '6.667', net: '3.334' });
  });

  test('second mode counts elapsed seconds and names its fields in seconds', async () => {
    const body = { ...NOVEMBER_UPGRADE, period_start: '2024-11-01T00:00:00Z', period_end: '2024-12-01T00:00:00Z', change_at: '2024-11-21T12:00:00Z' };
    const bySecond = await quoteProration({ ...body, mode: 'second' });
    expect(bySecond.status).toBe(200);
    // 9.5 of 30 days remain: 30 × 9.5/30 = 9.50 and 60 × 9.5/30 = 19.00.
    expect(bySecond.body).toEqual({ credit: '-9.50', charge: '19.00', net: '9.50', seconds_remaining: 820_800, seconds_in_period: 2_592_000 });

    // The same change in day mode counts the change day whole.
    const byDay = await quoteProration(body);
    expect(byDay.body).toEqual({ credit: '-10.00', charge: '20.00', net: '10.00', days_remaining: 10, days_in_period: 30 });
  });

  test.each<[string, Record<string, unknown>, string, string]>([
    ['change_at before the period', { change_at: '2024-10-31' }, 'change_at', 'INVALID_VALUE'],
    ['change_at at the (exclusive) period end', { change_at: '2024-12-01' }, 'change_at', 'INVALID_VALUE'],
    ['period_end equal to period_start', { period_end: '2024-11-01', change_at: '2024-11-01' }, 'period_end', 'INVALID_VALUE'],
    ['period_end before period_start', { period_end: '2024-10-01' }, 'period_end', 'INVALID_VALUE'],
    ['a period shorter than one UTC day in day mode', { period_start: '2024-11-01T01:00:00Z', period_end: '2024-11-01T23:00:00Z', change_at: '2024-11-01T12:00:00Z' }, 'period_end', 'INVALID_VALUE'],
    ['a period shorter than one second in second mode', { mode: 'second', period_start: '2024-11-01T00:00:00.000Z', period_end: '2024-11-01T00:00:00.500Z', change_at: '2024-11-01T00:00:00.000Z' }, 'period_end', 'INVALID_VALUE'],
    ['an impossible date', { period_start: '2024-02-30' }, 'period_start', 'INVALID_VALUE'],
    ['a date-time without offset', { change_at: '2024-11-21T10:00:00' }, 'change_at', 'INVALID_VALUE'],
    ['a non-decimal from_amount', { from_amount: 'thirty' }, 'from_amount', 'INVALID_VALUE'],
    ['a negative to_amount', { to_amount: '-60' }, 'to_amount', 'INVALID_VALUE'],
    ['an unknown currency', { currency: 'abc' }, 'currency', 'UNKNOWN_CURRENCY'],
    ['an unknown mode', { mode: 'hour' }, 'mode', 'INVALID_VALUE'],
    ['an unknown field', { prorate: true }, 'prorate', 'UNKNOWN_FIELD'],
    ['a missing change_at', { change_at: undefined }, 'change_at', 'MISSING_FIELD'],
  ])('%s → 400 naming the field', async (_name, overrides, field, code) => {
    const res = await quoteProration({ ...NOVEMBER_UPGRADE, ...overrides });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', details: { field, issues: [expect.objectContaining({ field, code })] } });
    expect(res.body.error).toContain(field);
  });
});

test('the OpenAPI document lists both quote endpoints with their strict request schemas', async () => {
  const res = await api.get('/api/openapi.json', null);
  expect(res.status).toBe(200);
  const doc = res.body;
  for (const [path, request, response] of [
    ['/api/v1/quotes/price', 'PriceQuoteRequest', 'PriceQuote'],
    ['/api/v1/quotes/proration', 'ProrationQuoteRequest', 'ProrationQuote'],
  ] as const) {
    const post = doc.paths[path].post;
    expect(post.requestBody.content['application/json'].schema).toEqual({ $ref: `#/components/schemas/${request}` });
    expect(post.responses['200'].content['application/json'].schema).toEqual({ $ref: `#/components/schemas/${response}` });
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['200', '400', '401']));
    expect(doc.components.schemas[request].additionalProperties).toBe(false);
    expect(doc.components.schemas[request].example).toBeDefined();
  }
  expect(Object.keys(doc.components.schemas.PriceQuoteRequest.properties)).toEqual(['currency', 'price', 'quantity']);
  expect(doc.components.schemas.QuotePrice.properties.model.enum).toEqual(['per_unit', 'graduated', 'volume', 'package']);
  expect(doc.components.schemas.ProrationQuoteRequest.required).toEqual(['currency', 'period_start', 'period_end', 'change_at', 'from_amount', 'to_amount']);
});

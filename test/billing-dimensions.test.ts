import { randomUUID } from 'node:crypto';
import { closeToDraft, countUnbilledEvents, lineOfEvent, quantitiesOfLine, reconcilePeriod } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, type TestWorker } from './harness/ingest-worker';
import { insertBatch } from './harness/insert-batch';
import type { AppLoadContext } from 'react-router';
import { readCustomer } from '../web/app/server/customers.server';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Meters with a dimension (issue 14, point 3): one `tokens` meter priced per
 * model. A plan names a price for gpt-4o and a default for every other model
 * (events without a model included); each is its own slice of the meter's
 * events, with its own invoice line, snapshots and range claim, so no event is
 * billed twice or left out. Catalog through the HTTP API; the close, the late
 * usage and leak detection through the real billing-run and reconcile
 * workflows on the real database.
 *
 * The plan: gpt-4o per unit at 0.01; the default graduated, ≤1,000 @ 0.002
 * then 0.001 (tiers apply to the default slice's pooled quantity).
 */

jest.setTimeout(90_000);

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let worker: TestWorker;
let org: Org;

const post = (path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);
const get = (path: string) => api.get(`/api/v1${path}`, org.apiKey);

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };
const december = { periodStart: '2024-12-01T00:00:00.000Z', periodEnd: '2025-01-01T00:00:00.000Z' };
const DEFAULT_TIERS = [
  { up_to: 1000, unit_amount: '0.002' },
  { up_to: null, unit_amount: '0.001' },
];

beforeAll(async () => {
  worker = await startTestWorker('billing-dimensions');
  api = await startTestApi({}, worker.taskQueue);
  org = await createTestOrganization('billing-dimensions');
});

afterAll(async () => {
  await api.close();
  await worker.close();
  await closeTestPrisma();
});

/** `tokens` events of one customer: [timestamp, quantity, properties]. */
async function usage(customerExternalId: string, events: [string, string, Record<string, unknown>][]): Promise<string[]> {
  const batch = await insertBatch(
    testPrisma(),
    org.organizationId,
    events.map(([timestamp, quantity, properties]) => ({ customerExternalId, timestamp, quantity, eventType: 'llm_tokens', properties })),
  );
  return batch.eventIds;
}

/** A billing run for the period, up to its draft (then terminated): the draft's lines. */
const close = (subscriptionId: string, period: { periodStart: string; periodEnd: string }) => closeToDraft(worker, org.organizationId, subscriptionId, period);

describe('a meter priced per model', () => {
  test('the catalog: a meter with a dimension, and plans pricing its values with a default for the rest; mistakes refused naming the field', async () => {
    const tokens = await post('/meters', { key: 'tokens', name: 'Tokens', event_type: 'llm_tokens', aggregation: 'sum', dimension: 'model' });
    expect(tokens.status).toBe(201);
    expect(tokens.body).toMatchObject({ key: 'tokens', dimension: 'model' });
    expect((await post('/meters', { key: 'calls', name: 'Calls', event_type: 'call', aggregation: 'count' })).body).toMatchObject({ dimension: null });

    const plan = (prices: unknown[]) => post('/plans', { key: `p-${randomUUID().slice(0, 8)}`, name: 'P', currency: 'usd', interval: 'month', prices });
    const issue = async (prices: unknown[]) => {
      const res = await plan(prices);
      expect(res.status).toBe(400);
      return res.body.details.issues[0];
    };
    // a value on a meter without a dimension
    expect(await issue([{ meter: 'calls', dimension_value: 'x', model: 'per_unit', unit_amount: '1' }])).toMatchObject({ field: 'prices.0.dimension_value', code: 'UNKNOWN_FIELD' });
    // values without a default: the other models' usage would go unbilled
    expect(await issue([{ meter: 'tokens', dimension_value: 'gpt-4o', model: 'per_unit', unit_amount: '0.01' }])).toMatchObject({
      field: 'prices.0.dimension_value',
      code: 'MISSING_FIELD',
      message: expect.stringContaining('no default price'),
    });
    // one value twice
    expect(
      await issue([
        { meter: 'tokens', model: 'per_unit', unit_amount: '0.001' },
        { meter: 'tokens', dimension_value: 'gpt-4o', model: 'per_unit', unit_amount: '0.01' },
        { meter: 'tokens', dimension_value: 'gpt-4o', model: 'per_unit', unit_amount: '0.02' },
      ]),
    ).toMatchObject({ field: 'prices.2.dimension_value', message: expect.stringContaining('priced twice') });

    const ai = await post('/plans', {
      key: 'ai',
      name: 'AI',
      currency: 'usd',
      interval: 'month',
      base_fee: '10',
      prices: [
        { meter: 'tokens', dimension_value: 'gpt-4o', model: 'per_unit', unit_amount: '0.01' },
        { meter: 'tokens', model: 'graduated', tiers: DEFAULT_TIERS },
      ],
    });
    expect(ai.status).toBe(201);
    // the default first, then the values
    expect(ai.body.prices.map((p: { meter: string; dimension_value: string | null; model: string }) => [p.meter, p.dimension_value, p.model])).toEqual([
      ['tokens', null, 'graduated'],
      ['tokens', 'gpt-4o', 'per_unit'],
    ]);
    expect((await get('/plans/ai')).body.prices).toEqual(ai.body.prices);
  });

  let subscriptionId: string;
  let customerExternalId: string;
  let novemberLines: Awaited<ReturnType<typeof close>>;
  const ids: Record<string, string[]> = {};

  test('a close bills each priced value on its own line and the rest on the default line, each line claiming exactly its events', async () => {
    const prisma = testPrisma();
    const plan = await prisma.plan.findFirstOrThrow({ where: { organizationId: org.organizationId, key: 'ai' } });
    customerExternalId = `cust-${randomUUID().slice(0, 8)}`;
    const customer = await prisma.customer.create({ data: { organizationId: org.organizationId, externalId: customerExternalId } });
    subscriptionId = (
      await prisma.subscription.create({ data: { organizationId: org.organizationId, customerId: customer.id, planId: plan.id, startDate: new Date(november.periodStart), billingAnchorDay: 1 } })
    ).id;
    ids.gpt4o = await usage(customerExternalId, [
      ['2024-11-03T10:00:00Z', '1000', { model: 'gpt-4o' }],
      ['2024-11-04T10:00:00Z', '500', { model: 'gpt-4o', region: 'eu' }],
    ]);
    ids.rest = await usage(customerExternalId, [
      ['2024-11-03T11:00:00Z', '2000', { model: 'claude-sonnet' }],
      ['2024-11-04T11:00:00Z', '300', {}],
      ['2024-11-04T12:00:00Z', '200', { model: null }],
    ]);

    novemberLines = await close(subscriptionId, november);
    expect(novemberLines.map((l) => [l.kind, l.description, l.dimensionValue, l.quantity?.toString() ?? null, l.amount.toFixed(2)])).toEqual([
      ['base_fee', 'AI: base fee', null, null, '10.00'],
      // 2,500 tokens of other models: 1,000 × 0.002 + 1,500 × 0.001
      ['usage', 'Tokens (model: other values): usage', null, '2500', '3.50'],
      ['usage', 'Tokens (model gpt-4o): usage', 'gpt-4o', '1500', '15.00'],
    ]);
    const [, rest, gpt4o] = novemberLines;
    expect(await quantitiesOfLine(org.organizationId, gpt4o!.id)).toEqual(['1000', '500']);
    expect(await quantitiesOfLine(org.organizationId, rest!.id)).toEqual(['200', '2000', '300']);
    for (const id of ids.gpt4o) expect(await lineOfEvent(org.organizationId, id)).toBe(gpt4o!.id);
    for (const id of ids.rest) expect(await lineOfEvent(org.organizationId, id)).toBe(rest!.id);
    expect(await countUnbilledEvents(org.organizationId)).toBe(0);

    // Snapshots are per day and model; each line lists those of its events ('': no model).
    const snapshots = async (line: (typeof novemberLines)[number]) =>
      (await prisma.usageSnapshot.findMany({ where: { id: { in: line.snapshotIds } }, orderBy: [{ day: 'asc' }, { dimensionValue: 'asc' }] })).map((s) => [
        s.dimensionValue,
        s.day.toISOString().slice(0, 10),
        s.quantity.toString(),
        s.eventCount,
      ]);
    expect(await snapshots(gpt4o!)).toEqual([
      ['gpt-4o', '2024-11-03', '1000', 1],
      ['gpt-4o', '2024-11-04', '500', 1],
    ]);
    expect(await snapshots(rest!)).toEqual([
      ['claude-sonnet', '2024-11-03', '2000', 1],
      ['', '2024-11-04', '500', 2],
    ]);

    // The invoice as the API shows it: each line's dimension value and its snapshots.
    const invoice = await get(`/invoices/${gpt4o!.invoiceId}`);
    expect(invoice.body.lines.filter((l: { kind: string }) => l.kind === 'usage').map((l: { dimension_value: string | null; snapshots: { dimension_value: string | null }[] }) => [l.dimension_value, l.snapshots.map((s) => s.dimension_value)])).toEqual([
      [null, ['claude-sonnet', null]],
      ['gpt-4o', ['gpt-4o', 'gpt-4o']],
    ]);
    expect(await reconcile(november)).toMatchObject({ findings: 0 });
  });

  test('late usage: found as a leak of its slice, then billed on the next invoice as each slice\'s own difference', async () => {
    const late = await usage(customerExternalId, [
      ['2024-11-20T10:00:00Z', '200', { model: 'gpt-4o' }],
      ['2024-11-21T10:00:00Z', '100', { model: 'gemini' }],
    ]);
    await reconcile(november, { rerunFinished: true });
    const findings = await testPrisma().leakFinding.findMany({ where: { organizationId: org.organizationId, kind: 'unbilled_usage' }, orderBy: { subject: 'asc' } });
    // 100 more of the default slice: 3.60 − 3.50; 200 more of gpt-4o: 2.00
    expect(findings.map((f) => [f.subject, f.leakAmount.toFixed(2)])).toEqual([
      ['tokens[*]', '0.10'],
      ['tokens[gpt-4o]', '2.00'],
    ]);

    const lines = await close(subscriptionId, december);
    expect(lines.filter((l) => l.kind !== 'base_fee').map((l) => [l.kind, l.description, l.dimensionValue, l.quantity?.toString(), l.amount.toFixed(2)])).toEqual([
      ['usage', 'Tokens (model: other values): usage', null, '0', '0.00'],
      ['usage', 'Tokens (model gpt-4o): usage', 'gpt-4o', '0', '0.00'],
      ['late_usage', 'Tokens (model: other values): adjustment for 2024-11-01 – 2024-12-01, 1 event received after that period closed', null, '100', '0.10'],
      ['late_usage', 'Tokens (model gpt-4o): adjustment for 2024-11-01 – 2024-12-01, 1 event received after that period closed', 'gpt-4o', '200', '2.00'],
    ]);
    const lateLines = lines.filter((l) => l.kind === 'late_usage');
    expect(await lineOfEvent(org.organizationId, late[0]!)).toBe(lateLines[1]!.id);
    expect(await lineOfEvent(org.organizationId, late[1]!)).toBe(lateLines[0]!.id);
    expect(await countUnbilledEvents(org.organizationId)).toBe(0);

    // The customer's page charts the burn per model, day by day, from the snapshots.
    const customer = await testPrisma().customer.findFirstOrThrow({ where: { organizationId: org.organizationId, externalId: customerExternalId } });
    const page = await readCustomer({ prisma: testPrisma() } as unknown as AppLoadContext, org.organizationId, customer.id);
    expect(page!.chart.series).toEqual([
      { key: 'tokens', name: 'Tokens (no model)' },
      { key: 'tokens[claude-sonnet]', name: 'Tokens (model claude-sonnet)' },
      { key: 'tokens[gemini]', name: 'Tokens (model gemini)' },
      { key: 'tokens[gpt-4o]', name: 'Tokens (model gpt-4o)' },
    ]);
    expect(page!.chart.table).toEqual([
      { day: '2024-11-03', values: ['0', '2000', '0', '1000'] },
      { day: '2024-11-04', values: ['500', '0', '0', '500'] },
      { day: '2024-11-20', values: ['0', '0', '0', '200'] },
      { day: '2024-11-21', values: ['0', '0', '100', '0'] },
    ]);
  });

  test('a plan change to a plan pricing other values: each stretch sliced by its own plan; snapshots stay per day and model; a late event lands in its stretch\'s slice', async () => {
    const prisma = testPrisma();
    const flat = await post('/plans', { key: 'flat-ai', name: 'Flat AI', currency: 'usd', interval: 'month', base_fee: '10', prices: [{ meter: 'tokens', model: 'per_unit', unit_amount: '0.005' }] });
    expect(flat.status).toBe(201);
    const ai = await prisma.plan.findFirstOrThrow({ where: { organizationId: org.organizationId, key: 'ai' } });
    const customer = await prisma.customer.create({ data: { organizationId: org.organizationId, externalId: `cust-${randomUUID().slice(0, 8)}` } });
    const sub = await prisma.subscription.create({ data: { organizationId: org.organizationId, customerId: customer.id, planId: flat.body.id, startDate: new Date('2025-01-01T00:00:00Z'), billingAnchorDay: 1 } });
    // AI until noon on 15 January, Flat AI from then on (recorded as the subscription workflow records it)
    await prisma.subscriptionPlanChange.create({
      data: { organizationId: org.organizationId, subscriptionId: sub.id, fromPlanId: ai.id, toPlanId: flat.body.id, effectiveAt: new Date('2025-01-15T12:00:00Z'), requestKey: randomUUID() },
    });
    await usage(customer.externalId, [
      ['2025-01-10T10:00:00Z', '100', { model: 'gpt-4o' }],
      ['2025-01-12T10:00:00Z', '1000', { model: 'claude-sonnet' }],
      ['2025-01-15T08:00:00Z', '100', { model: 'gpt-4o' }],
      ['2025-01-15T16:00:00Z', '300', { model: 'gpt-4o' }],
      ['2025-01-15T16:00:00Z', '50', { model: 'claude-sonnet' }],
    ]);
    const january = { periodStart: '2025-01-01T00:00:00.000Z', periodEnd: '2025-02-01T00:00:00.000Z' };
    const lines = (await close(sub.id, january)).filter((l) => l.kind === 'usage');
    expect(lines.map((l) => [l.description, l.dimensionValue, l.quantity!.toString(), l.amount.toFixed(2)])).toEqual([
      ['Tokens (model: other values): usage on AI, 2025-01-01 – 2025-01-15', null, '1000', '2.00'],
      ['Tokens (model gpt-4o): usage on AI, 2025-01-01 – 2025-01-15', 'gpt-4o', '200', '2.00'],
      // Flat AI prices every model alike: the afternoon's gpt-4o and claude together
      ['Tokens: usage on Flat AI, 2025-01-15 – 2025-02-01', null, '350', '1.75'],
    ]);
    const [, gpt4o, flatLine] = lines;
    expect(await quantitiesOfLine(org.organizationId, gpt4o!.id)).toEqual(['100', '100']);
    expect(await quantitiesOfLine(org.organizationId, flatLine!.id)).toEqual(['300', '50']);
    // A day's snapshot of a model is the whole day's, whichever stretch and price bill its events.
    const snapshotsOf = async (line: { snapshotIds: string[] }) =>
      (await prisma.usageSnapshot.findMany({ where: { id: { in: line.snapshotIds } }, orderBy: [{ day: 'asc' }, { dimensionValue: 'asc' }] })).map((s) => [s.day.toISOString().slice(0, 10), s.dimensionValue, s.quantity.toString()]);
    expect(await snapshotsOf(gpt4o!)).toEqual([
      ['2025-01-10', 'gpt-4o', '100'],
      ['2025-01-15', 'gpt-4o', '400'],
    ]);
    expect(await snapshotsOf(flatLine!)).toEqual([
      ['2025-01-15', 'claude-sonnet', '50'],
      ['2025-01-15', 'gpt-4o', '400'],
    ]);

    // A gpt-4o event of the morning of the 15th, late: AI's gpt-4o price, as the difference for that slice of that stretch.
    const [late] = await usage(customer.externalId, [['2025-01-15T09:00:00Z', '10', { model: 'gpt-4o' }]]);
    const february = { periodStart: '2025-02-01T00:00:00.000Z', periodEnd: '2025-03-01T00:00:00.000Z' };
    const lateLines = (await close(sub.id, february)).filter((l) => l.kind === 'late_usage');
    expect(lateLines.map((l) => [l.description, l.dimensionValue, l.quantity!.toString(), l.amount.toFixed(2)])).toEqual([
      ['Tokens (model gpt-4o): adjustment for 2025-01-01 – 2025-01-15 on AI, 1 event received after that period closed', 'gpt-4o', '10', '0.10'],
    ]);
    expect(await lineOfEvent(org.organizationId, late!)).toBe(lateLines[0]!.id);
    expect(await snapshotsOf(lateLines[0]!)).toEqual([['2025-01-15', 'gpt-4o', '410']]);
    expect(await countUnbilledEvents(org.organizationId)).toBe(0);
  });

  test('the upcoming invoice previews the slices as the close would bill them', async () => {
    const now = new Date();
    const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const customer = `cust-${randomUUID().slice(0, 8)}`;
    const created = await post('/subscriptions', { customer_external_id: customer, plan: 'ai', start_date: today.toISOString().slice(0, 10), billing_anchor_day: today.getUTCDate() });
    expect(created.status).toBe(201);
    await usage(customer, [
      [now.toISOString(), '10', { model: 'gpt-4o' }],
      [now.toISOString(), '10', { model: 'o3' }],
    ]);
    const res = await get(`/customers/${customer}/upcoming-invoice`);
    expect(res.status).toBe(200);
    expect(res.body.subscriptions[0].lines.map((l: { kind: string; dimension_value: string | null; quantity: string | null; amount: string }) => [l.kind, l.dimension_value, l.quantity, l.amount])).toEqual([
      ['base_fee', null, null, '10.00'],
      ['usage', null, '10', '0.02'],
      ['usage', 'gpt-4o', '10', '0.10'],
    ]);
  });
});

function reconcile(period: { periodStart: string; periodEnd: string }, options: { rerunFinished?: boolean } = {}) {
  return reconcilePeriod(worker, org.organizationId, period, options);
}

import { randomUUID } from 'node:crypto';
import { writeAudit } from '../prisma/audit';
import { billingRunWorkflowId } from '../temporal/names';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * The invoice read endpoints against rows written straight into the harness
 * database, the way the billing run writes them: an invoice, its lines, the
 * snapshots a usage line names and the events pointing back at the line.
 */

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let org: Org;
let other: Org;

const get = (path: string, key = org.apiKey) => api.get(`/api/v1${path}`, key);

interface SeededInvoice {
  invoiceId: string;
  subscriptionId: string;
  baseLineId: string;
  usageLineId: string;
  snapshotIds: string[];
  eventIds: string[];
}

/** One subscription of `customer` to a plan in `currency` with one meter, and one invoice for November 2024 with a base fee and a usage line. */
async function seedInvoice(o: Org, opts: { currency: string; customer: string; baseFee: string; usageAmount: string; total: string; events: number }): Promise<SeededInvoice> {
  const prisma = testPrisma();
  const organizationId = o.organizationId;
  const meter = await prisma.meter.upsert({
    where: { organizationId_key: { organizationId, key: 'api_calls' } },
    create: { organizationId, key: 'api_calls', name: 'API calls', eventType: 'api_call', aggregation: 'sum' },
    update: {},
  });
  const plan = await prisma.plan.create({
    data: { organizationId, key: `plan-${randomUUID().slice(0, 8)}`, name: 'Pro', currency: opts.currency, interval: 'month', baseFee: opts.baseFee },
  });
  const customer = await prisma.customer.create({ data: { organizationId, externalId: opts.customer } });
  const periodStart = new Date('2024-11-01T00:00:00Z');
  const periodEnd = new Date('2024-12-01T00:00:00Z');
  const subscription = await prisma.subscription.create({
    data: { organizationId, customerId: customer.id, planId: plan.id, startDate: new Date('2024-10-01T00:00:00Z'), billingAnchorDay: 1 },
  });
  const snapshots = await Promise.all(
    [
      { day: '2024-11-03', quantity: '1000', eventCount: 2, cost: '0.012345678901', revenue: '80' },
      { day: '2024-11-04', quantity: '500', eventCount: opts.events - 2, cost: '0.5', revenue: '27' },
    ].map((s) =>
      prisma.usageSnapshot.create({
        data: { organizationId, customerId: customer.id, meterId: meter.id, day: new Date(`${s.day}T00:00:00Z`), quantity: s.quantity, eventCount: s.eventCount, cost: s.cost, revenue: s.revenue, takenAt: new Date(`${s.day}T23:59:59Z`) },
      }),
    ),
  );
  const invoice = await prisma.invoice.create({
    data: {
      organizationId,
      subscriptionId: subscription.id,
      customerId: customer.id,
      periodStart,
      periodEnd,
      currency: opts.currency,
      total: opts.total,
      workflowId: billingRunWorkflowId(subscription.id, periodStart),
      workflowRunId: randomUUID(),
    },
  });
  const line = (position: number, data: Record<string, unknown>) =>
    prisma.invoiceLine.create({
      data: { organizationId, invoiceId: invoice.id, position, periodStart, periodEnd, kind: 'base_fee', description: '', amount: '0', ...data },
    });
  const baseLine = await line(0, { kind: 'base_fee', description: 'Pro, Nov 2024', amount: opts.baseFee });
  const tiers = [
    { from: '1', to: '100', quantity: '100', unit_amount: '0.1', flat_amount: '0', amount: '10.00' },
    { from: '101', to: '1000', quantity: '900', unit_amount: '0.08', flat_amount: '0', amount: '72.00' },
    { from: '1001', to: null, quantity: '500', unit_amount: '0.05', flat_amount: '0', amount: '25.00' },
  ];
  const usageLine = await line(1, {
    kind: 'usage',
    description: 'API calls',
    meterId: meter.id,
    quantity: '1500',
    includedUnits: '0',
    amount: opts.usageAmount,
    tiers,
    snapshotIds: snapshots.map((s) => s.id),
  });
  const batch = await prisma.ingestBatch.create({ data: { organizationId, received: opts.events, accepted: opts.events, duplicates: 0, rejected: 0 } });
  const eventIds: string[] = [];
  for (let i = 0; i < opts.events; i++) {
    const event = await prisma.usageEvent.create({
      data: {
        organizationId,
        batchId: batch.id,
        idempotencyKey: `${invoice.id}-${i}`,
        customerExternalId: opts.customer,
        customerId: customer.id,
        eventType: 'api_call',
        quantity: i === 0 ? '999.5' : '0.25',
        timestamp: new Date(Date.UTC(2024, 10, 3 + (i % 2), 10, 0, i)),
        cost: '0.000001',
        revenue: '0.5',
        status: 'rated',
      },
    });
    await prisma.lateEventClaim.create({ data: { eventId: event.id, meterId: usageLine.meterId!, invoiceLineId: usageLine.id, organizationId } });
    eventIds.push(event.id);
  }
  return { invoiceId: invoice.id, subscriptionId: subscription.id, baseLineId: baseLine.id, usageLineId: usageLine.id, snapshotIds: snapshots.map((s) => s.id), eventIds };
}

let usd: SeededInvoice;
let jpy: SeededInvoice;
let foreign: SeededInvoice;

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('api-invoices');
  other = await createTestOrganization('api-invoices-other');
  usd = await seedInvoice(org, { currency: 'usd', customer: 'cust-usd', baseFee: '49', usageAmount: '107', total: '156', events: 5 });
  jpy = await seedInvoice(org, { currency: 'jpy', customer: 'cust-jpy', baseFee: '3000', usageAmount: '1000', total: '4000', events: 3 });
  foreign = await seedInvoice(other, { currency: 'usd', customer: 'cust-usd', baseFee: '49', usageAmount: '107', total: '156', events: 3 });

  const prisma = testPrisma();
  const run = { type: 'workflow' as const, id: 'billing-run:x', runId: 'run-1' };
  await writeAudit(prisma, { organizationId: org.organizationId, actor: run, action: 'invoice.drafted', entityType: 'invoice', entityId: usd.invoiceId, after: { total: '156' } });
  await writeAudit(prisma, {
    organizationId: org.organizationId,
    actor: run,
    action: 'invoice.approved',
    entityType: 'invoice',
    entityId: usd.invoiceId,
    before: { status: 'draft' },
    after: { status: 'approved', approved_by: 'cfo@acme.test' },
  });
  // Same entity id in another organization: never part of this invoice's history.
  await writeAudit(prisma, { organizationId: other.organizationId, actor: run, action: 'invoice.forged', entityType: 'invoice', entityId: usd.invoiceId });
  await prisma.invoice.update({ where: { id: usd.invoiceId }, data: { status: 'approved', approvedBy: 'cfo@acme.test', approvedAt: new Date('2024-12-01T10:00:00Z'), approvalNote: 'ok', stripeInvoiceId: 'in_123' } });
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

describe('GET /invoices/:id', () => {
  test('shows the invoice with every line, its snapshots, money at the currency\'s minor unit (usd), and the audit history oldest first', async () => {
    const res = await get(`/invoices/${usd.invoiceId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: usd.invoiceId,
      subscription_id: usd.subscriptionId,
      customer_external_id: 'cust-usd',
      currency: 'usd',
      status: 'approved',
      total: '156.00',
      total_minor: 15600,
      period_start: '2024-11-01T00:00:00.000Z',
      period_end: '2024-12-01T00:00:00.000Z',
      approved_by: 'cfo@acme.test',
      approved_at: '2024-12-01T10:00:00.000Z',
      approval_note: 'ok',
      rejected_by: null,
      stripe_invoice_id: 'in_123',
      workflow_id: `billing-run:${usd.subscriptionId}:2024-11-01`,
    });
    const [base, usage] = res.body.lines;
    expect(res.body.lines).toHaveLength(2);
    expect(base).toMatchObject({ id: usd.baseLineId, kind: 'base_fee', amount: '49.00', meter: null, quantity: null, tiers: [], snapshot_ids: [], snapshots: [] });
    expect(usage).toMatchObject({
      id: usd.usageLineId,
      kind: 'usage',
      description: 'API calls',
      meter: 'api_calls',
      quantity: '1500',
      included_units: '0',
      amount: '107.00',
      period_start: '2024-11-01T00:00:00.000Z',
      period_end: '2024-12-01T00:00:00.000Z',
      snapshot_ids: usd.snapshotIds,
    });
    expect(usage.tiers.map((t: { amount: string }) => t.amount)).toEqual(['10.00', '72.00', '25.00']);
    expect(usage.snapshots).toEqual([
      expect.objectContaining({ id: usd.snapshotIds[0], meter: 'api_calls', day: '2024-11-03', quantity: '1000', event_count: 2, cost: '0.012345678901', revenue: '80' }),
      expect.objectContaining({ id: usd.snapshotIds[1], meter: 'api_calls', day: '2024-11-04', quantity: '500', event_count: 3, cost: '0.5', revenue: '27' }),
    ]);
    expect(res.body.history).toEqual([
      { action: 'invoice.drafted', actor: { type: 'workflow', id: 'billing-run:x', run_id: 'run-1' }, before: null, after: { total: '156' }, at: expect.any(String) },
      {
        action: 'invoice.approved',
        actor: { type: 'workflow', id: 'billing-run:x', run_id: 'run-1' },
        before: { status: 'draft' },
        after: { status: 'approved', approved_by: 'cfo@acme.test' },
        at: expect.any(String),
      },
    ]);
  });

  test('a zero-decimal currency (jpy) shows amounts without decimals', async () => {
    const res = await get(`/invoices/${jpy.invoiceId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ currency: 'jpy', total: '4000', total_minor: 4000, history: [] });
    expect(res.body.lines.map((l: { amount: string }) => l.amount)).toEqual(['3000', '1000']);
  });

  test('another organization\'s invoice, an unknown id and a malformed id are 404s', async () => {
    for (const id of [foreign.invoiceId, randomUUID(), 'not-a-uuid']) {
      const res = await get(`/invoices/${id}`);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('NOT_FOUND');
    }
    expect((await get(`/invoices/${usd.invoiceId}`, other.apiKey)).status).toBe(404);
  });
});

describe('GET /invoices/:id/lines/:lineId/events', () => {
  test('lists the events behind a line, oldest first, with cost and revenue, paged by cursor', async () => {
    const first = await get(`/invoices/${usd.invoiceId}/lines/${usd.usageLineId}/events?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    expect(first.body.data[0]).toEqual({
      id: expect.any(String),
      idempotency_key: `${usd.invoiceId}-0`,
      event_type: 'api_call',
      quantity: '999.5',
      timestamp: '2024-11-03T10:00:00.000Z',
      customer_external_id: 'cust-usd',
      cost: '0.000001',
      revenue: '0.5',
    });
    const seen = [...first.body.data];
    let cursor: string | null = first.body.next_cursor;
    while (cursor) {
      const next = await get(`/invoices/${usd.invoiceId}/lines/${usd.usageLineId}/events?limit=2&cursor=${cursor}`);
      expect(next.status).toBe(200);
      seen.push(...next.body.data);
      cursor = next.body.next_cursor;
    }
    expect(seen.map((e) => e.id).sort()).toEqual([...usd.eventIds].sort());
    const timestamps = seen.map((e) => e.timestamp);
    expect(timestamps).toEqual([...timestamps].sort());
  });

  test('a line with no events has an empty page', async () => {
    const res = await get(`/invoices/${usd.invoiceId}/lines/${usd.baseLineId}/events`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: [], next_cursor: null });
  });

  test('a line of another invoice, of another organization, or an unknown line is a 404', async () => {
    expect((await get(`/invoices/${usd.invoiceId}/lines/${jpy.usageLineId}/events`)).status).toBe(404);
    expect((await get(`/invoices/${foreign.invoiceId}/lines/${foreign.usageLineId}/events`)).status).toBe(404);
    expect((await get(`/invoices/${usd.invoiceId}/lines/${randomUUID()}/events`)).status).toBe(404);
    expect((await get(`/invoices/${usd.invoiceId}/lines/nope/events`)).status).toBe(404);
  });

  test('limit above 1000 and a forged cursor are 400s naming the field', async () => {
    const tooMany = await get(`/invoices/${usd.invoiceId}/lines/${usd.usageLineId}/events?limit=1001`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.details.field).toBe('limit');
    const forged = await get(`/invoices/${usd.invoiceId}/lines/${usd.usageLineId}/events?cursor=abc`);
    expect(forged.status).toBe(400);
    expect(forged.body.details.field).toBe('cursor');
  });
});

describe('GET /invoices', () => {
  test('lists only the caller\'s invoices, filtered by status, customer and subscription', async () => {
    const all = await get('/invoices');
    expect(all.status).toBe(200);
    expect(all.body.data.map((i: { id: string }) => i.id).sort()).toEqual([usd.invoiceId, jpy.invoiceId].sort());
    expect(all.body.data[0].lines).toBeUndefined();

    const ids = async (query: string) => (await get(`/invoices?${query}`)).body.data.map((i: { id: string }) => i.id);
    expect(await ids('status=approved')).toEqual([usd.invoiceId]);
    expect(await ids('status=draft')).toEqual([jpy.invoiceId]);
    expect(await ids('customer=cust-jpy')).toEqual([jpy.invoiceId]);
    expect(await ids(`subscription=${usd.subscriptionId}`)).toEqual([usd.invoiceId]);
    expect(await ids(`subscription=${foreign.subscriptionId}`)).toEqual([]);
  });

  test('pages with next_cursor until every invoice was seen once', async () => {
    const first = await get('/invoices?limit=1');
    expect(first.body.data).toHaveLength(1);
    const second = await get(`/invoices?limit=1&cursor=${first.body.next_cursor}`);
    expect(second.body.data).toHaveLength(1);
    expect(second.body.next_cursor).toBeNull();
    expect([first.body.data[0].id, second.body.data[0].id].sort()).toEqual([usd.invoiceId, jpy.invoiceId].sort());
  });

  test('an unknown status is a 400 naming status', async () => {
    const res = await get('/invoices?status=lost');
    expect(res.status).toBe(400);
    expect(res.body.details.field).toBe('status');
  });

  test('the OpenAPI document describes the invoice endpoints', async () => {
    const doc = (await api.get('/api/openapi.json', null)).body;
    expect(doc.paths['/api/v1/invoices/{id}'].get.responses['404']).toBeDefined();
    expect(doc.paths['/api/v1/invoices/{id}/lines/{lineId}/events'].get.responses['200']).toBeDefined();
    expect(doc.components.schemas.InvoiceLine.properties.snapshots).toBeDefined();
  });
});

import { randomUUID } from 'node:crypto';
import { roundMoney } from '../billing/currency';
import { dec } from '../billing/decimal';
import { countUnbilledEvents, createBillingCatalog, insertUsage, lineOfEvent } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * GET /api/v1/customers/:id/upcoming-invoice against the real database: what
 * the current period would bill if it closed now. Periods here are computed
 * from today's date (the endpoint's "now"), so expected prorations are
 * computed from the period's length with the day rule.
 */

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const DAY_MS = 86_400_000;
const now = new Date();
const monthStart = (offset: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
const thisPeriod = { start: monthStart(0), end: monthStart(1) };
const lastPeriod = { start: monthStart(-1), end: monthStart(0) };
const daysIn = (p: { start: Date; end: Date }) => Math.round((p.end.getTime() - p.start.getTime()) / DAY_MS);
const plusDays = (d: Date, days: number) => new Date(d.getTime() + days * DAY_MS);

const upcoming = (org: Org, id: string) => api.get(`/api/v1/customers/${encodeURIComponent(id)}/upcoming-invoice`, org.apiKey);
const lineSummary = (lines: { kind: string; amount: string; quantity: string | null }[]) => lines.map((l) => [l.kind, l.amount, l.quantity]);

/** Everything the endpoint must leave as it was. */
async function footprint(organizationId: string, customerId: string) {
  const prisma = testPrisma();
  const [unbilled, snapshots, invoices, audit] = await Promise.all([
    countUnbilledEvents(organizationId),
    prisma.usageSnapshot.count({ where: { organizationId, customerId } }),
    prisma.invoice.count({ where: { organizationId } }),
    prisma.auditLog.count({ where: { organizationId } }),
  ]);
  return { unbilled, snapshots, invoices, audit };
}

describe('GET /customers/:id/upcoming-invoice', () => {
  test('a mid-period plan change credits and charges, usage is priced by its tiers, and late usage of a closed period is billed as the difference; nothing is written', async () => {
    const prisma = testPrisma();
    const org = await createTestOrganization('upcoming');
    const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: lastPeriod.start, anchorDay: 1 });
    const { subscriptionId, customerId, customerExternalId } = catalog;

    // Basic → Pro on the 11th of this period, as the workflow's activity records it.
    const changeAt = plusDays(thisPeriod.start, 10);
    await prisma.subscriptionPlanChange.create({
      data: { organizationId: org.organizationId, subscriptionId, fromPlanId: catalog.basicPlanId, toPlanId: catalog.proPlanId, effectiveAt: changeAt, requestKey: 'upgrade' },
    });
    await prisma.subscription.update({ where: { id: subscriptionId }, data: { planId: catalog.proPlanId } });

    // Last period closed with 1,000 calls billed (82.00); 500 more of its calls arrived after the close.
    const [billedEvent, lateEvent] = await insertUsage(prisma, org.organizationId, customerExternalId, [
      { at: plusDays(lastPeriod.start, 2).toISOString(), quantity: '1000' },
      { at: plusDays(lastPeriod.start, 5).toISOString(), quantity: '500' },
    ]);
    const invoice = await prisma.invoice.create({
      data: {
        organizationId: org.organizationId,
        subscriptionId,
        customerId,
        periodStart: lastPeriod.start,
        periodEnd: lastPeriod.end,
        currency: 'usd',
        status: 'paid',
        total: '112',
        workflowId: `billing-run:${subscriptionId}:${lastPeriod.start.toISOString().slice(0, 10)}`,
        workflowRunId: 'closed-before',
        lines: {
          create: [
            { organizationId: org.organizationId, position: 1, kind: 'base_fee', description: 'Basic: base fee', amount: '30', periodStart: lastPeriod.start, periodEnd: lastPeriod.end },
            { organizationId: org.organizationId, position: 2, kind: 'usage', description: 'API calls: usage', meterId: catalog.meterId, quantity: '1000', amount: '82', periodStart: lastPeriod.start, periodEnd: lastPeriod.end },
          ],
        },
      },
      include: { lines: true },
    });
    await prisma.lateEventClaim.create({ data: { eventId: billedEvent!, meterId: catalog.meterId, invoiceLineId: invoice.lines.find((l) => l.kind === 'usage')!.id, organizationId: org.organizationId } });
    // This period: 1,500 calls.
    await insertUsage(prisma, org.organizationId, customerExternalId, [
      { at: plusDays(thisPeriod.start, 1).toISOString(), quantity: '1000' },
      { at: new Date(thisPeriod.start.getTime() + 3_600_000).toISOString(), quantity: '500' },
    ]);

    const before = await footprint(org.organizationId, customerId);
    const res = await upcoming(org, customerExternalId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ customer_id: customerId, customer_external_id: customerExternalId });

    const remaining = daysIn(thisPeriod) - 10;
    const credit = roundMoney(dec(-30).times(remaining).div(daysIn(thisPeriod)), 'usd');
    const charge = roundMoney(dec(60).times(remaining).div(daysIn(thisPeriod)), 'usd');
    const [preview] = res.body.subscriptions;
    expect(res.body.subscriptions).toHaveLength(1);
    expect(preview).toMatchObject({
      subscription_id: subscriptionId,
      plan: 'pro',
      status: 'active',
      cancel_at_period_end: false,
      currency: 'usd',
      period_start: thisPeriod.start.toISOString(),
      period_end: thisPeriod.end.toISOString(),
    });
    expect(lineSummary(preview.lines)).toEqual([
      ['base_fee', '30.00', null],
      ['proration_credit', credit.toFixed(2), null],
      ['proration_charge', charge.toFixed(2), null],
      // This period's calls all fall before the change, on Basic; the Pro stretch after it has none so far.
      ['usage', '107.00', '1500'],
      ['usage', '0.00', '0'],
      // last period now has 1,500 calls (107.00) but was billed 82.00 for 1,000
      ['late_usage', '25.00', '500'],
    ]);
    const total = dec(30).plus(credit).plus(charge).plus(107).plus(0).plus(25);
    expect(preview.total).toBe(total.toFixed(2));
    expect(preview.total_minor).toBe(total.times(100).toNumber());
    const usage = preview.lines[3];
    expect(usage).toMatchObject({ meter: 'api_calls', included_units: '0', period_start: thisPeriod.start.toISOString(), period_end: changeAt.toISOString() });
    expect(usage.description).toBe(`API calls: usage on Basic, ${thisPeriod.start.toISOString().slice(0, 10)} – ${changeAt.toISOString().slice(0, 10)}`);
    expect(preview.lines[4]).toMatchObject({ description: `API calls: usage on Pro, ${changeAt.toISOString().slice(0, 10)} – ${thisPeriod.end.toISOString().slice(0, 10)}`, period_start: changeAt.toISOString() });
    expect(usage.tiers.map((t: { quantity: string; amount: string }) => [t.quantity, t.amount])).toEqual([
      ['100', '10.00'],
      ['900', '72.00'],
      ['500', '25.00'],
    ]);
    expect(preview.lines[5]).toMatchObject({ meter: 'api_calls', period_start: lastPeriod.start.toISOString(), period_end: lastPeriod.end.toISOString() });
    expect(preview.lines[5].description).toContain('1 event received after that period closed');

    // The customer's own id works as well as its external id, and gives the same preview.
    const byUuid = await upcoming(org, customerId);
    expect(byUuid.body.subscriptions).toEqual(res.body.subscriptions);

    // Read only: no event claimed, no snapshot, invoice or audit row written.
    expect(await footprint(org.organizationId, customerId)).toEqual(before);
    expect(await lineOfEvent(org.organizationId, lateEvent!)).toBeNull();
  });

  test('with zero events: the full base fee and a zero usage line; usage of a period still in its grace is left to that period\'s own invoice', async () => {
    const prisma = testPrisma();
    const org = await createTestOrganization('upcoming-zero');
    const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: lastPeriod.start, anchorDay: 1 });
    // Last period has no invoice yet (its billing run is still waiting out the grace).
    await insertUsage(prisma, org.organizationId, catalog.customerExternalId, [{ at: plusDays(lastPeriod.start, 3).toISOString(), quantity: '40' }]);
    const res = await upcoming(org, catalog.customerExternalId);
    expect(res.status).toBe(200);
    const [preview] = res.body.subscriptions;
    expect(lineSummary(preview.lines)).toEqual([
      ['base_fee', '30.00', null],
      ['usage', '0.00', '0'],
    ]);
    expect(preview).toMatchObject({ plan: 'basic', total: '30.00', total_minor: 3000 });
  });

  test('JPY: a subscription that started today is prorated from today, and amounts have no minor unit', async () => {
    const prisma = testPrisma();
    const org = await createTestOrganization('upcoming-jpy');
    const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    // Anchored on tomorrow's day of the month: today is the last day of its period.
    const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: today, anchorDay: plusDays(today, 1).getUTCDate(), currency: 'jpy', basicFee: '4000' });
    await insertUsage(prisma, org.organizationId, catalog.customerExternalId, [
      { at: today.toISOString(), quantity: '1000' },
      { at: new Date(today.getTime() + 1000).toISOString(), quantity: '500' },
    ]);
    const res = await upcoming(org, catalog.customerExternalId);
    expect(res.status).toBe(200);
    const [preview] = res.body.subscriptions;
    expect(preview.period_end).toBe(plusDays(today, 1).toISOString());
    const period = { start: new Date(preview.period_start), end: new Date(preview.period_end) };
    const charge = roundMoney(dec(4000).div(daysIn(period)), 'jpy');
    expect(lineSummary(preview.lines)).toEqual([
      ['proration_charge', charge.toFixed(0), null],
      ['usage', '107', '1500'],
    ]);
    expect(preview.lines[0].period_start).toBe(today.toISOString());
    expect(preview).toMatchObject({ currency: 'jpy', total: charge.plus(107).toFixed(0), total_minor: charge.plus(107).toNumber() });
  });

  test('a customer with nothing to bill gets no subscriptions; another organization\'s customer and an unknown one are 404s', async () => {
    const prisma = testPrisma();
    const org = await createTestOrganization('upcoming-404');
    const other = await createTestOrganization('upcoming-404-other');
    const theirs = await createBillingCatalog(prisma, other.organizationId, { startDate: lastPeriod.start, anchorDay: 1 });
    expect((await upcoming(org, theirs.customerExternalId)).status).toBe(404);
    expect((await upcoming(org, theirs.customerId)).status).toBe(404);
    expect((await upcoming(org, randomUUID())).status).toBe(404);
    expect((await upcoming(org, 'nobody')).body).toMatchObject({ code: 'NOT_FOUND' });

    // Canceled before this period, and one that starts next period: neither bills now.
    const customer = await prisma.customer.create({ data: { organizationId: other.organizationId, externalId: `later-${randomUUID().slice(0, 8)}` } });
    await prisma.subscription.create({
      data: { organizationId: other.organizationId, customerId: customer.id, planId: theirs.basicPlanId, startDate: lastPeriod.start, billingAnchorDay: 1, status: 'canceled', canceledAt: thisPeriod.start },
    });
    await prisma.subscription.create({ data: { organizationId: other.organizationId, customerId: customer.id, planId: theirs.basicPlanId, startDate: thisPeriod.end, billingAnchorDay: 1 } });
    const res = await upcoming(other, customer.externalId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ customer_id: customer.id, subscriptions: [] });
  });
});

import { randomUUID } from 'node:crypto';
import { planTimeline } from '../billing/draft-inputs';
import { checkFeature } from '../services/feature-check';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma } from './harness/fixtures';

/*
 * services/feature-check.ts answers "which plan is the customer on now" in
 * SQL, for speed; billing/draft-inputs.ts planTimeline is the rule invoices
 * are drafted by. This pins the two against each other on real PostgreSQL:
 * for each instant around a subscription's plan changes (a future one
 * included, which subscriptions.plan_id already names) and its
 * cancellation, the entitlement check counts the plan the timeline says.
 */

const T = (iso: string) => new Date(iso);

afterAll(closeTestPrisma);

test('the entitlement check counts the plan billing counts, at every instant around plan changes and a cancellation', async () => {
  const prisma = testPrisma();
  const { organizationId } = await createTestOrganization('feature-timeline');
  const plan = async (key: string, fee: string) => {
    const row = await prisma.plan.create({ data: { organizationId, key, name: key, currency: 'usd', interval: 'month', baseFee: fee } });
    await prisma.planFeature.create({ data: { organizationId, planId: row.id, feature: 'tier', kind: 'config', configValue: key } });
    return row;
  };
  const [a, b, c, d] = [await plan('a', '10'), await plan('b', '20'), await plan('c', '30'), await plan('d', '40')];
  const customer = await prisma.customer.create({ data: { organizationId, externalId: `timeline-${randomUUID().slice(0, 8)}` } });
  // On a since October, b from Nov 10, c from Nov 20; d scheduled for Dec 15 (plan_id names it already); canceled from Dec 20.
  const subscription = await prisma.subscription.create({
    data: { organizationId, customerId: customer.id, planId: d.id, startDate: T('2026-10-01T00:00:00Z'), billingAnchorDay: 1, status: 'canceled', canceledAt: T('2026-12-20T00:00:00Z') },
  });
  const changes = [
    { from: a, to: b, at: T('2026-11-10T00:00:00Z') },
    { from: b, to: c, at: T('2026-11-20T12:00:00Z') },
    { from: c, to: d, at: T('2026-12-15T00:00:00Z') },
  ];
  for (const [i, ch] of changes.entries()) {
    await prisma.subscriptionPlanChange.create({
      data: { organizationId, subscriptionId: subscription.id, fromPlanId: ch.from.id, toPlanId: ch.to.id, effectiveAt: ch.at, requestKey: `change-${i}` },
    });
  }
  const timeline = planTimeline(d, changes.map((ch) => ({ effectiveAt: ch.at, fromPlan: ch.from, toPlan: ch.to })));
  const instants = [
    '2026-09-30T23:59:59.999Z', // before the start: no subscription
    '2026-10-01T00:00:00.000Z',
    '2026-11-09T23:59:59.999Z',
    '2026-11-10T00:00:00.000Z',
    '2026-11-20T11:59:59.999Z',
    '2026-11-20T12:00:00.000Z',
    '2026-12-14T23:59:59.999Z',
    '2026-12-15T00:00:00.000Z',
    '2026-12-19T23:59:59.999Z',
    '2026-12-20T00:00:00.000Z', // the cancellation takes effect: no plan
  ];
  const answers = [];
  for (const iso of instants) {
    const at = T(iso);
    const verdict = await checkFeature(testPool(), organizationId, { customerExternalId: customer.externalId, feature: 'tier', quantity: '1' }, at);
    const subscribed = at >= subscription.startDate && at < subscription.canceledAt!;
    answers.push([iso, verdict.allowed ? verdict.value : null, subscribed ? timeline(at).name : null]);
  }
  for (const [iso, checked, billed] of answers) expect([iso, checked]).toEqual([iso, billed]);
  // The fixture reaches every plan and both ends, so the comparison above is not vacuous.
  expect(answers.map((row) => row[2])).toEqual([null, 'a', 'a', 'b', 'b', 'c', 'c', 'd', 'd', null]);
});

import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { monthIndex, nextPeriod, periodContaining } from '../billing/billing-period';
import { dec } from '../billing/decimal';
import { prorate } from '../billing/proration';
import {
  BILLING_RUN_WORKFLOW_TYPE,
  billingRunStateQuery,
  cancelSignal,
  changePlanSignal,
  subscriptionStateQuery,
  SUBSCRIPTION_WORKFLOW_TYPE,
  type BillingRunInput,
  type BillingRunState,
  type SubscriptionState,
} from '../temporal/billing-messages';
import { billingRunWorkflowId, subscriptionWorkflowId } from '../temporal/workflow-ids';
import { createBillingCatalog, insertUsage } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, subscribeToWebhooks, testPrisma, uniqueTaskQueue } from './harness/fixtures';
import { RecordingNotifier, waitFor } from './harness/ingest-worker';
import { recordHistory } from './harness/histories';
import { StripeFake } from './harness/stripe-fake';
import { describeWithTimeSkipping, startTimeSkippingWorker } from './harness/time-skipping';

/**
 * Two months of one subscription in seconds, on Temporal's time-skipping test
 * server with the real activities, PostgreSQL and the stateful Stripe fake:
 * daily snapshots, a mid-period plan change, late events billed on the next
 * invoice, approval reminders and auto-approval when finance never answers,
 * and a card that fails twice before the third attempt (day 3) succeeds.
 */
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

describeWithTimeSkipping('a subscription over two months (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let stop: () => Promise<void>;
  const fake = new StripeFake();
  const notifier = new RecordingNotifier();
  const taskQueue = uniqueTaskQueue('billing-month');

  beforeAll(async () => {
    ({ env, stop } = await startTimeSkippingWorker({ taskQueue, stripePort: await fake.start(), notifier }));
  });

  afterAll(async () => {
    await stop?.();
    await fake.stop();
    await closeTestPrisma();
  });

  it('snapshots daily, prorates a plan change, bills late events next period, reminds and auto-approves, retries a declined card', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('billing-month');
    await prisma.organization.update({ where: { id: organizationId }, data: { approvalReminderHours: 24, autoApproveAfterHours: 72, lateEventGraceSeconds: 3600 } });
    // The test server's clock starts at the real now: the subscription starts today at midnight UTC.
    const now = await env.currentTimeMs();
    const start = new Date(Math.floor(now / DAY_MS) * DAY_MS);
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: start, anchorDay: start.getUTCDate() });
    const first = periodContaining(start, start.getUTCDate(), 'month', monthIndex(start));
    const second = nextPeriod(first, start.getUTCDate(), 'month');
    const at = (period: { start: Date }, days: number, hours = 12) => new Date(period.start.getTime() + days * DAY_MS + hours * HOUR_MS).toISOString();

    await insertUsage(prisma, organizationId, catalog.customerExternalId, [
      { at: at(first, 1), quantity: '300' },
      { at: at(first, 4), quantity: '700' },
      { at: at(first, 15), quantity: '500' },
    ]);
    fake.declineCharges(2);
    const subscription = await env.client.workflow.start(SUBSCRIPTION_WORKFLOW_TYPE, {
      workflowId: subscriptionWorkflowId(catalog.subscriptionId),
      taskQueue,
      args: [{ organizationId, subscriptionId: catalog.subscriptionId }],
    });
    const changeAt = new Date(first.start.getTime() + 10 * DAY_MS);
    await subscription.signal(changePlanSignal, { planKey: 'pro', effectiveAt: changeAt.toISOString(), requestKey: 'upgrade-1', requestedBy: { type: 'user', id: 'sam@customer' } });

    // Six days in: the daily snapshots of days 1 and 4 exist before any close.
    await env.sleep(6 * DAY_MS);
    const midPeriod: SubscriptionState = await subscription.query(subscriptionStateQuery);
    expect(midPeriod.lastSnapshotDay).toBe(at(first, 5).slice(0, 10));
    const early = await prisma.usageSnapshot.findMany({ where: { customerId: catalog.customerId }, orderBy: { day: 'asc' } });
    expect(early.map((s) => [s.day.toISOString().slice(0, 10), s.quantity.toString()])).toEqual([
      [at(first, 1).slice(0, 10), '300'],
      [at(first, 4).slice(0, 10), '700'],
    ]);
    expect(await prisma.subscriptionPlanChange.count({ where: { subscriptionId: catalog.subscriptionId } })).toBe(1);

    // Past the first period's end and its grace: the first invoice is drafted.
    await env.sleep(first.end.getTime() - (await env.currentTimeMs()) + 2 * HOUR_MS);
    const firstRun = env.client.workflow.getHandle(billingRunWorkflowId(catalog.subscriptionId, first.start));
    const drafted: BillingRunState = await firstRun.query(billingRunStateQuery);
    expect(drafted.status).toBe('awaiting_approval');
    // Events of the first period that arrive now are late: the next invoice bills them.
    await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: at(first, 20), quantity: '500' }]);
    await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: at(second, 2), quantity: '50' }]);
    await subscription.signal(cancelSignal, { atPeriodEnd: true, requestedBy: { type: 'user', id: 'sam@customer' } });

    // Nobody approves: reminders at 24 h and 48 h, auto-approval at 72 h; the card fails twice.
    const firstResult: BillingRunState = await firstRun.result();
    expect(firstResult).toMatchObject({ status: 'paid', remindersSent: 2, paymentAttempts: 3 });
    const invoice1 = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId, periodStart: first.start }, include: { lines: { orderBy: { position: 'asc' } } } });
    const change = prorate({ periodStart: first.start, periodEnd: first.end, changeAt, fromAmount: dec(30), toAmount: dec(60), currency: 'usd' });
    expect(invoice1.lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([
      ['base_fee', '30.00'],
      ['proration_credit', change.credit.toFixed(2)],
      ['proration_charge', change.charge.toFixed(2)],
      // Priced per stretch (tiers restart at the change): 1,000 units on Basic before day 10 (100 × 0.10 + 900 × 0.08),
      // 500 on Pro after it (100 × 0.10 + 400 × 0.08)
      ['usage', '82.00'],
      ['usage', '42.00'],
    ]);
    expect(invoice1.approvedBy).toBe('policy:auto-approve-after-72h');
    const paidAt = invoice1.paidAt!;
    expect(invoice1.paymentAttempts).toBe(3);
    const charges = fake.charges.filter((c) => c.invoice === invoice1.stripeInvoiceId);
    expect(charges.map((c) => c.outcome)).toEqual(['declined', 'declined', 'succeeded']);
    expect(paidAt).toBeInstanceOf(Date);
    const kinds = notifier.sent.filter((n) => (n.payload as { invoiceId?: string }).invoiceId === invoice1.id).map((n) => n.kind);
    expect(kinds).toEqual(['invoice.approval_reminder', 'invoice.approval_reminder', 'invoice.auto_approved']);

    // The subscription ends with the second period; its run bills the late events.
    const ended: SubscriptionState = await subscription.result();
    expect(ended.status).toBe('canceled');
    const secondRun = env.client.workflow.getHandle(billingRunWorkflowId(catalog.subscriptionId, second.start));
    expect(await secondRun.result()).toMatchObject({ status: 'paid', paymentAttempts: 1 });
    const invoice2 = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId, periodStart: second.start }, include: { lines: { orderBy: { position: 'asc' } } } });
    expect(invoice2.lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([
      ['base_fee', '60.00'],
      ['usage', '5.00'],
      // the late 500 fall in the first period's Pro stretch: 1,000 units there now cost 82.00, billed 42.00
      ['late_usage', '40.00'],
    ]);
    expect((await prisma.subscription.findUniqueOrThrow({ where: { id: catalog.subscriptionId } })).status).toBe('canceled');
    await recordHistory('subscription-period-with-plan-change', env.client.workflow.getHandle(subscription.workflowId, subscription.firstExecutionRunId));
    await recordHistory('subscription-last-period-canceled', subscription);
    await recordHistory('billing-run-reminded-auto-approved-card-retried', firstRun);
  });

  it('writes an invoice off as uncollectible after the last scheduled retry, and alerts finance', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('billing-writeoff');
    await prisma.organization.update({ where: { id: organizationId }, data: { autoApproveAfterHours: 1, paymentRetryDays: [1, 2] } });
    const start = new Date(Math.floor((await env.currentTimeMs()) / DAY_MS) * DAY_MS - 40 * DAY_MS);
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: start, anchorDay: start.getUTCDate() });
    const period = periodContaining(start, start.getUTCDate(), 'month', monthIndex(start));
    fake.declineCharges(10);
    const run = await env.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, {
      workflowId: billingRunWorkflowId(catalog.subscriptionId, period.start),
      taskQueue,
      args: [{ organizationId, subscriptionId: catalog.subscriptionId, periodStart: period.start.toISOString(), periodEnd: period.end.toISOString(), lateEventGraceSeconds: 0 }],
    });
    // Attempts now, a day after the first failure, and two days after it: then written off.
    expect(await run.result()).toMatchObject({ status: 'uncollectible', paymentAttempts: 3 });
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    expect(invoice).toMatchObject({ status: 'uncollectible', paymentAttempts: 3 });
    expect(fake.charges.filter((c) => c.invoice === invoice.stripeInvoiceId).map((c) => c.outcome)).toEqual(['declined', 'declined', 'declined']);
    expect(fake.requestsTo('POST', new RegExp(`^/v1/invoices/${invoice.stripeInvoiceId}/mark_uncollectible$`))).toHaveLength(1);
    const alerts = notifier.sent.filter((n) => (n.payload as { invoiceId?: string }).invoiceId === invoice.id).map((n) => n.kind);
    expect(alerts).toEqual(['invoice.auto_approved', 'invoice.uncollectible']);
    fake.declineCharges(0);
  });

  it('records a payment that reached Stripe just before the write-off: the run ends paid, and no uncollectible notice goes out', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('billing-paid-at-writeoff');
    await subscribeToWebhooks(organizationId);
    await prisma.organization.update({ where: { id: organizationId }, data: { autoApproveAfterHours: 1, paymentRetryDays: [1] } });
    const start = new Date(Math.floor((await env.currentTimeMs()) / DAY_MS) * DAY_MS - 40 * DAY_MS);
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: start, anchorDay: start.getUTCDate() });
    const period = periodContaining(start, start.getUTCDate(), 'month', monthIndex(start));
    fake.declineCharges(2);
    // The customer pays on Stripe's page as the run writes the invoice off; the webhook has not reached the run.
    fake.beforeNext('POST', /\/mark_uncollectible$/, () => {
      const open = [...fake.requests].reverse().find((r) => /^\/v1\/invoices\/[^/]+\/pay$/.test(r.path))!;
      fake.payHostedInvoice(open.path.split('/')[3]!);
    });
    const run = await env.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, {
      workflowId: billingRunWorkflowId(catalog.subscriptionId, period.start),
      taskQueue,
      args: [{ organizationId, subscriptionId: catalog.subscriptionId, periodStart: period.start.toISOString(), periodEnd: period.end.toISOString(), lateEventGraceSeconds: 0 }],
    });
    expect(await run.result()).toMatchObject({ status: 'paid', paymentAttempts: 2 });
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    expect(invoice).toMatchObject({ status: 'paid', paidAt: expect.any(Date), uncollectibleAt: null });
    const alerts = notifier.sent.filter((n) => (n.payload as { invoiceId?: string }).invoiceId === invoice.id).map((n) => n.kind);
    expect(alerts).toEqual(['invoice.auto_approved']);
    const events = await prisma.webhookEvent.findMany({ where: { organizationId }, orderBy: { createdAt: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['invoice.drafted', 'invoice.finalized', 'invoice.paid']);
    await recordHistory('billing-run-paid-at-charge-write-off', run);
  });

  it('a run started over, as a reset starts it, resumes reminders, auto-approval and the payment retries from the database', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('billing-resume');
    await prisma.organization.update({ where: { id: organizationId }, data: { approvalReminderHours: 24, autoApproveAfterHours: 72, paymentRetryDays: [1, 3] } });
    const start = new Date(Math.floor((await env.currentTimeMs()) / DAY_MS) * DAY_MS - 40 * DAY_MS);
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: start, anchorDay: start.getUTCDate() });
    const period = periodContaining(start, start.getUTCDate(), 'month', monthIndex(start));
    const workflowId = billingRunWorkflowId(catalog.subscriptionId, period.start);
    const args: [BillingRunInput] = [{ organizationId, subscriptionId: catalog.subscriptionId, periodStart: period.start.toISOString(), periodEnd: period.end.toISOString(), lateEventGraceSeconds: 0 }];
    /** What a reset to the first workflow task does: the run ends, and a new run of the workflow starts over from its first step. */
    const startOver = async (reason: string) => {
      await env.client.workflow.getHandle(workflowId).terminate(reason);
      return env.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId, taskQueue, args, workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE });
    };
    const stateOf = () => env.client.workflow.getHandle(workflowId).query(billingRunStateQuery);
    fake.declineCharges(2);
    await env.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId, taskQueue, args });
    const drafted = await waitFor('the draft', async () => ((await stateOf()).status === 'awaiting_approval' ? true : undefined));
    expect(drafted).toBe(true);
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    const draftedAt = invoice.createdAt.getTime();

    // Two reminders (24 h, 48 h), then a reset: the new run knows they went out and auto-approves 72 h after the draft.
    await env.sleep(draftedAt + 50 * HOUR_MS - (await env.currentTimeMs()));
    const reminders = () => notifier.sent.filter((n) => n.kind === 'invoice.approval_reminder' && (n.payload as { invoiceId?: string }).invoiceId === invoice.id);
    expect(reminders()).toHaveLength(2);
    await startOver('reset while awaiting approval');
    await expect(waitFor('the resumed run', async () => {
      const state = await stateOf();
      return state.status === 'awaiting_approval' ? state : undefined;
    })).resolves.toMatchObject({ remindersSent: 2 });
    await env.sleep(draftedAt + 72 * HOUR_MS + HOUR_MS - (await env.currentTimeMs()));
    expect(await prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } })).toMatchObject({ approvedBy: 'policy:auto-approve-after-72h', paymentAttempts: 1 });
    expect(reminders()).toHaveLength(2);

    // Declined at once and a day later; reset again: the third attempt stays on day 3 after the first decline.
    const firstDecline = await prisma.auditLog.findFirstOrThrow({ where: { organizationId, entityId: invoice.id, action: 'invoice.payment_failed' }, orderBy: { id: 'asc' } });
    const firstDeclinedAt = Date.parse((firstDecline.after as { declinedAt: string }).declinedAt);
    await env.sleep(firstDeclinedAt + DAY_MS + HOUR_MS - (await env.currentTimeMs()));
    expect(await prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } })).toMatchObject({ status: 'finalized', paymentAttempts: 2 });
    const resumed = await startOver('reset while collecting');
    await expect(waitFor('the resumed schedule', async () => {
      const state = await stateOf();
      return state.nextPaymentAt ? state : undefined;
    })).resolves.toMatchObject({ status: 'collecting', paymentAttempts: 2, nextPaymentAt: new Date(firstDeclinedAt + 3 * DAY_MS).toISOString() });
    expect(await resumed.result()).toMatchObject({ status: 'paid', paymentAttempts: 3 });
    const stored = await prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } });
    expect(fake.charges.filter((c) => c.invoice === stored.stripeInvoiceId).map((c) => c.outcome)).toEqual(['declined', 'declined', 'succeeded']);
    const paid = await prisma.auditLog.findFirstOrThrow({ where: { organizationId, entityId: invoice.id, action: 'invoice.paid' } });
    expect(paid.after).toMatchObject({ paymentAttempts: 3, source: 'collection' });
    await recordHistory('billing-run-resumed-collection', resumed);
  });
});

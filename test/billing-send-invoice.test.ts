import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { monthIndex, periodContaining } from '../billing/billing-period';
import { BILLING_RUN_WORKFLOW_TYPE, billingRunStateQuery, paymentEventSignal, type BillingRunState } from '../temporal/billing-messages';
import { PAYMENT_SETUP_WORKFLOW_TYPE, paymentSetupWorkflowId, type PaymentSetupSession } from '../temporal/payment-setup';
import { billingRunWorkflowId } from '../temporal/workflow-ids';
import { createBillingCatalog } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, subscribeToWebhooks, testPrisma, uniqueTaskQueue } from './harness/fixtures';
import { RecordingNotifier, waitFor } from './harness/ingest-worker';
import { recordHistory } from './harness/histories';
import { StripeFake } from './harness/stripe-fake';
import { describeWithTimeSkipping, startTimeSkippingWorker } from './harness/time-skipping';

/**
 * Issue 14, point 5: a customer with no card is not charged (the charge
 * must fail): the invoice is sent with a due date, and the customer pays it
 * on Stripe's page. Unpaid, it goes overdue and is written off after the
 * retry days. A card saved through the Checkout setup page makes the next
 * invoice a charge. Temporal's time-skipping server, the real activities,
 * PostgreSQL, and the stateful Stripe fake whose customers start with no card.
 */
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

describeWithTimeSkipping('invoices for customers without a card (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let stop: () => Promise<void>;
  const fake = new StripeFake({ cardOnFile: false });
  /** set by a test: a notice of this invoice's write-off waits until the test releases it (the run is mid-write-off) */
  let holdWriteOff: { invoiceId: string; reached: () => void; release: Promise<void> } | null = null;
  const notifier = new RecordingNotifier({
    send: async (n) => {
      const held = holdWriteOff;
      if (held && n.kind === 'invoice.uncollectible' && (n.payload as { invoiceId?: string }).invoiceId === held.invoiceId) {
        held.reached();
        await held.release;
      }
    },
  });
  const taskQueue = uniqueTaskQueue('send-invoice');

  beforeAll(async () => {
    ({ env, stop } = await startTimeSkippingWorker({ taskQueue, stripePort: await fake.start(), notifier }));
  });

  afterAll(async () => {
    await stop?.();
    await fake.stop();
    await closeTestPrisma();
  });

  /** An organization that auto-approves after an hour, a subscription whose first period ended, and its billing run started. */
  async function startRun(name: string, settings: { invoiceDueDays: number; paymentRetryDays: number[] }, email: string | null = 'ap@acme.test') {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization(name);
    await subscribeToWebhooks(organizationId);
    await prisma.organization.update({ where: { id: organizationId }, data: { autoApproveAfterHours: 1, ...settings } });
    const start = new Date(Math.floor((await env.currentTimeMs()) / DAY_MS) * DAY_MS - 40 * DAY_MS);
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: start, anchorDay: start.getUTCDate() });
    await prisma.customer.update({ where: { id: catalog.customerId }, data: { email } });
    const period = periodContaining(start, start.getUTCDate(), 'month', monthIndex(start));
    const run = await env.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, {
      workflowId: billingRunWorkflowId(catalog.subscriptionId, period.start),
      taskQueue,
      args: [{ organizationId, subscriptionId: catalog.subscriptionId, periodStart: period.start.toISOString(), periodEnd: period.end.toISOString(), lateEventGraceSeconds: 0 }],
    });
    return { organizationId, catalog, run };
  }

  /** The organization's outbound webhook events, oldest first. */
  const webhookEvents = async (organizationId: string) =>
    (await testPrisma().webhookEvent.findMany({ where: { organizationId }, orderBy: { createdAt: 'asc' } })).map((e) => ({ type: e.type, data: e.payload }));

  const sentState = (run: { query: (q: typeof billingRunStateQuery) => Promise<BillingRunState> }) =>
    waitFor('the invoice sent', async () => {
      const state = await run.query(billingRunStateQuery);
      return state.status === 'collecting' && state.dueAt ? state : undefined;
    });

  it('sends the invoice with its due date instead of charging; the customer pays on the hosted page and the webhook settles it', async () => {
    const prisma = testPrisma();
    const { catalog, run } = await startRun('send-invoice-paid', { invoiceDueDays: 14, paymentRetryDays: [1, 3] });
    const before = await env.currentTimeMs();
    await env.sleep(2 * HOUR_MS);
    const state = await sentState(run);
    const after = await env.currentTimeMs();
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    expect(invoice).toMatchObject({ status: 'finalized', collectionMethod: 'send_invoice', dueAt: new Date(state.dueAt!), hostedInvoiceUrl: `https://invoice.stripe.test/i/${invoice.stripeInvoiceId}` });
    // Due 14 days after it was finalized (on the workflow's clock, which the run's timers keep).
    expect(invoice.dueAt!.getTime()).toBeGreaterThanOrEqual(before + 14 * DAY_MS);
    expect(invoice.dueAt!.getTime()).toBeLessThanOrEqual(after + 14 * DAY_MS);
    expect(fake.invoice(invoice.stripeInvoiceId!)).toMatchObject({ status: 'open', collectionMethod: 'send_invoice', dueDate: Math.floor(invoice.dueAt!.getTime() / 1000), sent: true });
    expect(fake.requestsTo('POST', new RegExp(`^/v1/invoices/${invoice.stripeInvoiceId}/pay$`))).toEqual([]);

    // Ten days later the customer pays on Stripe's page; Stripe's webhook reaches the run (api/routes/stripe-webhooks.ts signals it).
    await env.sleep(10 * DAY_MS);
    expect((await run.query(billingRunStateQuery)).status).toBe('collecting');
    fake.payHostedInvoice(invoice.stripeInvoiceId!);
    await run.signal(paymentEventSignal, { outcome: 'paid', stripeEventId: 'evt_hosted_paid', stripeInvoiceId: invoice.stripeInvoiceId! });
    expect(await run.result()).toMatchObject({ status: 'paid', paymentAttempts: 0, dueAt: state.dueAt });
    expect(await prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } })).toMatchObject({ status: 'paid', paidAt: expect.any(Date) });
    expect(fake.charges.filter((c) => c.invoice === invoice.stripeInvoiceId).map((c) => c.outcome)).toEqual(['succeeded']);
    const alerts = notifier.sent.filter((n) => (n.payload as { invoiceId?: string }).invoiceId === invoice.id).map((n) => n.kind);
    expect(alerts).toEqual(['invoice.auto_approved']);
    // Outbound webhook events (issue 14, point 6), each written with the change it reports.
    expect(await webhookEvents(invoice.organizationId)).toEqual([
      { type: 'invoice.drafted', data: expect.objectContaining({ invoice_id: invoice.id, status: 'draft', number: null }) },
      { type: 'invoice.finalized', data: expect.objectContaining({ invoice_id: invoice.id, status: 'finalized', number: invoice.number, collection_method: 'send_invoice', due_at: state.dueAt }) },
      { type: 'invoice.paid', data: expect.objectContaining({ invoice_id: invoice.id, status: 'paid', paid_at: expect.any(String), total: expect.stringMatching(/^\d+\.\d{2}$/) }) },
    ]);
    await recordHistory('billing-run-sent-invoice-paid', run);
  });

  it('tells finance an unpaid sent invoice is overdue at its due date and on each retry day, then writes it off', async () => {
    const prisma = testPrisma();
    const { catalog, run } = await startRun('send-invoice-unpaid', { invoiceDueDays: 7, paymentRetryDays: [2, 5] });
    expect(await run.result()).toMatchObject({ status: 'uncollectible', overdueNotices: 2, paymentAttempts: 0 });
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    expect(invoice).toMatchObject({ status: 'uncollectible', collectionMethod: 'send_invoice' });
    expect(fake.requestsTo('POST', new RegExp(`^/v1/invoices/${invoice.stripeInvoiceId}/pay$`))).toEqual([]);
    expect(fake.requestsTo('POST', new RegExp(`^/v1/invoices/${invoice.stripeInvoiceId}/mark_uncollectible$`))).toHaveLength(1);
    const mine = notifier.sent.filter((n) => (n.payload as { invoiceId?: string }).invoiceId === invoice.id);
    expect(mine.map((n) => n.kind)).toEqual(['invoice.auto_approved', 'invoice.overdue', 'invoice.overdue', 'invoice.uncollectible']);
    // At the due date, then two days after it; written off five days after it.
    expect(mine.slice(1, 3).map((n) => (n.payload as { daysOverdue: number }).daysOverdue)).toEqual([0, 2]);
    expect(mine.map((n) => n.dedupeKey).slice(1)).toEqual([`invoice-overdue:${invoice.id}:1`, `invoice-overdue:${invoice.id}:2`, `invoice-uncollectible:${invoice.id}`]);
    expect((mine[3]!.payload as { dueAt: string; overdueNotices: number })).toMatchObject({ dueAt: invoice.dueAt!.toISOString(), overdueNotices: 2 });
    expect((await webhookEvents(invoice.organizationId)).map((e) => e.type)).toEqual(['invoice.drafted', 'invoice.finalized', 'invoice.uncollectible']);
    await recordHistory('billing-run-sent-invoice-uncollectible', run);
  });

  it('a run started over, as a reset starts it, waits for the same due date and sends no notice twice', async () => {
    const prisma = testPrisma();
    const { catalog, run } = await startRun('send-invoice-reset', { invoiceDueDays: 7, paymentRetryDays: [2, 5] });
    await env.sleep(2 * HOUR_MS);
    const state = await sentState(run);
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    // Past the due date and its first notice, then a reset: the new run reads the due date from the database.
    await env.sleep(Date.parse(state.dueAt!) + DAY_MS - (await env.currentTimeMs()));
    const notices = () => notifier.sent.filter((n) => n.kind === 'invoice.overdue' && (n.payload as { invoiceId?: string }).invoiceId === invoice.id);
    expect(notices()).toHaveLength(1);
    const { workflowId } = run;
    await run.terminate('reset while the sent invoice waits');
    const resumed = await env.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [{ organizationId: invoice.organizationId, subscriptionId: catalog.subscriptionId, periodStart: invoice.periodStart.toISOString(), periodEnd: invoice.periodEnd.toISOString(), lateEventGraceSeconds: 0 }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    });
    await expect(waitFor('the resumed wait', async () => {
      const s = await resumed.query(billingRunStateQuery);
      return s.dueAt ? s : undefined;
    })).resolves.toMatchObject({ status: 'collecting', dueAt: state.dueAt });
    expect(await resumed.result()).toMatchObject({ status: 'uncollectible' });
    expect(notices().map((n) => n.dedupeKey)).toEqual([`invoice-overdue:${invoice.id}:1`, `invoice-overdue:${invoice.id}:2`]);
    expect(fake.requestsTo('POST', new RegExp(`^/v1/invoices/${invoice.stripeInvoiceId}/send$`))).toHaveLength(1);
    expect(fake.requestsTo('POST', /^\/v1\/invoices$/).filter((r) => (r.body.metadata as Record<string, string>).ledgerflow_invoice_id === invoice.id)).toHaveLength(1);
  });

  it('a customer with no billing email cannot be sent an invoice: the run fails saying which field to fill in, nothing is finalized', async () => {
    const prisma = testPrisma();
    const { catalog, run } = await startRun('send-invoice-no-email', { invoiceDueDays: 7, paymentRetryDays: [2] }, null);
    const failure = await run.result().then(
      () => null,
      (err: Error & { cause?: Error & { cause?: Error & { type?: string } } }) => err.cause?.cause,
    );
    expect(failure).toMatchObject({ type: 'CustomerWithoutEmail', message: expect.stringMatching(new RegExp(`^customer ${catalog.customerExternalId} has no billing email, and its invoice is to be sent .*set the customer's email`)) });
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    // Refused before Stripe made the invoice (Stripe would refuse to create it).
    expect(invoice).toMatchObject({ status: 'approved', collectionMethod: 'send_invoice', dueAt: null, stripeInvoiceId: null });
    expect(fake.requestsTo('POST', /^\/v1\/invoices$/).filter((r) => (r.body.metadata as Record<string, string>).ledgerflow_invoice_id === invoice.id)).toEqual([]);
    const alerts = notifier.sent.filter((n) => (n.payload as { invoiceId?: string }).invoiceId === invoice.id).map((n) => n.kind);
    expect(alerts).toEqual(['invoice.auto_approved', 'billing_run.failed']);
  });

  it('a payment Stripe reports while the run writes the invoice off is recorded: the invoice ends paid, not uncollectible', async () => {
    const prisma = testPrisma();
    const { catalog, run } = await startRun('send-invoice-paid-late', { invoiceDueDays: 1, paymentRetryDays: [1] });
    await env.sleep(2 * HOUR_MS);
    await sentState(run);
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    let reached!: () => void;
    let release!: () => void;
    const atWriteOff = new Promise<void>((resolve) => (reached = resolve));
    holdWriteOff = { invoiceId: invoice.id, reached, release: new Promise<void>((resolve) => (release = resolve)) };
    const result = run.result();
    await atWriteOff;
    // Written off in Stripe already; the customer pays it anyway (Stripe takes payment of an uncollectible invoice).
    expect(fake.invoice(invoice.stripeInvoiceId!)!.status).toBe('uncollectible');
    fake.payHostedInvoice(invoice.stripeInvoiceId!);
    await run.signal(paymentEventSignal, { outcome: 'paid', stripeEventId: 'evt_paid_while_written_off', stripeInvoiceId: invoice.stripeInvoiceId! });
    release();
    holdWriteOff = null;
    expect(await result).toMatchObject({ status: 'paid' });
    expect(await prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } })).toMatchObject({ status: 'paid', paidAt: expect.any(Date) });
    const paid = await prisma.auditLog.findFirstOrThrow({ where: { entityId: invoice.id, action: 'invoice.paid' } });
    expect(paid.after).toMatchObject({ source: 'webhook', stripeEventId: 'evt_paid_while_written_off' });
    await recordHistory('billing-run-paid-during-write-off', run);
  });

  it('a card saved on the Checkout setup page is made the invoice default, and the next invoice is charged to it', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('send-invoice-card');
    const start = new Date(Math.floor((await env.currentTimeMs()) / DAY_MS) * DAY_MS - 40 * DAY_MS);
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: start, anchorDay: start.getUTCDate(), currency: 'eur' });
    await prisma.organization.update({ where: { id: organizationId }, data: { autoApproveAfterHours: 1 } });
    const request = {
      organizationId,
      customerId: catalog.customerId,
      successUrl: 'https://app.example.test/card-saved',
      cancelUrl: null,
      currency: 'eur',
      actor: { type: 'user' as const, id: 'finance@example.test' },
      requestId: 'req-1',
    };
    const setup = await env.client.workflow.execute(PAYMENT_SETUP_WORKFLOW_TYPE, { workflowId: paymentSetupWorkflowId(catalog.customerId, 'req-1'), taskQueue, args: [request] });
    const session = setup as PaymentSetupSession;
    const customer = await prisma.customer.findUniqueOrThrow({ where: { id: catalog.customerId } });
    expect(session).toMatchObject({ url: expect.stringMatching(/^https:\/\/checkout\.stripe\.test\//), stripeCustomerId: customer.stripeCustomerId });
    const [created] = fake.requestsTo('POST', /^\/v1\/checkout\/sessions$/).filter((r) => r.body.customer === customer.stripeCustomerId);
    expect(created!.body).toMatchObject({ mode: 'setup', currency: 'eur', success_url: request.successUrl, metadata: { ledgerflow_customer_id: catalog.customerId } });
    expect(created!.idempotencyKey).toBe('ledgerflow-payment-setup-req-1');
    const audit = await prisma.auditLog.findMany({ where: { organizationId, entityId: catalog.customerId, action: 'customer.payment_setup_started' } });
    expect(audit.map((a) => [a.actorType, a.actorId, a.after])).toEqual([['user', 'finance@example.test', { checkout_session_id: session.sessionId, stripe_customer_id: customer.stripeCustomerId, expires_at: session.expiresAt }]]);
    await recordHistory('payment-setup', env.client.workflow.getHandle(paymentSetupWorkflowId(catalog.customerId, 'req-1')));

    const card = fake.completeCheckoutSetup(session.sessionId);
    const period = periodContaining(start, start.getUTCDate(), 'month', monthIndex(start));
    const run = await env.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, {
      workflowId: billingRunWorkflowId(catalog.subscriptionId, period.start),
      taskQueue,
      args: [{ organizationId, subscriptionId: catalog.subscriptionId, periodStart: period.start.toISOString(), periodEnd: period.end.toISOString(), lateEventGraceSeconds: 0 }],
    });
    expect(await run.result()).toMatchObject({ status: 'paid', paymentAttempts: 1 });
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    expect(invoice).toMatchObject({ collectionMethod: 'charge_automatically', dueAt: null });
    expect(fake.customer(customer.stripeCustomerId!)).toEqual({ defaultPaymentMethod: card, savedCards: [card] });
    expect(fake.invoice(invoice.stripeInvoiceId!)).toMatchObject({ status: 'paid', collectionMethod: 'charge_automatically', sent: false });
    expect(fake.charges.filter((c) => c.invoice === invoice.stripeInvoiceId).map((c) => c.outcome)).toEqual(['succeeded']);
  });
});

import { WorkflowFailedError } from '@temporalio/client';
import { createStripeClient } from '../activities/stripe/client';
import { approveUpdate, billingRunStateQuery, changePlanSignal, subscriptionStateQuery, type BillingRunInput } from '../temporal/billing-messages';
import { BillingRunNotRetryableError, retryFailedBillingRun, startBillingRunWorkflow } from '../temporal/billing-runs';
import { billingRunWorkflowId, subscriptionWorkflowId } from '../temporal/names';
import { startSubscriptionWorkflow } from '../temporal/subscriptions';
import { createBillingCatalog, GRADUATED_TIERS, insertUsage } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { recordHistory } from './harness/histories';
import { StripeFake } from './harness/stripe-fake';

/*
 * A step that fails for good (data a billing rule refuses, a value the
 * database cannot store, Stripe refusing a request) stops its workflow with
 * the reason at once instead of retrying every minute forever, and finance
 * hears of it. A failed billing run is retried once its cause is fixed, and
 * the retry bills once. A subscription request that fails for good is
 * dropped with an alert; the subscription goes on.
 */

jest.setTimeout(90_000);

const fake = new StripeFake();
let worker: TestWorker;

beforeAll(async () => {
  const port = await fake.start();
  worker = await startTestWorker('run-failures', { stripe: createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${port}` }) });
});

afterAll(async () => {
  await worker?.close();
  await fake.stop();
});

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };

async function notificationsOf(organizationId: string, kind: string) {
  return testPrisma().notification.findMany({ where: { organizationId, kind }, orderBy: { createdAt: 'asc' } });
}

describe('a billing run whose step fails for good', () => {
  it('fails at once with the reason and alerts finance; retried after the price is fixed, it drafts one invoice and bills it once', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('run-failures');
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
    await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-05T10:00:00Z', quantity: '300' }]);
    // Tiers out of order, as a hand-edited row or an older release could leave them: no attempt can price them.
    const price = await prisma.planPrice.findFirstOrThrow({ where: { planId: catalog.basicPlanId } });
    await prisma.planPrice.update({ where: { id: price.id }, data: { tiers: [GRADUATED_TIERS[1]!, GRADUATED_TIERS[0]!, GRADUATED_TIERS[2]!] } });

    const input: BillingRunInput = { organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 };
    const started = await startBillingRunWorkflow(worker.client, input, { taskQueue: worker.taskQueue });
    const handle = worker.client.workflow.getHandle(started.workflowId);
    const failedAt = Date.now();
    const failure = await handle.result().then(
      () => null,
      (err: unknown) => err,
    );
    // Non-retryable: the first attempt's refusal ends the run (the retry policy would wait a second, then two, …).
    expect(Date.now() - failedAt).toBeLessThan(20_000);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const history = (await handle.fetchHistory()).events ?? [];
    const attempts = history.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.every((attempt) => attempt === 1)).toBe(true);
    expect(((failure as WorkflowFailedError).cause?.cause as Error | undefined)?.message).toBe('the price of API calls: price.tiers[1].up_to: tiers must be in ascending order of up_to (100 ≤ 1000)');

    const [alert] = await notificationsOf(organizationId, 'billing_run.failed');
    expect(alert?.payload).toMatchObject({ workflowId: started.workflowId, step: 'closePeriod', phase: 'drafting', subscriptionId: catalog.subscriptionId });
    expect((alert!.payload as { reason: string }).reason).toBe('the price of API calls: price.tiers[1].up_to: tiers must be in ascending order of up_to (100 ≤ 1000)');
    await waitFor('the alert delivered', async () => (worker.notifier.sent.some((n) => n.kind === 'billing_run.failed' && n.organizationId === organizationId) ? true : undefined));
    await recordHistory('billing-run-failed-alerted', worker.client.workflow.getHandle(started.workflowId, started.runId!), { ifMissing: true });
    // The close's local try failed, then the regular activity (LOCAL_CLOSE_PATCH): the history above predates it.
    await recordHistory('billing-run-failed-local-close-fallback', worker.client.workflow.getHandle(started.workflowId, started.runId!));

    // Retried before the price is fixed: it fails again, and alerts again (one alert per failed run).
    await expect(retryFailedBillingRun(worker.client, started.workflowId, 'too early')).resolves.toMatchObject({ failedRunId: started.runId });
    await waitFor('the retried run to fail again', async () => ((await handle.describe()).status.name === 'FAILED' ? true : undefined));
    expect(await notificationsOf(organizationId, 'billing_run.failed')).toHaveLength(2);

    await prisma.planPrice.update({ where: { id: price.id }, data: { tiers: GRADUATED_TIERS } });
    const retried = await retryFailedBillingRun(worker.client, started.workflowId, 'tiers fixed');
    expect(retried.runId).not.toBe(retried.failedRunId);
    const running = worker.client.workflow.getHandle(started.workflowId);
    await expect(retryFailedBillingRun(worker.client, started.workflowId, 'twice')).rejects.toBeInstanceOf(BillingRunNotRetryableError);
    const drafted = await waitFor('the draft', async () => {
      const state = await running.query(billingRunStateQuery);
      return state.status === 'awaiting_approval' ? state : undefined;
    });
    expect(drafted.total).toBe('56.00'); // 30 base + 100 × 0.10 + 200 × 0.08
    expect(await prisma.invoice.count({ where: { subscriptionId: catalog.subscriptionId } })).toBe(1);

    await running.executeUpdate(approveUpdate, { args: [{ approver: 'finance@run-failures.test' }] });
    await expect(running.result()).resolves.toMatchObject({ status: 'paid' });
    const invoice = await prisma.invoice.findUniqueOrThrow({ where: { id: drafted.invoiceId! } });
    expect(fake.charges.filter((c) => c.invoice === invoice.stripeInvoiceId)).toHaveLength(1);
  });

  it('retried after Stripe refused a step past approval, it resumes at finalizing and charges once', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('run-failures-stripe');
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
    await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-05T10:00:00Z', quantity: '300' }]);
    const started = await startBillingRunWorkflow(worker.client, { organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 }, { taskQueue: worker.taskQueue });
    const handle = worker.client.workflow.getHandle(started.workflowId);
    await waitFor('the draft', async () => ((await handle.query(billingRunStateQuery)).status === 'awaiting_approval' ? true : undefined));
    fake.refuseOnce('POST', /^\/v1\/invoiceitems$/, 1);
    await handle.executeUpdate(approveUpdate, { args: [{ approver: 'finance@run-failures.test' }] });
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const [alert] = await notificationsOf(organizationId, 'billing_run.failed');
    expect(alert?.payload).toMatchObject({ step: 'finalizeInvoiceInStripe', phase: 'finalizing' });
    expect(String((alert!.payload as { reason: string }).reason)).toContain('Request refused (injected by the fake)');

    await retryFailedBillingRun(worker.client, started.workflowId, 'Stripe fixed');
    const final = await worker.client.workflow.getHandle(started.workflowId).result();
    expect(final.status).toBe('paid');
    // Approved once (no second approval asked for), one Stripe invoice, one charge.
    const invoice = await prisma.invoice.findFirstOrThrow({ where: { subscriptionId: catalog.subscriptionId } });
    const approvals = await prisma.auditLog.count({ where: { organizationId, entityId: invoice.id, action: 'invoice.approved' } });
    expect(approvals).toBe(1);
    expect(fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/invoices' && (r.body.metadata as Record<string, string> | undefined)?.ledgerflow_invoice_id === invoice.id)).toHaveLength(1);
    expect(fake.charges.filter((c) => c.invoice === invoice.stripeInvoiceId)).toHaveLength(1);
  });
});

describe('a subscription request whose step fails for good', () => {
  it('is dropped with an alert; the workflow keeps running and applies the next valid request', async () => {
    const prisma = testPrisma();
    const { organizationId } = await createTestOrganization('sub-failures');
    const now = new Date();
    const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: today });
    const ref = { organizationId, subscriptionId: catalog.subscriptionId, customerId: catalog.customerId };
    await startSubscriptionWorkflow(worker.client, ref, worker.taskQueue);
    const handle = worker.client.workflow.getHandle(subscriptionWorkflowId(catalog.subscriptionId));
    await waitFor('the subscription workflow', async () => ((await handle.query(subscriptionStateQuery)).status === 'active' ? true : undefined));

    // Sent straight to the workflow (the API refuses it): PostgreSQL cannot store a NUL in the request key.
    const requestedBy = { type: 'user' as const, id: 'ops@sub-failures.test' };
    await handle.signal(changePlanSignal, { planKey: 'pro', effectiveAt: new Date().toISOString(), requestKey: 'bad\u0000key', requestedBy });
    const [alert] = await waitFor('the failed-request alert', async () => {
      const rows = await notificationsOf(organizationId, 'subscription.request_failed');
      return rows.length > 0 ? rows : undefined;
    });
    expect(alert!.payload).toMatchObject({ subscriptionId: catalog.subscriptionId, request: 'changePlan', planKey: 'pro', requestedBy });
    expect(String((alert!.payload as { reason: string }).reason)).toBe('the database refused a value (SQLSTATE 22021): invalid byte sequence for encoding "UTF8": 0x00');
    expect(await prisma.subscriptionPlanChange.count({ where: { subscriptionId: catalog.subscriptionId } })).toBe(0);

    await handle.signal(changePlanSignal, { planKey: 'pro', effectiveAt: new Date().toISOString(), requestKey: 'good-key', requestedBy });
    await waitFor('the valid change', async () => ((await prisma.subscriptionPlanChange.count({ where: { subscriptionId: catalog.subscriptionId } })) === 1 ? true : undefined));
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect(await handle.query(subscriptionStateQuery)).toMatchObject({ status: 'active', pendingPlanChanges: 0 });
    await handle.terminate('test over');
    await recordHistory('subscription-request-failed-dropped', handle);
  });
});

describe('retrying', () => {
  it('refuses a run that has not failed', async () => {
    const { organizationId } = await createTestOrganization('run-failures-running');
    const catalog = await createBillingCatalog(testPrisma(), organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
    const workflowId = billingRunWorkflowId(catalog.subscriptionId, november.periodStart);
    await startBillingRunWorkflow(worker.client, { organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 }, { taskQueue: worker.taskQueue });
    await expect(retryFailedBillingRun(worker.client, workflowId, 'test')).rejects.toThrow(`billing run ${workflowId} is running; only a failed or timed-out run is retried`);
    await worker.client.workflow.getHandle(workflowId).terminate('test over');
    await expect(retryFailedBillingRun(worker.client, workflowId, 'test')).rejects.toThrow('is terminated');
  });
});

import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { createStripeClient } from '../activities/stripe/client';
import { approveUpdate, billingRunStateQuery, BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/workflow-ids';
import { createBillingCatalog, insertUsage } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { localActivityMarker, recordHistory } from './harness/histories';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { StripeFake } from './harness/stripe-fake';

/**
 * What ops do when a billing run failed: fix the cause, then reset the run in
 * the Temporal UI to the point after the draft. This test makes the Stripe
 * step fail for good (Stripe refuses an invoice item), resets the run through
 * the same ResetWorkflowExecution call the UI makes, and checks nothing was
 * billed twice: one invoice, one Stripe invoice, one charge, and the reset in
 * the invoice's audit history.
 */
const fake = new StripeFake();
let worker: TestWorker;

beforeAll(async () => {
  const port = await fake.start();
  worker = await startTestWorker('billing-reset', { stripe: createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${port}` }) });
});

afterAll(async () => {
  await worker?.close();
  await fake.stop();
});

const EventType = temporal.api.enums.v1.EventType;

/**
 * The workflow task that recorded the period's close: ops reset to its end to resume after the draft. A close run
 * as the regular activity (runs from before LOCAL_CLOSE_PATCH) is the task after its completion; one run locally
 * is the task that recorded its marker (so a reset runs that task, and with it the idempotent close, again).
 */
function eventAfterClose(history: temporal.api.history.v1.IHistory): number {
  const events = history.events ?? [];
  const marker = events.findIndex((e) => {
    const local = localActivityMarker(e);
    return local?.activityType === 'closePeriod' && !local.failed;
  });
  if (marker >= 0) {
    const taskDone = events.slice(0, marker).findLast((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    if (!taskDone) throw new Error('no workflow task recorded the local closePeriod');
    return Number(taskDone.eventId);
  }
  const scheduled = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && e.activityTaskScheduledEventAttributes?.activityType?.name === 'closePeriod');
  if (!scheduled) throw new Error('no closePeriod in the history');
  const completedAt = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED && Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === Number(scheduled.eventId));
  const taskDone = events.slice(completedAt).find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  if (!taskDone) throw new Error('no workflow task completed after closePeriod');
  return Number(taskDone.eventId);
}

it('a run that failed in its Stripe step, reset to after the draft, bills once', async () => {
  const prisma = testPrisma();
  const { organizationId } = await createTestOrganization('billing-reset');
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z'), anchorDay: 1 });
  await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-12T09:00:00Z', quantity: '250' }]);
  const period = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };
  const input: BillingRunInput = { organizationId, subscriptionId: catalog.subscriptionId, ...period, lateEventGraceSeconds: 0 };
  const workflowId = billingRunWorkflowId(catalog.subscriptionId, period.periodStart);
  const handle = await worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId, taskQueue: worker.taskQueue, args: [input] });
  await waitFor('the draft', async () => ((await handle.query(billingRunStateQuery)).status === 'awaiting_approval' ? true : undefined));

  // Stripe refuses the second invoice item: the Stripe invoice and one item exist, the run fails.
  fake.refuseOnce('POST', /^\/v1\/invoiceitems$/, 2);
  await handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  const failed = await handle.describe();
  expect(failed.status.name).toBe('FAILED');

  // Ops reset it to the point after the draft, as the Temporal UI does.
  const history = await handle.fetchHistory();
  const reset = worker.client.workflowService.resetWorkflowExecution({
    namespace: worker.client.options.namespace,
    workflowExecution: { workflowId, runId: failed.runId },
    reason: 'Stripe refused an invoice item; fixed, resuming after the draft',
    workflowTaskFinishEventId: Long.fromNumber(eventAfterClose(history)),
    requestId: randomUUID(),
  }) as Promise<temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse>;
  const { runId } = await reset;
  const resumed = worker.client.workflow.getHandle(workflowId, runId!);
  expect(await resumed.result()).toMatchObject({ status: 'paid', total: '52.00' });

  const invoices = await prisma.invoice.findMany({ where: { subscriptionId: catalog.subscriptionId } });
  expect(invoices).toHaveLength(1);
  const invoice = invoices[0]!;
  expect(invoice.status).toBe('paid');
  const createdInStripe = fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/invoices' && r.status === 200 && r.body.metadata && (r.body.metadata as Record<string, string>).ledgerflow_invoice_id === invoice.id);
  expect(new Set(createdInStripe.map((r) => r.idempotencyKey)).size).toBe(1);
  const items = fake.requests.filter((r) => r.path === '/v1/invoiceitems' && r.status === 200 && r.body.invoice === invoice.stripeInvoiceId);
  // base fee 30.00 and usage 22.00 (100 × 0.10 + 150 × 0.08), each once
  expect(new Set(items.map((r) => r.idempotencyKey)).size).toBe(2);
  expect(fake.charges.filter((c) => c.invoice === invoice.stripeInvoiceId && c.outcome === 'succeeded')).toHaveLength(1);
  const audit = await prisma.auditLog.findMany({ where: { organizationId, entityType: 'invoice', entityId: invoice.id }, orderBy: { id: 'asc' } });
  expect(audit.map((a) => a.action)).toEqual(['invoice.drafted', 'invoice.approved', 'billing_run.reset_detected', 'invoice.finalized', 'invoice.paid']);
  expect(audit[2]!.after).toMatchObject({ fromRunId: failed.runId, toRunId: runId });
  await recordHistory('billing-run-reset', resumed);
});

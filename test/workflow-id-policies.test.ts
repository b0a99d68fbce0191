import { approveUpdate, billingRunStateQuery, subscriptionStateQuery } from '../temporal/billing-messages';
import { startBillingRunWorkflow } from '../temporal/billing-runs';
import { billingRunWorkflowId, subscriptionWorkflowId } from '../temporal/names';
import { startSubscriptionWorkflow } from '../temporal/subscriptions';
import { createBillingCatalog } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Workflow ids name one period's billing run and one subscription's life;
 * an id that has run is never run again from scratch by a start or a
 * signal-with-start (issue 12, point 9), on the real dev server.
 */

jest.setTimeout(60_000);

let worker: TestWorker;
let api: TestApi;

beforeAll(async () => {
  worker = await startTestWorker('id-policies');
  api = await startTestApi({}, worker.taskQueue);
});

afterAll(async () => {
  await api?.close();
  await worker?.close();
});

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };

/** Executions Temporal has had under a workflow id (visibility catches up within a moment). */
async function executionsOf(workflowId: string): Promise<number> {
  let n = 0;
  for await (const _ of worker.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) n++;
  return n;
}

it('a billing run started again after it completed is a no-op, not a second run of the period', async () => {
  const prisma = testPrisma();
  const { organizationId } = await createTestOrganization('id-policies-run');
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date(november.periodStart), anchorDay: 1, basicFee: '0' });
  const input = { organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 };
  const first = await startBillingRunWorkflow(worker.client, input, { taskQueue: worker.taskQueue });
  expect(first.alreadyStarted).toBe(false);
  const handle = worker.client.workflow.getHandle(first.workflowId);
  await waitFor('the draft', async () => ((await handle.query(billingRunStateQuery)).status === 'awaiting_approval' ? true : undefined));
  await handle.executeUpdate(approveUpdate, { args: [{ approver: 'fiona@finance' }] });
  await expect(handle.result()).resolves.toMatchObject({ status: 'settled_zero' });

  const again = await startBillingRunWorkflow(worker.client, input, { taskQueue: worker.taskQueue });
  expect(again).toEqual({ workflowId: first.workflowId, runId: null, alreadyStarted: true });
  expect((await handle.describe()).runId).toBe(first.runId);
  await waitFor('visibility', async () => ((await executionsOf(first.workflowId)) === 1 ? true : undefined));
});

it('a plan change for a subscription whose workflow ended is a 409, and starts nothing', async () => {
  const { organizationId, apiKey } = await createTestOrganization('id-policies-sub');
  expect((await api.post('/api/v1/plans', apiKey, { key: 'basic', name: 'Basic', currency: 'usd', interval: 'month', base_fee: '30' })).status).toBe(201);
  expect((await api.post('/api/v1/plans', apiKey, { key: 'pro', name: 'Pro', currency: 'usd', interval: 'month', base_fee: '60' })).status).toBe(201);
  const today = new Date().toISOString().slice(0, 10);
  const created = await api.post('/api/v1/subscriptions', apiKey, { customer_external_id: 'ended-1', plan: 'basic', start_date: today, billing_anchor_day: Number(today.slice(8, 10)) });
  expect(created.status).toBe(201);
  const workflowId = subscriptionWorkflowId(created.body.id);
  const handle = worker.client.workflow.getHandle(workflowId);
  const { runId } = await handle.describe();
  await handle.terminate('stopped by ops');

  const res = await api.post(`/api/v1/subscriptions/${created.body.id}/change-plan`, apiKey, { plan: 'pro' });
  expect(res.status).toBe(409);
  expect(res.body).toMatchObject({ code: 'SUBSCRIPTION_WORKFLOW_ENDED', details: { workflow_id: workflowId } });
  expect(res.body.error).toContain('has ended');
  // Still the terminated run: no new run began from the subscription's first period.
  const after = await handle.describe();
  expect({ runId: after.runId, status: after.status.name }).toEqual({ runId, status: 'TERMINATED' });
  expect(await testPrisma().auditLog.count({ where: { organizationId, action: 'subscription.plan_change_requested' } })).toBe(0);
});

it('a subscription workflow started again after its periods were billed begins at the first period no run has closed', async () => {
  const prisma = testPrisma();
  const { organizationId } = await createTestOrganization('id-policies-resume');
  const now = new Date();
  const month = (back: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: month(2), anchorDay: 1 });
  // The two months before this one were billed by an earlier workflow of this subscription.
  for (const back of [2, 1]) {
    await prisma.invoice.create({
      data: {
        organizationId,
        subscriptionId: catalog.subscriptionId,
        customerId: catalog.customerId,
        periodStart: month(back),
        periodEnd: month(back - 1),
        currency: 'usd',
        total: '30',
        status: 'paid',
        workflowId: billingRunWorkflowId(catalog.subscriptionId, month(back)),
        workflowRunId: 'earlier',
      },
    });
  }
  await startSubscriptionWorkflow(worker.client, { organizationId, subscriptionId: catalog.subscriptionId, customerId: catalog.customerId }, worker.taskQueue);
  const handle = worker.client.workflow.getHandle(subscriptionWorkflowId(catalog.subscriptionId));
  const state = await waitFor('the workflow to load its period', async () => {
    const s = await handle.query(subscriptionStateQuery);
    return s.status === 'starting' ? undefined : s;
  });
  // This month, not the subscription's first: no billed period is run again.
  expect({ periodStart: state.periodStart, periodEnd: state.periodEnd }).toEqual({ periodStart: month(0).toISOString(), periodEnd: month(-1).toISOString() });
  expect(state.billingRunWorkflowIds).toEqual([]);
  expect(await executionsOf(billingRunWorkflowId(catalog.subscriptionId, month(2)))).toBe(0);
  expect(await executionsOf(billingRunWorkflowId(catalog.subscriptionId, month(1)))).toBe(0);
  await handle.terminate('test over');
});

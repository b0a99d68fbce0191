import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { startBatch } from '../activities/batch-formation';
import { readIngestBacklog } from '../services/ingest-backlog';
import { createTestOrganization, testPool, testPrisma, uniqueTaskQueue } from './harness/fixtures';
import { insertBatch } from './harness/insert-batch';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { ensureSweeperSchedule, SWEEPER_WORKFLOW_TYPE } from '../temporal/schedules';
import { marginWatchScheduleId } from '../temporal/margin-watch-schedule';
import { createBillingCatalog } from './harness/billing-fixtures';
import { recordHistory } from './harness/histories';
import { ingestWorkflowId } from '../temporal/names';
import { startIngestWorkflow } from '../temporal/ingest';

// The batcher (worker/batcher.ts) died, or never ran: requests wait unclaimed,
// or a processing batch was claimed but its workflow start never recorded.
// The sweeper (a Temporal Schedule running `sweepOrphanBatches`) must find
// both and see them through to `processed`.

// Work of other test files younger than this is never touched by our sweeps.
const ORPHAN_AGE_SECONDS = 120;
const fiveMinutesAgo = () => new Date(Date.now() - 5 * 60_000);

let env: TestWorker;
let organizationId: string;
const scheduleId = `test-sweeper-${randomUUID().slice(0, 8)}`;

/** A request (claim: false) or a processing batch claimed but never started (claim: true), stored at `createdAt`. */
const orphan = (createdAt: Date, claim = true) =>
  insertBatch(testPrisma(), organizationId, [{ customerExternalId: 'acme', timestamp: '2026-11-02T10:00:00Z', quantity: '2' }], { createdAt, claim });

const batchRow = (batchId: string) => testPrisma().processingBatch.findUniqueOrThrow({ where: { id: batchId } });

const processed = (batchId: string) =>
  waitFor(`batch ${batchId} processed`, async () => {
    const row = await batchRow(batchId);
    return row.status === 'processed' ? row : undefined;
  });

/** A sweep of this file's organization (of one given), as the schedule runs it for all. */
const sweep = (scope = organizationId) =>
  env.client.workflow.execute(SWEEPER_WORKFLOW_TYPE, { workflowId: `sweep-${randomUUID()}`, taskQueue: env.taskQueue, args: [{ olderThanSeconds: ORPHAN_AGE_SECONDS, organizationId: scope }] });

beforeAll(async () => {
  env = await startTestWorker('sweeper');
  ({ organizationId } = await createTestOrganization('sweeper'));
});

afterAll(async () => {
  await env?.client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
  await env?.close();
});

describe('orphan batch sweeper', () => {
  it('claims the requests of an organization whose oldest waited past the age into a batch and rates them; leaves an organization with only young ones to the batcher', async () => {
    const old = await orphan(fiveMinutesAgo(), false);
    const youngSameOrganization = await orphan(new Date(), false);
    const other = await createTestOrganization('sweeper-young');
    const youngElsewhere = await insertBatch(testPrisma(), other.organizationId, [{ customerExternalId: 'acme', timestamp: '2026-11-02T10:00:00Z' }], { claim: false });

    const result = await sweep();
    expect(result.found).toBeGreaterThanOrEqual(1);
    // The other organization is out of this sweep's scope; swept on its own, its young request is still left.
    await sweep(other.organizationId);

    const request = await testPrisma().ingestBatch.findUniqueOrThrow({ where: { id: old.requestId } });
    expect(request.processingBatchId).not.toBeNull();
    const done = await processed(request.processingBatchId!);
    // Once an organization is swept, everything it has waiting goes along, oldest first.
    expect(done).toMatchObject({ requests: 2, events: 2, requestIds: [old.requestId, youngSameOrganization.requestId], workflowId: ingestWorkflowId(request.processingBatchId!) });
    const events = await testPrisma().usageEvent.findMany({ where: { batchId: { in: [old.requestId, youngSameOrganization.requestId] } } });
    expect(events.map((e) => e.status)).toEqual(['rated', 'rated']);
    const audits = await testPrisma().auditLog.findMany({ where: { organizationId, entityId: request.processingBatchId!, action: 'batch.workflow_started_by_sweeper' } });
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actorType: 'workflow', entityType: 'processing_batch', before: { status: 'accepted' } });

    expect((await testPrisma().ingestBatch.findUniqueOrThrow({ where: { id: youngElsewhere.requestId } })).processingBatchId).toBeNull();
  });

  it('starts a batch claimed long ago whose workflow start was never recorded', async () => {
    const old = await orphan(fiveMinutesAgo());
    await sweep();
    const done = await processed(old.batchId);
    expect(done.workflowId).toBe(ingestWorkflowId(old.batchId));
    expect(done.runId).toBe((await env.client.workflow.getHandle(done.workflowId!).describe()).runId);
  });

  it('records, without a second run, a workflow the batcher started but never recorded', async () => {
    const old = await orphan(fiveMinutesAgo());
    // The batcher got as far as starting the workflow, on a queue no worker serves yet, then died.
    const stalled = await startIngestWorkflow(env.client, { batchId: old.batchId, organizationId }, uniqueTaskQueue('no-worker'));
    try {
      await sweep();
      const row = await batchRow(old.batchId);
      expect(row).toMatchObject({ status: 'workflow_started', workflowId: stalled.workflowId, runId: stalled.runId });
      const audits = await testPrisma().auditLog.findMany({ where: { organizationId, entityId: old.batchId, action: 'batch.workflow_started_by_sweeper' } });
      expect(audits.map((a) => a.after)).toEqual([{ status: 'workflow_started', workflowId: stalled.workflowId, runId: stalled.runId, alreadyStarted: true }]);
    } finally {
      await env.client.workflow.getHandle(stalled.workflowId).terminate('test cleanup');
    }
  });

  it('marks a batch whose workflow was terminated unprocessed as failed, out of the backlog; a new run processes it', async () => {
    const old = await orphan(fiveMinutesAgo());
    // Started on a queue no worker serves, then terminated by an operator.
    const stalled = await startBatch(testPool(), env.client, old, uniqueTaskQueue('no-worker'));
    await env.client.workflow.getHandle(stalled.workflowId).terminate('stuck, says ops');
    await sweep();
    expect(await batchRow(old.batchId)).toMatchObject({ status: 'failed' });
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, entityId: old.batchId, action: 'batch.failed' } });
    expect(audit.after).toMatchObject({ status: 'failed', workflowStatus: 'TERMINATED' });
    const backlog = await readIngestBacklog(testPool(), organizationId);
    expect(backlog.openBatches).toBe(0);

    // What ops do once the cause is fixed: run ingest:<id> again (a reset in the Temporal UI does the same).
    await startIngestWorkflow(env.client, { batchId: old.batchId, organizationId }, env.taskQueue);
    const done = await processed(old.batchId);
    expect(done.processedAt).not.toBeNull();
    const event = await testPrisma().usageEvent.findFirstOrThrow({ where: { batchId: old.requestId } });
    expect(event.status).toBe('rated');
  });

  it('starts the workflow of a subscription committed without one, and records it; leaves a new one to the API', async () => {
    const prisma = testPrisma();
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date(), anchorDay: new Date().getUTCDate() });
    await prisma.subscription.update({ where: { id: catalog.subscriptionId }, data: { createdAt: fiveMinutesAgo() } });
    const young = await prisma.subscription.create({ data: { organizationId, customerId: catalog.customerId, planId: (await prisma.subscription.findUniqueOrThrow({ where: { id: catalog.subscriptionId } })).planId, startDate: new Date(), billingAnchorDay: new Date().getUTCDate() } });
    const subscriptionHandle = env.client.workflow.getHandle(`subscription:${catalog.subscriptionId}`);
    try {
      const result = await sweep();
      expect(result.subscriptionsStarted).toBe(1);
      expect((await subscriptionHandle.describe()).status.name).toBe('RUNNING');
      expect((await prisma.subscription.findUniqueOrThrow({ where: { id: catalog.subscriptionId } })).workflowStartedAt).not.toBeNull();
      expect((await prisma.subscription.findUniqueOrThrow({ where: { id: young.id } })).workflowStartedAt).toBeNull();
      // Recorded: the next sweep does not try it again.
      expect((await sweep()).subscriptionsStarted).toBe(0);
    } finally {
      await subscriptionHandle.terminate('test over').catch(() => undefined);
    }
  });

  it('gives an organization created after the worker started its margin-watch schedule, and a changed interval', async () => {
    const fresh = await createTestOrganization('sweeper-margin');
    const handle = env.client.schedule.getHandle(marginWatchScheduleId(fresh.organizationId));
    try {
      expect((await sweep(fresh.organizationId)).marginWatchesScheduled).toBe(1);
      expect((await handle.describe()).spec.intervals).toMatchObject([{ every: 60 * 60_000 }]);
      expect((await sweep(fresh.organizationId)).marginWatchesScheduled).toBe(0);
      await testPrisma().organization.update({ where: { id: fresh.organizationId }, data: { marginWatchEveryMinutes: 15 } });
      const run = await env.client.workflow.start(SWEEPER_WORKFLOW_TYPE, {
        workflowId: `sweep-${randomUUID()}`,
        taskQueue: env.taskQueue,
        args: [{ olderThanSeconds: ORPHAN_AGE_SECONDS, organizationId: fresh.organizationId }],
      });
      expect((await run.result()).marginWatchesScheduled).toBe(1);
      await recordHistory('sweep-entities', run);
      expect((await handle.describe()).spec.intervals).toMatchObject([{ every: 15 * 60_000 }]);
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });

  it('ensureSweeperSchedule creates the schedule once, updates it on a second call, and its run processes an orphan', async () => {
    const first = await ensureSweeperSchedule(env.client, { taskQueue: env.taskQueue, everySeconds: 3600, olderThanSeconds: ORPHAN_AGE_SECONDS, scheduleId, organizationId });
    const second = await ensureSweeperSchedule(env.client, { taskQueue: env.taskQueue, everySeconds: 1800, olderThanSeconds: ORPHAN_AGE_SECONDS, scheduleId, organizationId });
    expect([first.created, second.created]).toEqual([true, false]);

    const handle = env.client.schedule.getHandle(scheduleId);
    const description = await handle.describe();
    expect(description.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(description.spec.intervals).toMatchObject([{ every: 1_800_000 }]);
    expect(description.action).toMatchObject({ workflowType: SWEEPER_WORKFLOW_TYPE, taskQueue: env.taskQueue, args: [{ olderThanSeconds: ORPHAN_AGE_SECONDS, organizationId }] });

    const old = await orphan(fiveMinutesAgo());
    await handle.trigger();
    const done = await processed(old.batchId);
    expect(done.workflowId).toBe(ingestWorkflowId(old.batchId));
  });
});

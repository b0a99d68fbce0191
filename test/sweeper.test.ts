import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { createTestOrganization, testPrisma, uniqueTaskQueue } from './harness/fixtures';
import { insertBatch, type InsertedBatch } from './harness/insert-batch';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { ensureSweeperSchedule, SWEEPER_WORKFLOW_TYPE } from '../temporal/schedules';
import { ingestWorkflowId } from '../temporal/names';
import { startIngestWorkflow } from '../temporal/ingest';

// The API commits a batch and then dies before starting its workflow: the
// batch sits in `accepted`. The sweeper (a Temporal Schedule running
// `sweepOrphanBatches`) must find it and see it through to `processed`.

// Batches of other test files younger than this are never touched by our sweeps.
const ORPHAN_AGE_SECONDS = 120;
const fiveMinutesAgo = () => new Date(Date.now() - 5 * 60_000);

let env: TestWorker;
let organizationId: string;
const scheduleId = `test-sweeper-${randomUUID().slice(0, 8)}`;

const orphan = (createdAt: Date) =>
  insertBatch(testPrisma(), organizationId, [{ customerExternalId: 'acme', timestamp: '2026-11-02T10:00:00Z', quantity: '2' }], { createdAt });

const batchRow = (b: InsertedBatch) => testPrisma().ingestBatch.findUniqueOrThrow({ where: { id: b.batchId } });

const processed = (b: InsertedBatch) =>
  waitFor(`batch ${b.batchId} processed`, async () => {
    const row = await batchRow(b);
    return row.status === 'processed' ? row : undefined;
  });

beforeAll(async () => {
  env = await startTestWorker('sweeper');
  ({ organizationId } = await createTestOrganization('sweeper'));
});

afterAll(async () => {
  await env?.client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
  await env?.close();
});

describe('orphan batch sweeper', () => {
  it('starts the workflow of an old accepted batch and leaves a young one to the API', async () => {
    const old = await orphan(fiveMinutesAgo());
    const young = await orphan(new Date());

    const result = await env.client.workflow.execute(SWEEPER_WORKFLOW_TYPE, {
      workflowId: `sweep-${randomUUID()}`,
      taskQueue: env.taskQueue,
      args: [{ olderThanSeconds: ORPHAN_AGE_SECONDS }],
    });
    expect(result.found).toBeGreaterThanOrEqual(1);

    const done = await processed(old);
    expect(done.workflowId).toBe(ingestWorkflowId(old.batchId));
    expect(done.runId).toBe((await env.client.workflow.getHandle(done.workflowId!).describe()).runId);
    const event = await testPrisma().usageEvent.findFirstOrThrow({ where: { batchId: old.batchId } });
    expect(event.status).toBe('rated');

    const audits = await testPrisma().auditLog.findMany({ where: { organizationId, entityId: old.batchId, action: 'batch.workflow_started_by_sweeper' } });
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actorType: 'workflow', before: { status: 'accepted' } });

    expect((await batchRow(young)).status).toBe('accepted');
  });

  it('records, without a second run, a workflow the API started but never recorded', async () => {
    const old = await orphan(fiveMinutesAgo());
    // The API got as far as starting the workflow, on a queue no worker serves yet, then died.
    const stalled = await startIngestWorkflow(env.client, { batchId: old.batchId, organizationId }, uniqueTaskQueue('no-worker'));
    try {
      await env.client.workflow.execute(SWEEPER_WORKFLOW_TYPE, { workflowId: `sweep-${randomUUID()}`, taskQueue: env.taskQueue, args: [{ olderThanSeconds: ORPHAN_AGE_SECONDS }] });
      const row = await batchRow(old);
      expect(row).toMatchObject({ status: 'workflow_started', workflowId: stalled.workflowId, runId: stalled.runId });
      const audits = await testPrisma().auditLog.findMany({ where: { organizationId, entityId: old.batchId, action: 'batch.workflow_started_by_sweeper' } });
      expect(audits.map((a) => a.after)).toEqual([{ status: 'workflow_started', workflowId: stalled.workflowId, runId: stalled.runId, alreadyStarted: true }]);
    } finally {
      await env.client.workflow.getHandle(stalled.workflowId).terminate('test cleanup');
    }
  });

  it('ensureSweeperSchedule creates the schedule once, updates it on a second call, and its run processes an orphan', async () => {
    const first = await ensureSweeperSchedule(env.client, { taskQueue: env.taskQueue, everySeconds: 3600, olderThanSeconds: ORPHAN_AGE_SECONDS, scheduleId });
    const second = await ensureSweeperSchedule(env.client, { taskQueue: env.taskQueue, everySeconds: 1800, olderThanSeconds: ORPHAN_AGE_SECONDS, scheduleId });
    expect([first.created, second.created]).toEqual([true, false]);

    const handle = env.client.schedule.getHandle(scheduleId);
    const description = await handle.describe();
    expect(description.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(description.spec.intervals).toMatchObject([{ every: 1_800_000 }]);
    expect(description.action).toMatchObject({ workflowType: SWEEPER_WORKFLOW_TYPE, taskQueue: env.taskQueue, args: [{ olderThanSeconds: ORPHAN_AGE_SECONDS }] });

    const old = await orphan(fiveMinutesAgo());
    await handle.trigger();
    const done = await processed(old);
    expect(done.workflowId).toBe(ingestWorkflowId(old.batchId));
  });
});

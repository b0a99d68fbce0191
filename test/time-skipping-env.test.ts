import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createTimeSkippingEnv, describeWithTimeSkipping } from './harness/time-skipping';
import { uniqueTaskQueue } from './harness/fixtures';
import type { sleepy } from './harness/workflows/sleepy';

const DAY_MS = 24 * 60 * 60 * 1000;

describeWithTimeSkipping('time-skipping test environment (Java test server from Maven Central)', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });

  afterAll(async () => {
    await env?.teardown();
  });

  it('lets a workflow sleep 30 days: workflow time moves on by at least that much', async () => {
    const taskQueue = uniqueTaskQueue('time-skipping');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('./harness/workflows/sleepy'),
    });
    const result = await worker.runUntil(
      env.client.workflow.execute<typeof sleepy>('sleepy', { taskQueue, workflowId: `sleepy-${taskQueue}`, args: [30] }),
    );
    expect(result.after - result.before).toBeGreaterThanOrEqual(30 * DAY_MS);
  });
});

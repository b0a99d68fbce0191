// docker-compose healthcheck of the worker: healthy when this container's
// worker is polling the task queue. The SDK's default worker identity is
// `<pid>@<hostname>`, and Temporal lists recent pollers per task queue.
import os from 'node:os';
import { temporal } from '@temporalio/proto';
import { createTemporalClient } from '../temporal/client';
import { TASK_QUEUE } from '../temporal/names';

async function main(): Promise<boolean> {
  const handle = await createTemporalClient();
  try {
    const { pollers } = await handle.connection.workflowService.describeTaskQueue({
      namespace: handle.client.options.namespace,
      taskQueue: { name: TASK_QUEUE, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    return (pollers ?? []).some((p) => p.identity?.endsWith(`@${os.hostname()}`));
  } finally {
    await handle.close();
  }
}

main().then(
  (healthy) => process.exit(healthy ? 0 : 1),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);

import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';

/** Starts a workflow under an id that names what it is for; a start for an id already running (or run) changes nothing. */
export async function startOnce(temporal: Client, type: string, workflowId: string, taskQueue: string, args: unknown[]): Promise<string> {
  try {
    await temporal.workflow.start(type, { workflowId, taskQueue, args });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return workflowId;
}

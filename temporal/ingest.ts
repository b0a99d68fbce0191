import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { ingestWorkflowId, TASK_QUEUE } from './names';
import { BatchId, OrganizationId } from './search-attributes';

/** Workflow type name and input of the per-batch ingest workflow. */
export const INGEST_WORKFLOW_TYPE = 'ingestBatch';
export interface IngestBatchInput {
  batchId: string;
  organizationId: string;
}

export interface StartedWorkflow {
  workflowId: string;
  /** null when the workflow had already been started by someone else */
  runId: string | null;
  alreadyStarted: boolean;
}

/**
 * Starts `ingest:<batchId>`. The id is deterministic, so a second start (a
 * retry, or the sweeper racing the API) is a no-op rather than a second run.
 */
export async function startIngestWorkflow(client: Client, input: IngestBatchInput, taskQueue = TASK_QUEUE): Promise<StartedWorkflow> {
  const workflowId = ingestWorkflowId(input.batchId);
  try {
    const handle = await client.workflow.start(INGEST_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [input],
      typedSearchAttributes: [
        { key: OrganizationId, value: input.organizationId },
        { key: BatchId, value: input.batchId },
      ],
    });
    return { workflowId, runId: handle.firstExecutionRunId, alreadyStarted: false };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, runId: null, alreadyStarted: true };
    throw err;
  }
}

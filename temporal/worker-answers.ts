import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, type Duration } from '@temporalio/common';

/**
 * A short workflow the API and the web app start to have the worker do one
 * thing only it can (it holds the Stripe keys), then wait a while for the
 * answer. A workflow not taken up within its execution timeout (no worker)
 * times out instead of acting later, after what it was asked against changed.
 */
export type WorkerAnswer<T> =
  | { kind: 'done'; result: T; workflowId: string }
  /** refused for good: the failure's type (an ApplicationFailure type, or a Stripe error's class such as StripeInvalidRequestError) and words */
  | { kind: 'refused'; type: string | null; message: string; workflowId: string }
  /** a workflow with this id is running already */
  | { kind: 'in_progress'; workflowId: string }
  /** no answer within the wait: the workflow goes on, within its timeout */
  | { kind: 'pending'; workflowId: string };

export async function askWorker<T>(
  deps: { temporal: Client; taskQueue: string },
  /** joinRunning: a workflow with this id running already is the same request sent again; its answer is awaited */
  request: { workflowType: string; workflowId: string; args: unknown[]; waitMs: number; timeout: Duration; joinRunning?: boolean },
): Promise<WorkerAnswer<T>> {
  const { workflowId } = request;
  let handle;
  try {
    handle = await deps.temporal.workflow.start(request.workflowType, { workflowId, taskQueue: deps.taskQueue, args: request.args, workflowExecutionTimeout: request.timeout });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    if (!request.joinRunning) return { kind: 'in_progress', workflowId };
    handle = deps.temporal.workflow.getHandle(workflowId);
  }
  try {
    const result = (await deps.temporal.withDeadline(Date.now() + request.waitMs, () => handle.result())) as T;
    return { kind: 'done', result, workflowId };
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause?.cause instanceof Error ? err.cause.cause : err.cause;
      return { kind: 'refused', type: cause instanceof ApplicationFailure ? (cause.type ?? null) : null, message: cause?.message ?? err.message, workflowId };
    }
    // Still working (Stripe slow, retried, or no worker yet).
    return { kind: 'pending', workflowId };
  }
}

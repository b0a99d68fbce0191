import { Context } from '@temporalio/activity';
import type { AuditActor } from '../prisma/audit';

/**
 * The audit actor of an activity: the workflow run that scheduled it. An
 * activity started on its own (no workflow) is recorded as the system,
 * named after the activity type.
 */
export function workflowActor(): AuditActor {
  const { workflowExecution, activityType } = Context.current().info;
  if (!workflowExecution) return { type: 'system', id: `activity:${activityType}` };
  return { type: 'workflow', id: workflowExecution.workflowId, runId: workflowExecution.runId };
}

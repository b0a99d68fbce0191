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

/**
 * When Temporal scheduled this activity attempt: the workflow's clock, which
 * its timers run on. A stamp a workflow later counts a schedule from (the
 * draft's time for reminders, the first decline for payment retries) is
 * taken from it rather than from the database's clock, so the two never
 * drift apart (they do by design in a time-skipping test).
 */
export function workflowClock(): Date {
  const ms = Context.current().info.currentAttemptScheduledTimestampMs;
  // A mock activity environment reports 1 ms after the epoch: no server's clock; take ours.
  return Number.isFinite(ms) && ms >= NO_REAL_CLOCK_BEFORE ? new Date(ms) : new Date();
}

const NO_REAL_CLOCK_BEFORE = Date.UTC(2000, 0, 1);

import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsStartWorkflowAction, type ScheduleSpec, type Workflow } from '@temporalio/client';
import { SWEEPER_SCHEDULE_ID } from './names';

/** Workflow type the sweeper schedule starts (exported by workflows/). */
export const SWEEPER_WORKFLOW_TYPE = 'sweepOrphanBatches';

export interface SweeperScheduleOptions {
  taskQueue: string;
  everySeconds: number;
  /** passed to the sweep: batches younger than this are left to the API (default 60) */
  olderThanSeconds?: number;
  /** defaults to SWEEPER_SCHEDULE_ID; tests use their own so they do not fight over one schedule */
  scheduleId?: string;
  /** sweep one organization only (tests share one database); default all */
  organizationId?: string;
}

/**
 * Creates the sweeper's Temporal Schedule, or brings an existing one to the
 * given interval and action, so every worker start may call it. Overlap SKIP:
 * a sweep still running when the next one is due makes that one unnecessary.
 */
export async function ensureSweeperSchedule(client: Client, options: SweeperScheduleOptions): Promise<{ scheduleId: string; created: boolean }> {
  const scheduleId = options.scheduleId ?? SWEEPER_SCHEDULE_ID;
  const spec: ScheduleSpec = { intervals: [{ every: `${options.everySeconds}s` }] };
  const action: ScheduleOptionsStartWorkflowAction<Workflow> = {
    type: 'startWorkflow',
    workflowType: SWEEPER_WORKFLOW_TYPE,
    workflowId: `${scheduleId}-sweep`,
    taskQueue: options.taskQueue,
    args: [{ olderThanSeconds: options.olderThanSeconds ?? 60, ...(options.organizationId ? { organizationId: options.organizationId } : {}) }],
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
    return { scheduleId, created: true };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({ spec, action, policies, state: previous.state }));
  return { scheduleId, created: false };
}

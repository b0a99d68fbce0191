import { createHash } from 'node:crypto';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsStartWorkflowAction, type ScheduleSpec, type Workflow } from '@temporalio/client';
import type { PrismaClient } from '../prisma/client';
import { TASK_QUEUE } from './names';

/** Workflow type the schedule starts (exported by workflows/). */
export const MARGIN_WATCH_WORKFLOW_TYPE = 'marginWatch';

/** One schedule per organization; its runs are margin-watch:<orgId>-<time>. */
export const marginWatchScheduleId = (organizationId: string): string => `margin-watch:${organizationId}`;

/**
 * Where in each interval the organization's watch runs: a fixed offset from
 * a hash of its id, whole seconds in [0, interval). Without it every
 * organization's schedule fired at the same instant (an hourly interval is
 * aligned to the hour), and at a few hundred organizations their evaluations
 * queued for the worker's database connections until they failed and retried.
 */
export function marginWatchOffsetMs(organizationId: string, everyMinutes: number): number {
  const hash = createHash('sha256').update(organizationId).digest().readUInt32BE(0);
  return (hash % (everyMinutes * 60)) * 1000;
}

/**
 * A watch missed while Temporal or the worker was down is not made up: the
 * next one evaluates the same period. (Temporal's default takes every
 * schedule's missed action at once when it comes back, up to a year late.)
 */
export const MARGIN_WATCH_CATCHUP_WINDOW_MS = 60_000;

/**
 * Creates the organization's margin-watch schedule, or brings an existing
 * one to `everyMinutes` (the organization's marginWatchEveryMinutes), keeping
 * its paused state, so it is safe to call on every settings change and at
 * every worker start. Overlap SKIP: a watch still running when the next is
 * due makes that one unnecessary. Each organization's runs fall at its own
 * offset within the interval (marginWatchOffsetMs).
 */
export async function ensureMarginWatchSchedule(
  client: Client,
  organizationId: string,
  everyMinutes: number,
  options: { taskQueue?: string } = {},
): Promise<{ scheduleId: string; created: boolean }> {
  if (!Number.isInteger(everyMinutes) || everyMinutes < 1) throw new RangeError('everyMinutes must be a whole number of minutes, at least 1');
  const scheduleId = marginWatchScheduleId(organizationId);
  const spec: ScheduleSpec = { intervals: [{ every: `${everyMinutes}m`, offset: marginWatchOffsetMs(organizationId, everyMinutes) }] };
  const action: ScheduleOptionsStartWorkflowAction<Workflow> = {
    type: 'startWorkflow',
    workflowType: MARGIN_WATCH_WORKFLOW_TYPE,
    workflowId: scheduleId,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    args: [{ organizationId }],
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: MARGIN_WATCH_CATCHUP_WINDOW_MS };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
    return { scheduleId, created: true };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({ spec, action, policies, state: previous.state }));
  return { scheduleId, created: false };
}

/**
 * Gives every organization (or one) whose margin-watch schedule is missing,
 * or set to another interval than its margin_watch_every_minutes, the
 * schedule it should have, and records the interval: organizations created
 * after the worker started get theirs from the sweeper, and a changed
 * interval takes effect within a sweep. Returns the organizations it set.
 */
export async function ensureMarginWatchSchedules(
  client: Client,
  prisma: PrismaClient,
  options: { taskQueue?: string; organizationId?: string; limit?: number } = {},
): Promise<string[]> {
  const rows = await prisma.$queryRaw<{ id: string; every: number }[]>`
    SELECT id, margin_watch_every_minutes AS every FROM organizations
     WHERE margin_watch_scheduled_minutes IS DISTINCT FROM margin_watch_every_minutes
       AND (${options.organizationId ?? null}::uuid IS NULL OR id = ${options.organizationId ?? null}::uuid)
     ORDER BY created_at LIMIT ${options.limit ?? 500}`;
  for (const org of rows) {
    await ensureMarginWatchSchedule(client, org.id, org.every, { taskQueue: options.taskQueue });
    await prisma.organization.update({ where: { id: org.id }, data: { marginWatchScheduledMinutes: org.every } });
  }
  return rows.map((r) => r.id);
}

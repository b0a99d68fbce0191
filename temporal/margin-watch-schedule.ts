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
 * A watch Temporal itself missed (the server was down at its time) is taken
 * late only within this window; older ones are not made up, since the next
 * watch evaluates the same period. Temporal's default takes every schedule's
 * missed action at once when it comes back, up to a year late. (While only
 * the worker is down, Temporal still starts each watch on time and it waits
 * in the task queue, one per organization with overlap SKIP.) Two minutes,
 * not one: the client reports an unset window as 60 s.
 */
export const MARGIN_WATCH_CATCHUP_WINDOW_MS = 120_000;

/**
 * The version of the schedule spec this code makes, recorded per
 * organization next to the interval: a schedule brought up to date by an older
 * worker (during a rollout) is then still recognised as not at this spec.
 * 2: each organization's own offset and the catch-up window above.
 */
export const MARGIN_WATCH_SPEC_VERSION = 2;

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
 * set to another interval than its margin_watch_every_minutes, or made by an
 * older spec (MARGIN_WATCH_SPEC_VERSION), the schedule it should have, and
 * records the interval and the spec: organizations created after the worker
 * started get theirs from the sweeper, and a changed interval takes effect
 * within a sweep. Stops between organizations once `signal` aborts (a worker
 * shutting down). Returns the organizations it set.
 */
export async function ensureMarginWatchSchedules(
  client: Client,
  prisma: PrismaClient,
  options: { taskQueue?: string; organizationId?: string; limit?: number; signal?: AbortSignal } = {},
): Promise<string[]> {
  const rows = await prisma.$queryRaw<{ id: string; every: number }[]>`
    SELECT id, margin_watch_every_minutes AS every FROM organizations
     WHERE (margin_watch_scheduled_minutes IS DISTINCT FROM margin_watch_every_minutes
            OR margin_watch_spec_version IS DISTINCT FROM ${MARGIN_WATCH_SPEC_VERSION}::int)
       AND (${options.organizationId ?? null}::uuid IS NULL OR id = ${options.organizationId ?? null}::uuid)
     ORDER BY created_at LIMIT ${options.limit ?? 500}`;
  const set: string[] = [];
  for (const org of rows) {
    if (options.signal?.aborted) break;
    await ensureMarginWatchSchedule(client, org.id, org.every, { taskQueue: options.taskQueue });
    await prisma.organization.update({ where: { id: org.id }, data: { marginWatchScheduledMinutes: org.every, marginWatchSpecVersion: MARGIN_WATCH_SPEC_VERSION } });
    set.push(org.id);
  }
  return set;
}

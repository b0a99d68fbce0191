import { randomUUID } from 'node:crypto';
import { createChannelNotifier } from '../activities/channels';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import {
  ensureMarginWatchSchedule,
  ensureMarginWatchSchedules,
  MARGIN_WATCH_CATCHUP_WINDOW_MS,
  MARGIN_WATCH_SPEC_VERSION,
  MARGIN_WATCH_WORKFLOW_TYPE,
  marginWatchOffsetMs,
  marginWatchScheduleId,
} from '../temporal/margin-watch-schedule';
import { temporal } from '@temporalio/proto';
import type { marginWatch } from '../workflows';
import { marginEvaluationsTaskQueue } from '../temporal/workflow-ids';
import { recordHistory } from './harness/histories';
import { createTestOrganization, subscribeToWebhooks, testPool, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { insertRatedEvents } from './harness/margin-fixtures';
import { startSlackFake, type RecordedSlackMessage, type SlackFake } from './harness/slack-fake';
import { mailHeader, startSmtpFake, type RecordedMail, type SmtpFake } from './harness/smtp-fake';

/*
 * The marginWatch workflow on a real worker, database and Temporal dev
 * server, delivering through the real Slack and email channels to local
 * fakes. One customer (acme) whose events all carry feature "chat", so each
 * change alerts twice: for the customer and for the feature.
 */

const AS_OF = '2026-11-22T12:00:00Z';
const WEB = 'https://app.ledgerflow.test';
let env: TestWorker;
let slack: SlackFake;
let smtp: SmtpFake;
let organizationId: string;
let acme: { id: string; externalId: string };
const schedules: string[] = [];

beforeAll(async () => {
  process.env.WEB_BASE_URL = WEB;
  [slack, smtp] = await Promise.all([startSlackFake(), startSmtpFake()]);
  const channels = createChannelNotifier({
    prisma: testPrisma(),
    slack: { token: 'xoxb-margins', apiUrl: slack.apiUrl },
    email: { smtpUrl: smtp.url, from: 'Ledgerflow <alerts@ledgerflow.test>' },
    contactsTtlMs: 0,
    log: () => undefined,
  });
  env = await startTestWorker('margin-watch', { forwardTo: channels });
  ({ organizationId } = await createTestOrganization('margin-watch'));
  await subscribeToWebhooks(organizationId);
  await testPrisma().organization.update({ where: { id: organizationId }, data: { financeSlackChannel: '#margins', financeEmail: 'finance@acme.test' } });
  acme = await testPrisma().customer.create({ data: { organizationId, externalId: 'acme' } });
});

afterAll(async () => {
  delete process.env.WEB_BASE_URL;
  for (const id of schedules) await env?.client.schedule.getHandle(id).delete().catch(() => undefined);
  await env?.close();
  await Promise.all([slack?.close(), smtp?.close()]);
});

let runs = 0;
async function watch(): Promise<{ result: { evaluated: number; changes: number; queued: number }; workflowId: string; runId: string }> {
  const workflowId = `margin-watch:${organizationId}-test-${++runs}`;
  const handle = await env.client.workflow.start<typeof marginWatch>(MARGIN_WATCH_WORKFLOW_TYPE, { taskQueue: env.taskQueue, workflowId, args: [{ organizationId, asOf: AS_OF }] });
  return { result: await handle.result(), workflowId, runId: handle.firstExecutionRunId };
}

const events = (revenue: string, cost: string) => insertRatedEvents(testPrisma(), organizationId, acme, [{ at: '2026-11-10T10:00:00Z', feature: 'chat', revenue, currency: 'usd', cost }]);

/** Quoted-printable body as text (nodemailer wraps long lines). */
const body = (mail: RecordedMail) => mail.raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
const byTitle = (messages: RecordedSlackMessage[], fragment: string) => messages.filter((m) => m.text.includes(fragment));

test('fires below the threshold once, not again at the same level, worsens by a step, resolves on recovery', async () => {
  // revenue 100, cost 85: margin 15.00, 1500 bps < 2000.
  await events('100.00', '85');
  const first = await watch();
  expect(first.result).toEqual({ evaluated: 2, changes: 2, queued: 2 });
  expect(slack.messages).toHaveLength(2);
  expect(smtp.mails).toHaveLength(2);
  const [customerMsg] = byTitle(slack.messages, 'customer acme');
  expect(customerMsg!.channel).toBe('#margins');
  expect(customerMsg!.text).toContain('*Margin below threshold: customer acme, margin 15.00 %*');
  expect(customerMsg!.text).toContain('Revenue: 100.00 USD');
  expect(customerMsg!.text).toContain('Cost: 85.00 USD');
  expect(customerMsg!.text).toContain('Margin: 15.00 USD');
  // Block Kit: header, amounts, and buttons to the customer in the web app and to this Temporal run.
  const blocks = customerMsg!.blocks as { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: { url?: string; text: unknown }[] }[];
  expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'context', 'actions']);
  expect(blocks[0]!.text!.text).toBe('Margin below threshold: customer acme, margin 15.00 %');
  expect(blocks[1]!.fields!.map((f) => f.text)).toEqual(['*Revenue*\n100.00 USD', '*Cost*\n85.00 USD', '*Margin*\n15.00 USD', '*Margin (bps)*\n1500', '*Threshold (bps)*\n2000']);
  expect(blocks[3]!.elements!.map((e) => e.url)).toEqual([
    `${WEB}/customers/${acme.id}`,
    `http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(first.workflowId)}/${first.runId}`,
  ]);
  expect(byTitle(slack.messages, 'Margin below threshold: feature chat, margin 15.00 %')).toHaveLength(1);
  const mail = smtp.mails.find((m) => mailHeader(m, 'Subject')?.includes('customer acme'))!;
  expect(mail.envelope.to).toEqual(['finance@acme.test']);
  expect(mailHeader(mail, 'Subject')).toBe('[Ledgerflow] Margin below threshold: customer acme, margin 15.00 %');
  expect(body(mail)).toContain('Revenue: 100.00 USD');
  expect(body(mail)).toContain(`Open in Ledgerflow: ${WEB}/customers/${acme.id}`);

  // Same margin: no change, no message.
  const again = await watch();
  expect(again.result).toEqual({ evaluated: 2, changes: 0, queued: 0 });
  // 1400 bps: 100 below the last notified 1500, less than the 500 step.
  await events('0', '1');
  expect((await watch()).result.queued).toBe(0);
  expect(slack.messages).toHaveLength(2);
  expect(smtp.mails).toHaveLength(2);

  // 900 bps: 600 below 1500 → worsened.
  await events('0', '5');
  expect((await watch()).result).toEqual({ evaluated: 2, changes: 2, queued: 2 });
  expect(slack.messages).toHaveLength(4);
  expect(byTitle(slack.messages.slice(2), 'Margin worsened: customer acme, margin 9.00 %, down from 15.00 %')).toHaveLength(1);
  expect(byTitle(slack.messages.slice(2), 'Margin worsened: feature chat, margin 9.00 %, down from 15.00 %')).toHaveLength(1);

  // Revenue 200, cost 91: 5450 bps, back above the threshold → resolved.
  await events('100.00', '0');
  expect((await watch()).result).toEqual({ evaluated: 2, changes: 2, queued: 2 });
  expect(slack.messages).toHaveLength(6);
  expect(smtp.mails).toHaveLength(6);
  const resolved = byTitle(slack.messages.slice(4), 'Margin recovered: customer acme, margin 54.50 %');
  expect(resolved).toHaveLength(1);
  expect(resolved[0]!.text).toContain('Margin: 109.00 USD');
  expect(smtp.mails.slice(4).map((m) => mailHeader(m, 'Subject')).sort()).toEqual([
    '[Ledgerflow] Margin recovered: customer acme, margin 54.50 %',
    '[Ledgerflow] Margin recovered: feature chat, margin 54.50 %',
  ]);

  // One row per scope, period and level, now resolved; every change audited.
  const alerts = await testPrisma().marginAlert.findMany({ where: { organizationId }, orderBy: { scope: 'asc' } });
  expect(alerts.map((a) => [a.scope, a.scopeKey, a.level, a.status, a.marginBps, a.lastNotifiedBps, a.periodStart.toISOString()])).toEqual([
    ['customer', acme.id, 'below_threshold', 'resolved', 1500, 5450, '2026-11-01T00:00:00.000Z'],
    ['feature', 'chat', 'below_threshold', 'resolved', 1500, 5450, '2026-11-01T00:00:00.000Z'],
  ]);
  const audit = await testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'margin_alert', entityId: alerts[0]!.id }, orderBy: { id: 'asc' } });
  expect(audit.map((a) => [a.action, a.actorType])).toEqual([
    ['margin_alert.opened', 'workflow'],
    ['margin_alert.worsened', 'workflow'],
    ['margin_alert.resolved', 'workflow'],
  ]);
  expect(env.notifier.sent.map((n) => n.kind).sort()).toEqual([
    'margin.below_threshold', 'margin.below_threshold', 'margin.resolved', 'margin.resolved', 'margin.worsened', 'margin.worsened',
  ]);
  // Each message is an outbound webhook event too (issue 14, point 6), in snake_case.
  const hooks = await testPrisma().webhookEvent.findMany({ where: { organizationId } });
  expect(hooks.map((e) => e.type).sort()).toEqual(env.notifier.sent.map((n) => n.kind).sort());
  expect(hooks.find((e) => e.type === 'margin.worsened')!.payload).toMatchObject({ scope: expect.any(String), margin_bps: expect.any(Number), threshold_bps: expect.any(Number), period_start: '2026-11-01T00:00:00.000Z' });
});

test('cost without revenue is a negative margin: one margin.negative message, the below-threshold alert opens silently', async () => {
  const other = await createTestOrganization('margin-watch-negative');
  await testPrisma().organization.update({ where: { id: other.organizationId }, data: { financeSlackChannel: '#negative' } });
  const bolt = await testPrisma().customer.create({ data: { organizationId: other.organizationId, externalId: 'bolt' } });
  await insertRatedEvents(testPrisma(), other.organizationId, bolt, [{ at: '2026-11-10T10:00:00Z', cost: '3' }]);
  const handle = await env.client.workflow.start<typeof marginWatch>(MARGIN_WATCH_WORKFLOW_TYPE, {
    taskQueue: env.taskQueue,
    workflowId: `margin-watch:${other.organizationId}-test-negative`,
    args: [{ organizationId: other.organizationId, asOf: AS_OF }],
  });
  // customer bolt and the "no feature" row, each: negative (notifies) + below_threshold (silent)
  expect(await handle.result()).toEqual({ evaluated: 2, changes: 4, queued: 2 });
  await recordHistory('margin-watch-negative', handle);
  const messages = slack.messages.filter((m) => m.channel === '#negative');
  expect(messages.map((m) => m.text.split('\n')[0]).sort()).toEqual([
    '*Negative margin: customer bolt, margin -3.00 USD (no revenue)*',
    '*Negative margin: revenue and events without a feature, margin -3.00 USD (no revenue)*',
  ]);
  expect(messages[0]!.text).toContain('Margin (bps): n/a (no revenue)');
  const alerts = await testPrisma().marginAlert.findMany({ where: { organizationId: other.organizationId, scope: 'customer' }, orderBy: { level: 'asc' } });
  expect(alerts.map((a) => [a.level, a.status, a.marginBps])).toEqual([
    ['below_threshold', 'open', null],
    ['negative', 'open', null],
  ]);
});

test('a burst of watches evaluates two at a time per worker on the margin task queue; the rest wait there, not in the worker', async () => {
  const orgs = await Promise.all(['a', 'b', 'c'].map(async (name) => (await createTestOrganization(`margin-watch-burst-${name}`)).organizationId));
  const [a, b, c] = orgs as [string, string, string];
  const start = (org: string) =>
    env.client.workflow.start<typeof marginWatch>(MARGIN_WATCH_WORKFLOW_TYPE, { taskQueue: env.taskQueue, workflowId: `margin-watch:${org}-test-burst`, args: [{ organizationId: org, asOf: AS_OF }] });
  const activityState = async (handle: Awaited<ReturnType<typeof start>>) => (await handle.describe()).raw.pendingActivities?.[0]?.state;
  const { STARTED, SCHEDULED } = { STARTED: temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED, SCHEDULED: temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED };
  // a's and b's evaluations wait in their transactions for the organization's advisory lock, which this session holds.
  const holder = await testPool().connect();
  try {
    for (const org of [a, b]) await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`margin-watch:${org}`]);
    const busy = [await start(a), await start(b)];
    for (const handle of busy) await waitFor(`${handle.workflowId} evaluating`, async () => ((await activityState(handle)) === STARTED ? true : undefined));
    const third = await start(c);
    await waitFor(`${third.workflowId} scheduled`, async () => ((await activityState(third)) !== undefined ? true : undefined));
    // c's evaluation has nothing to wait for but a free slot: with more than two per worker it would finish at once.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await activityState(third)).toBe(SCHEDULED);
    for (const handle of busy) expect(await activityState(handle)).toBe(STARTED);
    const scheduled = (await third.fetchHistory()).events!.find((e) => e.activityTaskScheduledEventAttributes)!.activityTaskScheduledEventAttributes!;
    expect(scheduled.taskQueue?.name).toBe(marginEvaluationsTaskQueue(env.taskQueue));
    // Its wait counts against an hour, not against its two minutes of work.
    expect(Number(scheduled.scheduleToCloseTimeout?.seconds)).toBe(3600);
    expect(Number(scheduled.startToCloseTimeout?.seconds)).toBe(120);

    await holder.query('SELECT pg_advisory_unlock_all()');
    for (const handle of [...busy, third]) expect(await handle.result()).toEqual({ evaluated: 0, changes: 0, queued: 0 });
  } finally {
    await holder.query('SELECT pg_advisory_unlock_all()');
    holder.release();
  }
});

/** An id whose watch does not fall at offset 0 for these intervals (Temporal may leave a zero offset out). */
function idWithOffsets(...everyMinutes: number[]): string {
  for (;;) {
    const id = randomUUID();
    if (everyMinutes.every((m) => marginWatchOffsetMs(id, m) > 0)) return id;
  }
}

test('ensureMarginWatchSchedule creates margin-watch:<orgId> at the interval and its own offset, without catch-up, then updates it', async () => {
  const orgId = idWithOffsets(60, 15);
  const scheduleId = marginWatchScheduleId(orgId);
  schedules.push(scheduleId);
  expect(await ensureMarginWatchSchedule(env.client, orgId, 60, { taskQueue: env.taskQueue })).toEqual({ scheduleId: `margin-watch:${orgId}`, created: true });
  const handle = env.client.schedule.getHandle(scheduleId);
  const created = await handle.describe();
  expect(created.spec.intervals).toMatchObject([{ every: 3_600_000, offset: marginWatchOffsetMs(orgId, 60) }]);
  expect(created.policies.catchupWindow).toBe(MARGIN_WATCH_CATCHUP_WINDOW_MS);
  expect(created.action).toMatchObject({ type: 'startWorkflow', workflowType: MARGIN_WATCH_WORKFLOW_TYPE, workflowId: scheduleId, taskQueue: env.taskQueue, args: [{ organizationId: orgId }] });

  expect(await ensureMarginWatchSchedule(env.client, orgId, 15, { taskQueue: env.taskQueue })).toEqual({ scheduleId, created: false });
  const updated = await handle.describe();
  expect(updated.spec.intervals).toMatchObject([{ every: 900_000, offset: marginWatchOffsetMs(orgId, 15) }]);
  expect(updated.policies.catchupWindow).toBe(MARGIN_WATCH_CATCHUP_WINDOW_MS);
});

test('a schedule an older worker made (no offset, default catch-up) and recorded is brought to the current spec', async () => {
  const { organizationId: orgId } = await createTestOrganization('margin-watch-upgrade');
  const scheduleId = marginWatchScheduleId(orgId);
  schedules.push(scheduleId);
  // As a worker of the previous release leaves it: the old spec, and only the interval recorded.
  await env.client.schedule.create({
    scheduleId,
    spec: { intervals: [{ every: '60m' }] },
    action: { type: 'startWorkflow', workflowType: MARGIN_WATCH_WORKFLOW_TYPE, workflowId: scheduleId, taskQueue: env.taskQueue, args: [{ organizationId: orgId }] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP },
  });
  await testPrisma().organization.update({ where: { id: orgId }, data: { marginWatchEveryMinutes: 60, marginWatchScheduledMinutes: 60, marginWatchSpecVersion: null } });

  expect(await ensureMarginWatchSchedules(env.client, testPrisma(), { taskQueue: env.taskQueue, organizationId: orgId })).toEqual([orgId]);
  const described = await env.client.schedule.getHandle(scheduleId).describe();
  expect(described.spec.intervals).toEqual([{ every: 3_600_000, offset: marginWatchOffsetMs(orgId, 60) }]);
  expect(described.policies.catchupWindow).toBe(MARGIN_WATCH_CATCHUP_WINDOW_MS);
  expect(await testPrisma().organization.findUniqueOrThrow({ where: { id: orgId }, select: { marginWatchScheduledMinutes: true, marginWatchSpecVersion: true } })).toEqual({
    marginWatchScheduledMinutes: 60,
    marginWatchSpecVersion: MARGIN_WATCH_SPEC_VERSION,
  });
  // Once at the spec, it is left alone.
  expect(await ensureMarginWatchSchedules(env.client, testPrisma(), { taskQueue: env.taskQueue, organizationId: orgId })).toEqual([]);
});

test('the start-time pass stops between organizations once its signal aborts (a worker shutting down)', async () => {
  const { organizationId: orgId } = await createTestOrganization('margin-watch-abort');
  schedules.push(marginWatchScheduleId(orgId));
  const stop = new AbortController();
  stop.abort();
  expect(await ensureMarginWatchSchedules(env.client, testPrisma(), { taskQueue: env.taskQueue, organizationId: orgId, signal: stop.signal })).toEqual([]);
  expect(await testPrisma().organization.findUniqueOrThrow({ where: { id: orgId }, select: { marginWatchSpecVersion: true } })).toEqual({ marginWatchSpecVersion: null });
});

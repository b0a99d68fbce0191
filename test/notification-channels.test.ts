import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createChannelNotifier, notifierFromEnv } from '../activities/channels';
import { notificationMessageId } from '../activities/channels/email';
import { SLACK_EVENT_TYPE } from '../activities/channels/slack';
import { deliverNotifications } from '../activities/deliver-notifications';
import type { Notifier } from '../activities/notifier';
import { closeTestPrisma, createTestOrganization, testPrisma, testPool } from './harness/fixtures';
import { startSlackFake, type SlackFake } from './harness/slack-fake';
import { mailHeader, startSmtpFake, type SmtpFake } from './harness/smtp-fake';

// Notifications in the outbox reach a Slack workspace and a mailbox (local
// fakes that record what they receive) through the real deliverNotifications
// activity against the real database.

const FROM = 'Ledgerflow <alerts@ledgerflow.test>';
const DEFAULT_CHANNEL = '#billing-alerts';
const DEFAULT_TO = 'ops@ledgerflow.test';

let slack: SlackFake;
let smtp: SmtpFake;
let notifier: Notifier;
const logged: string[] = [];

/** deliverNotifications as a worker would run it, in an activity context of its own. */
function deliver(using: Notifier, organizationId: string): Promise<{ delivered: number }> {
  const activity = deliverNotifications({ prisma: testPrisma(), pool: testPool(), taskQueue: 'unused', notifier: using });
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: `notifications:${organizationId}`, runId: randomUUID() } });
  return env.run(activity, { organizationId });
}

async function insertNotification(organizationId: string, kind: string, payload: object): Promise<{ id: string; dedupeKey: string }> {
  const dedupeKey = `${kind}:${randomUUID()}`;
  const row = await testPrisma().notification.create({ data: { organizationId, kind, dedupeKey, payload } });
  return { id: row.id, dedupeKey };
}

async function organization(settings: { financeSlackChannel?: string; financeEmail?: string } = {}): Promise<string> {
  const { organizationId } = await createTestOrganization('channels');
  await testPrisma().organization.update({ where: { id: organizationId }, data: settings });
  return organizationId;
}

const quotaExceeded = {
  limitId: randomUUID(),
  mode: 'HARD',
  eventType: 'llm_call',
  customerExternalId: 'acme',
  level: 'exceeded',
  limit: '10',
  used: '12.5',
  softWarningPercent: null,
  windowStart: '2026-11-01T00:00:00.000Z',
  windowEnd: '2026-12-01T00:00:00.000Z',
};
const approvalReminder = {
  invoiceId: randomUUID(),
  customerExternalId: 'acme',
  total: '107.00',
  currency: 'usd',
  periodStart: '2026-11-01',
  periodEnd: '2026-12-01',
  waitingHours: 48,
  remindersSent: 2,
};

beforeAll(async () => {
  [slack, smtp] = await Promise.all([startSlackFake(), startSmtpFake({ auth: { user: 'alerts', pass: 's3cret' } })]);
  notifier = createChannelNotifier({
    prisma: testPrisma(),
    slack: { token: 'xoxb-test-token', apiUrl: slack.apiUrl, defaultChannel: DEFAULT_CHANNEL },
    email: { smtpUrl: smtp.url, from: FROM, defaultTo: DEFAULT_TO },
    log: (line) => logged.push(line),
  });
});

afterAll(async () => {
  await Promise.all([slack?.close(), smtp?.close()]);
  await closeTestPrisma();
});

describe('Slack and email channels through deliverNotifications', () => {
  it('sends quota.exceeded and invoice.approval_reminder to the organization\'s own channel and address', async () => {
    const organizationId = await organization({ financeSlackChannel: '#acme-finance', financeEmail: 'finance@acme.test' });
    const quota = await insertNotification(organizationId, 'quota.exceeded', quotaExceeded);
    const reminder = await insertNotification(organizationId, 'invoice.approval_reminder', approvalReminder);

    expect(await deliver(notifier, organizationId)).toEqual({ delivered: 2 });

    const posted = slack.messages.filter((m) => m.channel === '#acme-finance');
    expect(posted).toHaveLength(2);
    expect(posted.every((m) => m.token === 'xoxb-test-token')).toBe(true);
    expect(posted[0]!.text).toContain('*Quota exceeded: acme used 12.5 of 10 on its llm_call quota*');
    expect(posted[0]!.text).toContain('Hard limit');
    expect(posted[0]!.metadata).toEqual({ event_type: SLACK_EVENT_TYPE, event_payload: { dedupe_key: quota.dedupeKey, kind: 'quota.exceeded', organization_id: organizationId } });
    expect(posted[1]!.text).toContain('*Invoice awaiting approval: acme, 107.00 USD*');
    expect(posted[1]!.text).toContain('Waiting for: 48 h');

    const mails = smtp.mails.filter((m) => m.envelope.to.includes('finance@acme.test'));
    expect(mails).toHaveLength(2);
    expect(mails.map((m) => [m.envelope.from, m.envelope.to, m.user])).toEqual([
      ['alerts@ledgerflow.test', ['finance@acme.test'], 'alerts'],
      ['alerts@ledgerflow.test', ['finance@acme.test'], 'alerts'],
    ]);
    expect(mailHeader(mails[0]!, 'Subject')).toBe('[Ledgerflow] Quota exceeded: acme used 12.5 of 10 on its llm_call quota');
    expect(mailHeader(mails[1]!, 'Subject')).toBe('[Ledgerflow] Invoice awaiting approval: acme, 107.00 USD');
    expect(mails[1]!.raw).toContain('Period: 2026-11-01 =E2=80=93 2026-12-01'); // quoted-printable en dash
    // The Message-ID is derived from the dedupe key: a resend is the same message.
    expect(mailHeader(mails[0]!, 'Message-ID')).toBe(notificationMessageId({ organizationId, dedupeKey: quota.dedupeKey }, FROM));
    expect(mailHeader(mails[1]!, 'Message-ID')).toBe(notificationMessageId({ organizationId, dedupeKey: reminder.dedupeKey }, FROM));

    const rows = await testPrisma().notification.findMany({ where: { organizationId } });
    expect(rows.every((r) => r.deliveredAt !== null)).toBe(true);
  });

  it('uses the default channel and address for an organization without finance settings, and shows unknown kinds as kind + payload', async () => {
    const organizationId = await organization();
    await insertNotification(organizationId, 'invoice.something_new', { invoiceId: 'inv_1', note: 'a <b> & c' });

    expect(await deliver(notifier, organizationId)).toEqual({ delivered: 1 });

    const posted = slack.messages.filter((m) => m.text.includes('invoice.something_new'));
    expect(posted.map((m) => m.channel)).toEqual([DEFAULT_CHANNEL]);
    expect(posted[0]!.text).toContain('payload: {"note":"a &lt;b&gt; &amp; c","invoiceId":"inv_1"}');
    const mails = smtp.mails.filter((m) => mailHeader(m, 'Subject') === '[Ledgerflow] Ledgerflow notification: invoice.something_new');
    expect(mails.map((m) => m.envelope.to)).toEqual([[DEFAULT_TO]]);
  });

  it('keeps a notification in the outbox when Slack fails, and delivers it on a later call without emailing it twice', async () => {
    const organizationId = await organization({ financeSlackChannel: '#gone', financeEmail: 'finance@globex.test' });
    const { id } = await insertNotification(organizationId, 'quota.exceeded', { ...quotaExceeded, customerExternalId: 'globex' });
    slack.failNext('channel_not_found');

    await expect(deliver(notifier, organizationId)).rejects.toThrow(/slack: .*channel_not_found/);
    expect((await testPrisma().notification.findUniqueOrThrow({ where: { id } })).deliveredAt).toBeNull();
    expect(slack.rejected.filter((m) => m.channel === '#gone')).toHaveLength(1);

    expect(await deliver(notifier, organizationId)).toEqual({ delivered: 1 });
    expect((await testPrisma().notification.findUniqueOrThrow({ where: { id } })).deliveredAt).not.toBeNull();
    expect(slack.messages.filter((m) => m.channel === '#gone')).toHaveLength(1);
    // Email accepted it on the first attempt; the retry only went to Slack.
    expect(smtp.mails.filter((m) => m.envelope.to.includes('finance@globex.test'))).toHaveLength(1);
    expect(await testPrisma().auditLog.count({ where: { organizationId, action: 'notification.delivered', entityId: id } })).toBe(1);
  });

  it('remembers organization settings for the cache TTL and reads them again after it', async () => {
    const organizationId = await organization({ financeSlackChannel: '#before' });
    const slackOnly = (contactsTtlMs: number) =>
      createChannelNotifier({ prisma: testPrisma(), slack: { token: 'xoxb-test-token', apiUrl: slack.apiUrl }, contactsTtlMs, log: () => undefined });
    const cached = slackOnly(60_000);
    const uncached = slackOnly(0);
    const channelOf = async (using: Notifier): Promise<string | undefined> => {
      const { dedupeKey } = await insertNotification(organizationId, 'quota.warning', { customerExternalId: 'acme' });
      await deliver(using, organizationId);
      return slack.messages.find((m) => (m.metadata as { event_payload: { dedupe_key: string } }).event_payload.dedupe_key === dedupeKey)?.channel;
    };

    expect(await channelOf(cached)).toBe('#before');
    await testPrisma().organization.update({ where: { id: organizationId }, data: { financeSlackChannel: '#after' } });
    expect(await channelOf(cached)).toBe('#before');
    expect(await channelOf(uncached)).toBe('#after');
  });
});

describe('notifierFromEnv', () => {
  it('sends to Slack and email as configured by the environment', async () => {
    const organizationId = await organization();
    await insertNotification(organizationId, 'invoice.uncollectible', { ...approvalReminder, customerExternalId: 'initech', paymentAttempts: 5 });
    const lines: string[] = [];
    const fromEnv = notifierFromEnv(
      testPrisma(),
      {
        SLACK_BOT_TOKEN: 'xoxb-env-token',
        SLACK_API_URL: slack.apiUrl.replace(/\/$/, ''), // the trailing slash is added when missing
        ALERT_SLACK_CHANNEL: '#env-alerts',
        SMTP_URL: smtp.url,
        ALERT_EMAIL_FROM: 'alerts@env.test',
        ALERT_EMAIL_TO: 'env-finance@env.test',
      },
      (line) => lines.push(line),
    );

    expect(await deliver(fromEnv, organizationId)).toEqual({ delivered: 1 });

    expect(slack.messages.filter((m) => m.channel === '#env-alerts').map((m) => [m.token, m.text.split('\n')[0]])).toEqual([
      ['xoxb-env-token', '*Invoice uncollectible: initech, 107.00 USD*'],
    ]);
    const mails = smtp.mails.filter((m) => m.envelope.to.includes('env-finance@env.test'));
    expect(mails.map((m) => mailHeader(m, 'Subject'))).toEqual(['[Ledgerflow] Invoice uncollectible: initech, 107.00 USD']);
    expect(lines).toEqual(['alerts: Slack (default channel #env-alerts), email from alerts@env.test (default to env-finance@env.test); organization alert settings take precedence']);
  });

  it('with nothing configured anywhere, logs the notification in full', async () => {
    const organizationId = await organization();
    await insertNotification(organizationId, 'invoice.auto_approved', approvalReminder);
    const lines: string[] = [];
    const before = { slack: slack.messages.length, mails: smtp.mails.length };

    expect(await deliver(notifierFromEnv(testPrisma(), {}, (line) => lines.push(line)), organizationId)).toEqual({ delivered: 1 });

    expect(lines[0]).toBe('alerts: no SLACK_BOT_TOKEN or SMTP_URL: organizations with their own Slack token or SMTP server get alerts, the others are logged');
    expect(lines.filter((l) => l.startsWith('notification '))).toEqual([expect.stringMatching(new RegExp(`^notification invoice.auto_approved org=${organizationId} .*"customerExternalId":"acme"`))]);
    expect({ slack: slack.messages.length, mails: smtp.mails.length }).toEqual(before);
  });

  it('refuses a half-configured channel', () => {
    expect(() => notifierFromEnv(testPrisma(), { ALERT_SLACK_CHANNEL: '#x' }, () => undefined)).toThrow('ALERT_SLACK_CHANNEL set but SLACK_BOT_TOKEN is not');
    expect(() => notifierFromEnv(testPrisma(), { SMTP_URL: smtp.url }, () => undefined)).toThrow('ALERT_EMAIL_FROM is not');
  });
});

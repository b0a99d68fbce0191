import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import Stripe from 'stripe';
import { createChannelNotifier } from '../activities/channels';
import { deliverNotifications } from '../activities/deliver-notifications';
import type { Notifier } from '../activities/notifier';
import { createStripeAccounts } from '../activities/stripe/accounts';
import { createStripeClient } from '../activities/stripe/client';
import { requireStripe } from '../activities/stripe/errors';
import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization, testPrisma, testPool } from './harness/fixtures';
import { startSlackFake, type SlackFake } from './harness/slack-fake';
import { mailHeader, startSmtpFake, type SmtpFake } from './harness/smtp-fake';
import { StripeFake } from './harness/stripe-fake';

/*
 * An organization's own channel secrets: stored sealed with
 * LEDGERFLOW_SECRET_KEY (the harness sets a fresh one), never read back by
 * the API, and used for delivery — its Slack token, its SMTP server with its
 * password, its recipients, its Stripe key and webhook signing secret —
 * instead of the deployment's. Slack, SMTP and Stripe are local fakes that
 * record what they receive; the database and API are real.
 */

const SECRETS = {
  slack_bot_token: 'xoxb-org-own-token-9876',
  smtp_password: 'org-smtp-pass-4321',
  crm_webhook_secret: 'crm-webhook-shared-secret-0042',
  stripe_secret_key: 'sk_test_orgownkey5555',
  stripe_webhook_secret: 'whsec_orgsigningsecret7777',
};

let api: TestApi;
let slack: SlackFake;
let orgSmtp: SmtpFake;
let deploymentSmtp: SmtpFake;
const stripeFake = new StripeFake();
let stripeBase: string;

beforeAll(async () => {
  [api, slack, orgSmtp, deploymentSmtp] = await Promise.all([startTestApi({ outbound: { allowDevelopmentTargets: true } }), startSlackFake(), startSmtpFake({ auth: { user: 'orgmail', pass: SECRETS.smtp_password } }), startSmtpFake()]);
  stripeBase = `http://127.0.0.1:${await stripeFake.start()}`;
});

afterAll(async () => {
  await Promise.all([api?.close(), slack?.close(), orgSmtp?.close(), deploymentSmtp?.close(), stripeFake.stop()]);
  await closeTestPrisma();
});

/** The worker's notifier with deployment defaults that differ from everything the organization set. */
const deploymentNotifier = (): Notifier =>
  createChannelNotifier({
    prisma: testPrisma(),
    slack: { token: 'xoxb-deployment-token', apiUrl: slack.apiUrl, defaultChannel: '#deployment' },
    // The organization's SMTP fake is on loopback: allowed as on a development deployment (test/outbound-guard.test.ts refuses it otherwise).
    email: { smtpUrl: deploymentSmtp.url, from: 'Deployment <alerts@deployment.test>', defaultTo: 'ops@deployment.test', outbound: { allowDevelopmentTargets: true } },
    contactsTtlMs: 0,
    log: () => undefined,
  });

async function deliver(organizationId: string, kind: string, payload: object): Promise<string> {
  const dedupeKey = `${kind}:${randomUUID()}`;
  await testPrisma().notification.create({ data: { organizationId, kind, dedupeKey, payload } });
  const activity = deliverNotifications({ prisma: testPrisma(), pool: testPool(), taskQueue: 'unused', notifier: deploymentNotifier() });
  await new MockActivityEnvironment({ workflowExecution: { workflowId: `test:${organizationId}`, runId: randomUUID() } }).run(activity, { organizationId });
  return dedupeKey;
}

it('stores every channel secret sealed, shows only that it is set and how it ends, and audits without values', async () => {
  const { organizationId, apiKey } = await createTestOrganization('org-secrets');
  const patch = await api.patch('/api/v1/settings/alerts', apiKey, {
    ...SECRETS,
    smtp_url: `smtp://orgmail@127.0.0.1:${new URL(orgSmtp.url).port}`,
    alert_email_from: 'Acme billing <billing@acme.test>',
    alert_email_recipients: ['cfo@acme.test', 'finance@acme.test'],
    crm_webhook_url: 'https://crm.acme.test/hooks',
  });
  expect(patch.status).toBe(200);
  expect(patch.body.secrets).toEqual({
    smtp_password: { set: true, last4: '4321' },
    slack_bot_token: { set: true, last4: '9876' },
    crm_webhook_secret: { set: true, last4: '0042' },
    stripe_secret_key: { set: true, last4: '5555' },
    stripe_webhook_secret: { set: true, last4: '7777' },
  });
  const read = await api.get('/api/v1/settings/alerts', apiKey);
  expect(read.body).toEqual(patch.body);
  const [stored] = await testPrisma().$queryRaw<{ row: Record<string, unknown> }[]>`SELECT to_jsonb(o) AS row FROM organizations o WHERE id = ${organizationId}::uuid`;
  const row = stored!.row;
  const audit = await testPrisma().auditLog.findMany({ where: { organizationId, action: 'organization.alert_settings_updated' } });
  for (const value of Object.values(SECRETS)) {
    expect(JSON.stringify(read.body)).not.toContain(value);
    expect(JSON.stringify(row)).not.toContain(value);
    expect(JSON.stringify(audit.map((a) => [a.before, a.after]))).not.toContain(value);
  }
  expect(row).toMatchObject({ slack_bot_token_enc: expect.stringMatching(/^v1:/), smtp_password_enc: expect.stringMatching(/^v1:/), stripe_webhook_secret_enc: expect.stringMatching(/^v1:/) });
  expect(audit).toHaveLength(1);
  expect(audit[0]!.after).toMatchObject({ slack_bot_token: 'set', smtp_password: 'set', alert_email_recipients: ['cfo@acme.test', 'finance@acme.test'] });

  // Replacing and removing are recorded as such; a secret sent again replaces the old one.
  await api.patch('/api/v1/settings/alerts', apiKey, { slack_bot_token: 'xoxb-rotated-token-1111', crm_webhook_secret: null });
  const after = await api.get('/api/v1/settings/alerts', apiKey);
  expect(after.body.secrets).toMatchObject({ slack_bot_token: { set: true, last4: '1111' }, crm_webhook_secret: { set: false, last4: null } });
  const second = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, action: 'organization.alert_settings_updated' }, orderBy: { id: 'desc' } });
  expect(second.after).toEqual({ slack_bot_token: 'replaced', crm_webhook_secret: 'removed' });
});

it.each([
  ['smtp_url', { smtp_url: 'smtp://user:pass@mail.test:587' }, /must not hold the password/],
  ['slack_bot_token', { slack_bot_token: 'not-a-token' }, /Slack bot token/],
  ['stripe_secret_key', { stripe_secret_key: 'pk_live_publishable' }, /Stripe key/],
  ['alert_email_recipients', { alert_email_recipients: Array.from({ length: 21 }, (_, i) => `a${i}@x.test`) }, /at most 20/],
  ['alert_email_recipients.1', { alert_email_recipients: ['ok@x.test', 'nope'] }, /email address/],
])('a bad %s is a 400 naming the field', async (field, body, message) => {
  const { apiKey } = await createTestOrganization('org-secrets-bad');
  const res = await api.patch('/api/v1/settings/alerts', apiKey, body);
  expect(res.status).toBe(400);
  expect(res.body.details.field).toBe(field);
  expect(res.body.error).toMatch(message);
});

it('alerts go out with the organization\'s own Slack token and SMTP server, to all its recipients; a sealed value copied to another organization does not open', async () => {
  const { organizationId, apiKey } = await createTestOrganization('org-secrets-deliver');
  await api.patch('/api/v1/settings/billing', apiKey, { finance_slack_channel: '#acme-finance', finance_email: 'finance@acme.test' });
  await api.patch('/api/v1/settings/alerts', apiKey, {
    slack_bot_token: SECRETS.slack_bot_token,
    smtp_url: `smtp://orgmail@127.0.0.1:${new URL(orgSmtp.url).port}`,
    smtp_password: SECRETS.smtp_password,
    alert_email_from: 'Acme billing <billing@acme.test>',
    alert_email_recipients: ['cfo@acme.test', 'finance@acme.test'],
  });
  const key = await deliver(organizationId, 'invoice.uncollectible', { invoiceId: 'inv-1', customerExternalId: 'initech', total: '107.00', currency: 'usd', paymentAttempts: 5 });

  const posted = slack.messages.filter((m) => m.text.includes('initech'));
  expect(posted.map((m) => [m.token, m.channel])).toEqual([[SECRETS.slack_bot_token, '#acme-finance']]);
  expect(deploymentSmtp.mails).toHaveLength(0);
  const [mail, ...more] = orgSmtp.mails;
  expect(more).toHaveLength(0);
  expect(mail!.envelope.to).toEqual(['finance@acme.test', 'cfo@acme.test']);
  expect(mailHeader(mail!, 'From')).toBe('Acme billing <billing@acme.test>');
  expect(mail!.raw).toMatch(/Content-Type: text\/plain/i);
  expect(mail!.raw).toMatch(/Content-Type: text\/html/i);
  expect(await testPrisma().notification.findFirstOrThrow({ where: { organizationId, dedupeKey: key } })).toMatchObject({ deliveredAt: expect.any(Date) });

  // The sealed token is bound to its row: pasted into another organization it does not open, and nothing is sent.
  const other = await createTestOrganization('org-secrets-copy');
  const { slackBotTokenEnc } = await testPrisma().organization.findUniqueOrThrow({ where: { id: organizationId } });
  await testPrisma().organization.update({ where: { id: other.organizationId }, data: { slackBotTokenEnc, financeSlackChannel: '#stolen' } });
  await expect(deliver(other.organizationId, 'invoice.auto_approved', { invoiceId: 'inv-2' })).rejects.toThrow(/does not open/);
  expect(slack.messages.filter((m) => m.channel === '#stolen')).toHaveLength(0);
  const stuck = await testPrisma().notification.findFirstOrThrow({ where: { organizationId: other.organizationId } });
  expect(stuck.deliveredAt).toBeNull();
});

it('Stripe calls use the organization\'s own key when it has one, the deployment\'s otherwise', async () => {
  const own = await createTestOrganization('org-secrets-stripe');
  const plain = await createTestOrganization('org-secrets-stripe-plain');
  await api.patch('/api/v1/settings/alerts', own.apiKey, { stripe_secret_key: SECRETS.stripe_secret_key });
  const deps = { prisma: testPrisma(), pool: testPool(), taskQueue: 'unused', notifier: { send: async () => undefined }, stripe: createStripeClient({ apiKey: 'sk_test_deployment', apiBase: stripeBase }), stripeAccounts: createStripeAccounts(testPrisma(), { apiBase: stripeBase }) };
  await (await requireStripe(deps, own.organizationId)).customers.create({ name: 'own' });
  await (await requireStripe(deps, plain.organizationId)).customers.create({ name: 'plain' });
  expect(stripeFake.requestsTo('POST', /^\/v1\/customers$/).map((r) => [r.body.name, r.apiKey])).toEqual([
    ['own', SECRETS.stripe_secret_key],
    ['plain', 'sk_test_deployment'],
  ]);
});

it('POST /webhooks/stripe/<organization> verifies with that organization\'s signing secret and files the event under it', async () => {
  const { organizationId, apiKey } = await createTestOrganization('org-secrets-webhook');
  await api.patch('/api/v1/settings/alerts', apiKey, { stripe_webhook_secret: SECRETS.stripe_webhook_secret });
  const id = `evt_${randomUUID().replace(/-/g, '')}`;
  const payload = JSON.stringify({ id, object: 'event', type: 'customer.created', created: 1, data: { object: { id: 'cus_x', object: 'customer' } } });
  const post = (org: string, secret: string) =>
    api.post(`/webhooks/stripe/${org}`, null, payload, { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) });

  expect((await post(organizationId, 'whsec_someoneelse')).status).toBe(400);
  const other = await createTestOrganization('org-secrets-webhook-none');
  expect(await post(other.organizationId, SECRETS.stripe_webhook_secret)).toMatchObject({ status: 404, body: { error: expect.stringMatching(/stripe_webhook_secret/) } });
  expect(await post(organizationId, SECRETS.stripe_webhook_secret)).toMatchObject({ status: 200, body: { received: true, duplicate: false } });
  expect(await testPrisma().stripeEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({ organizationId, type: 'customer.created', outcome: 'stored' });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import Stripe from 'stripe';
import { createApiKey } from '../prisma/api-keys';
import { createPrismaClient, type PrismaClient } from '../prisma/client';
import { BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from '../temporal/billing-messages';
import { freePort, startDevServer, type TemporalHandle } from '../temporal/dev-server';
import { billingRunWorkflowId, DEFAULT_NAMESPACE, TASK_QUEUE } from '../temporal/names';
import { createBillingCatalog, insertUsage } from './harness/billing-fixtures';
import { waitFor } from './harness/ingest-worker';
import { processStackEnv, startApiAndWorker, type TestProcess } from './harness/processes';
import { startOtlpReceiver, type OtlpReceiver } from './harness/otlp-receiver';
import { createScratchDatabase, type ScratchDatabase } from './harness/scratch-database';
import { startSlackFake, type SlackFake } from './harness/slack-fake';
import { startSmtpFake, type SmtpFake } from './harness/smtp-fake';
import { StripeFake } from './harness/stripe-fake';
import { startWebServer, type WebServer } from './harness/web-app';
import { createUser } from '../prisma/users';

/*
 * Secrets never reach the logs. The API and the worker run as their own
 * processes (`node api/main.ts`, `node worker/main.ts`) with every secret a
 * deployment has — database password, sealing key, Stripe key and webhook
 * secret, Slack token, SMTP password — and two organizations, one with its
 * own channel secrets and one on the deployment's, go through a full flow:
 * API keys made and misused, settings set and refused, events over quota
 * alerting through Slack and email (the first Slack attempt refused), a
 * billing run finalized and collected through Stripe with the organization's
 * key (the first finalize answered 500), Stripe webhooks well and badly
 * signed. A person signs in to the web app (once with a wrong password) and
 * saves channel secrets through its settings form (once refused). Everything
 * the three processes print at LOG_LEVEL=debug (the Temporal SDK at DEBUG),
 * what the API and worker serve on /metrics and the spans they export to a
 * collector are searched for every secret set, typed or sent. All traffic
 * is loopback.
 */

jest.setTimeout(180_000);

const hex = (bytes = 16) => randomBytes(bytes).toString('hex');

/** Every secret the flow sets or sends, by name; each is random, so finding one in a log can only mean it leaked. */
const SECRETS = {
  deploymentStripeKey: `sk_test_${hex()}`,
  deploymentWebhookSecret: `whsec_${hex()}`,
  deploymentSlackToken: `xoxb-${hex()}`,
  deploymentSmtpPassword: hex(),
  sealingKey: randomBytes(32).toString('base64'),
  orgSlackToken: `xoxb-${hex()}`,
  orgSmtpPassword: hex(),
  orgCrmSecret: hex(),
  orgStripeKey: `sk_test_${hex()}`,
  orgWebhookSecret: `whsec_${hex()}`,
  /** a key sent in a field that refuses it: still a secret its sender typed */
  refusedStripeKey: `pk_live_${hex()}`,
  /** a bearer token no key has */
  unknownApiKey: `lf_${hex(24)}`,
  // Typed into the web app: a person's password (and a wrong one), and channel secrets saved through its forms.
  webPassword: `pw-${hex()}`,
  webWrongPassword: `pw-${hex()}`,
  webSlackToken: `xoxb-${hex()}`,
  webSmtpPassword: hex(),
  webStripeKey: `sk_test_${hex()}`,
  webWebhookSecret: `whsec_${hex()}`,
} as Record<string, string>;

let database: ScratchDatabase;
let temporal: TemporalHandle;
let connection: Connection;
let prisma: PrismaClient;
let api: TestProcess;
let worker: TestProcess;
let web: WebServer;
let receiver: OtlpReceiver;
let apiBase: string;
/** the worker's Temporal SDK metrics (TEMPORAL_METRICS_ADDRESS) */
let workerMetrics: string;
let slack: SlackFake;
let deploymentSmtp: SmtpFake;
let orgSmtp: SmtpFake;
const stripe = new StripeFake();

async function call(method: string, path: string, key: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${apiBase}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

beforeAll(async () => {
  database = await createScratchDatabase('secrets');
  SECRETS.databasePassword = database.password;
  prisma = createPrismaClient(database.url, { max: 2 });
  [slack, deploymentSmtp, orgSmtp] = await Promise.all([
    startSlackFake(),
    startSmtpFake({ auth: { user: 'deployment', pass: SECRETS.deploymentSmtpPassword! } }),
    startSmtpFake({ auth: { user: 'orgmail', pass: SECRETS.orgSmtpPassword! } }),
  ]);
  const stripeBase = `http://127.0.0.1:${await stripe.start()}`;
  receiver = await startOtlpReceiver();
  temporal = await startDevServer({ port: await freePort(), ui: false, namespace: DEFAULT_NAMESPACE, log: () => undefined });
  connection = await Connection.connect({ address: temporal.address });
  const apiPort = await freePort();
  apiBase = `http://127.0.0.1:${apiPort}`;
  workerMetrics = `http://127.0.0.1:${await freePort()}/metrics`;
  const smtpUrl = new URL(deploymentSmtp.url);
  smtpUrl.username = 'deployment';
  smtpUrl.password = SECRETS.deploymentSmtpPassword!;
  const env = processStackEnv(
    { databaseUrl: database.url, temporalAddress: temporal.address, namespace: DEFAULT_NAMESPACE, apiPort },
    {
      LEDGERFLOW_SECRET_KEY: SECRETS.sealingKey,
      STRIPE_WEBHOOK_SECRET: SECRETS.deploymentWebhookSecret,
      STRIPE_SECRET_KEY: SECRETS.deploymentStripeKey,
      STRIPE_API_BASE: stripeBase,
      SLACK_BOT_TOKEN: SECRETS.deploymentSlackToken,
      SLACK_API_URL: slack.apiUrl,
      ALERT_SLACK_CHANNEL: '#deployment-alerts',
      SMTP_URL: smtpUrl.toString(),
      ALERT_EMAIL_FROM: 'Ledgerflow <alerts@deployment.test>',
      ALERT_EMAIL_TO: 'ops@deployment.test',
      // The organization's SMTP server and CRM receiver are loopback fakes.
      OUTBOUND_DEVELOPMENT: '1',
      TEMPORAL_METRICS_ADDRESS: new URL(workerMetrics).host,
      // As much as the processes can say: every debug line, the Temporal SDK's too, and spans to a collector.
      LOG_LEVEL: 'debug',
      TEMPORAL_LOG_LEVEL: 'DEBUG',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    },
  );
  ({ api, worker } = await startApiAndWorker(env));
  web = await startWebServer(Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && !['PORT', 'HOST'].includes(e[0]))));
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([api?.stop(), worker?.stop(), web?.stop()]);
  await connection?.close();
  await temporal?.stop();
  await Promise.allSettled([slack?.close(), deploymentSmtp?.close(), orgSmtp?.close(), stripe.stop(), receiver?.close(), prisma?.$disconnect()]);
  await database?.drop();
}, 60_000);

async function organization(name: string): Promise<{ organizationId: string; adminKey: string }> {
  const org = await prisma.organization.create({ data: { name, rateLimitPerSecond: 0 } });
  const admin = await createApiKey(prisma, org.id, 'admin', { type: 'system', id: 'test' }, ['admin', 'ingest']);
  SECRETS[`${name}AdminKey`] = admin.key;
  // Ten api_call events a month; the eleventh is over quota and alerts.
  await prisma.quotaLimit.create({ data: { organizationId: org.id, eventType: 'api_call', limitValue: '10', mode: 'SOFT', resetWindow: 'month' } });
  return { organizationId: org.id, adminKey: admin.key };
}

/** A browser without JavaScript: form posts with the page's CSRF token and the cookies the web app set. */
async function throughTheWebApp(): Promise<void> {
  const org = await prisma.organization.create({ data: { name: 'web', rateLimitPerSecond: 0 } });
  const { email } = await createUser(prisma, { organizationId: org.id, email: `admin-${hex(4)}@web.test`, role: 'admin', password: SECRETS.webPassword! }, { type: 'system', id: 'test' });
  const cookies = new Map<string, string>();
  const page = async (path: string, form?: Record<string, string>): Promise<{ status: number; html: string }> => {
    const res = await fetch(`${web.baseUrl}${path}`, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
    return { status: res.status, html: await res.text() };
  };
  const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const login = await page('/login');
  expect((await page('/login', { csrf: csrfOf(login.html), next: '/', email, password: SECRETS.webWrongPassword! })).status).toBe(401);
  expect((await page('/login', { csrf: csrfOf(login.html), next: '/settings/alerts', email, password: SECRETS.webPassword! })).status).toBe(302);
  SECRETS.webSession = cookies.get('lf_session') ?? '';
  expect(SECRETS.webSession).not.toBe('');
  const form = await page('/settings/alerts');
  expect(form.status).toBe(200);
  const secrets = { slack_bot_token: SECRETS.webSlackToken!, smtp_password: SECRETS.webSmtpPassword!, stripe_secret_key: SECRETS.webStripeKey!, stripe_webhook_secret: SECRETS.webWebhookSecret! };
  // Refused (an SMTP URL that is not one): the page answers 400 and must not echo the secrets either.
  expect((await page('/settings/alerts', { csrf: csrfOf(form.html), ...secrets, smtp_url: 'not a url' })).status).toBe(400);
  expect((await page('/settings/alerts', { csrf: csrfOf(form.html), ...secrets, smtp_url: `smtp://webmail@127.0.0.1:${new URL(orgSmtp.url).port}` })).status).toBe(200);
  // Saved, and sealed at rest.
  const stored = await prisma.organization.findUniqueOrThrow({ where: { id: org.id } });
  for (const column of [stored.slackBotTokenEnc, stored.smtpPasswordEnc, stored.stripeSecretKeyEnc, stored.stripeWebhookSecretEnc]) expect(column).toEqual(expect.any(String));
  expect(JSON.stringify(stored)).not.toMatch(new RegExp(Object.values(secrets).join('|')));
}

/** Twelve events over quota through the API with `key`; resolves when the worker delivered the organization's alerts. */
async function overQuota(organizationId: string, key: string): Promise<void> {
  const events = Array.from({ length: 12 }, (_, i) => ({ idempotency_key: `over-${i}-${randomUUID()}`, customer_external_id: 'acme', event_type: 'api_call', quantity: 1, timestamp: new Date().toISOString() }));
  const posted = await call('POST', '/api/v1/events', key, { events });
  expect(posted.status).toBe(202);
  await waitFor(
    `the quota alerts of ${organizationId}`,
    async () => {
      const pending = await prisma.notification.count({ where: { organizationId, deliveredAt: null } });
      const delivered = await prisma.notification.count({ where: { organizationId, kind: 'quota.exceeded', deliveredAt: { not: null } } });
      return pending === 0 && delivered > 0 ? true : undefined;
    },
    60_000,
  );
}

it('prints none of the secrets it was given or sent through a full flow, failures included', async () => {
  // An organization with channel secrets of its own.
  const own = await organization('own');
  const created = await call('POST', '/api/v1/api-keys', own.adminKey, { name: 'billing app', scopes: ['ingest', 'read', 'billing'] });
  expect(created.status).toBe(201);
  const appKey = String(created.body.key);
  SECRETS.createdApiKey = appKey;
  expect((await call('PATCH', '/api/v1/settings/billing', own.adminKey, { finance_slack_channel: '#acme-finance', finance_email: 'finance@acme.test' })).status).toBe(200);
  const settings = await call('PATCH', '/api/v1/settings/alerts', own.adminKey, {
    slack_bot_token: SECRETS.orgSlackToken,
    smtp_url: `smtp://orgmail@127.0.0.1:${new URL(orgSmtp.url).port}`,
    smtp_password: SECRETS.orgSmtpPassword,
    alert_email_from: 'Acme billing <billing@acme.test>',
    crm_webhook_url: 'http://127.0.0.1:9/crm',
    crm_webhook_secret: SECRETS.orgCrmSecret,
    stripe_secret_key: SECRETS.orgStripeKey,
    stripe_webhook_secret: SECRETS.orgWebhookSecret,
  });
  expect(settings.status).toBe(200);
  // Refused input and unknown credentials.
  expect((await call('PATCH', '/api/v1/settings/alerts', own.adminKey, { stripe_secret_key: SECRETS.refusedStripeKey })).status).toBe(400);
  expect((await call('GET', '/api/v1/customers', SECRETS.unknownApiKey!)).status).toBe(401);
  expect((await call('PATCH', '/api/v1/settings/alerts', appKey, { slack_bot_token: SECRETS.orgSlackToken })).status).toBe(403);

  // Over quota: alerts through the organization's Slack token and SMTP server.
  await overQuota(own.organizationId, appKey);
  expect(slack.messages.some((m) => m.token === SECRETS.orgSlackToken && m.channel === '#acme-finance')).toBe(true);
  expect(orgSmtp.mails.length).toBeGreaterThan(0);

  // An organization on the deployment's channels; Slack refuses the first attempt, so the worker logs a failure and retries.
  const plain = await organization('plain');
  slack.failNext('invalid_auth');
  await overQuota(plain.organizationId, plain.adminKey);
  expect(slack.rejected.map((m) => [m.token, m.error])).toEqual([[SECRETS.deploymentSlackToken, 'invalid_auth']]);
  expect(slack.messages.some((m) => m.token === SECRETS.deploymentSlackToken)).toBe(true);
  expect(deploymentSmtp.mails.length).toBeGreaterThan(0);

  // A billing run finalized and collected with the organization's Stripe key, the first finalize answered 500.
  const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };
  const catalog = await createBillingCatalog(prisma, own.organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
  await insertUsage(prisma, own.organizationId, catalog.customerExternalId, [{ at: '2024-11-02T10:00:00Z', quantity: '1000' }]);
  stripe.failOnce('POST', /^\/v1\/invoices\/[^/]+\/finalize$/);
  const input: BillingRunInput = { organizationId: own.organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 };
  const client = new Client({ connection, namespace: DEFAULT_NAMESPACE });
  await client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: billingRunWorkflowId(catalog.subscriptionId, november.periodStart), taskQueue: TASK_QUEUE, args: [input] });
  const invoice = await waitFor('the draft', () => prisma.invoice.findFirst({ where: { organizationId: own.organizationId, subscriptionId: catalog.subscriptionId, status: 'draft' } }).then((i) => i ?? undefined), 60_000);
  expect((await call('POST', `/api/v1/invoices/${invoice.id}/approve`, appKey, { note: 'checked' })).status).toBe(200);
  await waitFor('payment', () => prisma.invoice.findFirst({ where: { id: invoice.id, status: 'paid' } }).then((i) => i ?? undefined), 90_000);
  expect(new Set(stripe.requests.map((r) => r.apiKey))).toEqual(new Set([SECRETS.orgStripeKey]));

  // Stripe webhooks: the organization's endpoint and the deployment's, each signed well and badly.
  const payload = JSON.stringify({ id: `evt_${hex(12)}`, object: 'event', type: 'customer.created', created: 1, data: { object: { id: 'cus_x', object: 'customer' } } });
  const signed = (secret: string) => ({ 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) });
  expect((await call('POST', `/webhooks/stripe/${own.organizationId}`, null, payload, signed(SECRETS.orgWebhookSecret!))).status).toBe(200);
  expect((await call('POST', `/webhooks/stripe/${own.organizationId}`, null, payload, signed(SECRETS.deploymentWebhookSecret!))).status).toBe(400);
  expect((await call('POST', '/webhooks/stripe', null, payload, signed(SECRETS.deploymentWebhookSecret!))).status).toBe(200);

  // The web app: a person signs in (once with a wrong password) and saves channel secrets through its form, once refused.
  await throughTheWebApp();

  // What both processes serve to a metrics scraper counts as printed too.
  const apiMetricsText = await (await fetch(`${apiBase}/metrics`)).text();
  const workerMetricsText = await (await fetch(workerMetrics)).text();
  expect(apiMetricsText).toMatch(/^ledgerflow_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/events",status="202"\} \d+$/m);
  expect(workerMetricsText).toMatch(/^temporal_\w+/m);
  // And what they export to a trace collector (the batches still buffered are flushed when the processes stop; these are the ones sent so far).
  await waitFor('spans of an activity', async () => (receiver.spans.some((sp) => sp.name.startsWith('RunActivity:')) ? true : undefined), 30_000);
  const logs = `${api.everything()}\n${worker.everything()}\n${web.output().join('\n')}\n${apiMetricsText}\n${workerMetricsText}\n${receiver.bodies.join('\n')}`;
  // The capture is real and holds the failures: the injected Stripe 500 and Slack refusal were logged.
  expect(logs).toMatch(/api listening on/);
  expect(logs).toMatch(/web listening on/);
  expect(logs).toMatch(/"msg":"activity failed"/);
  expect(logs).toMatch(/injected by the fake/);
  expect(logs).toMatch(/invalid_auth/);
  const leaked = Object.entries(SECRETS)
    .filter(([, secret]) => [secret, encodeURIComponent(secret)].some((form) => logs.includes(form)))
    .map(([name]) => name);
  expect(leaked).toEqual([]);
});

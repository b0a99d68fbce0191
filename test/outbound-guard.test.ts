import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createChannelNotifier } from '../activities/channels';
import { deliverNotifications } from '../activities/deliver-notifications';
import { OutboundRefused } from '../services/outbound-address';
import { STRICT_OUTBOUND, type OutboundPolicy } from '../billing/outbound-urls';
import { postOutbound } from '../activities/outbound/http';
import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma } from './harness/fixtures';
import { startSmtpFake, type SmtpFake } from './harness/smtp-fake';

/*
 * No server-side request forgery, end to end with loopback targets only: an
 * organization's CRM webhook and SMTP server on loopback are refused by the
 * API and again when sending (a value stored earlier, or a name whose DNS
 * answer changed), and go through only when the deployment allows
 * development targets (OUTBOUND_DEVELOPMENT=1). The receivers record what
 * reaches them, so "refused" means nothing arrived.
 */

const DEV: OutboundPolicy = { allowDevelopmentTargets: true };

interface Receiver {
  url: string;
  port: number;
  requests: { method: string; url: string; host: string; body: string }[];
  close(): Promise<void>;
}

async function startReceiver(answer: (res: http.ServerResponse) => void = (res) => res.writeHead(204).end()): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', body });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A name that resolves to loopback, as a rebinding DNS answer would: answered by a fake lookup, never by DNS. */
const rebinding = async () => [{ address: '127.0.0.1', family: 4 }];

let strictApi: TestApi;
let devApi: TestApi;
let crm: Receiver;
let elsewhere: Receiver;
let orgSmtp: SmtpFake;

beforeAll(async () => {
  [strictApi, devApi, crm, elsewhere, orgSmtp] = await Promise.all([startTestApi(), startTestApi({ outbound: DEV }), startReceiver(), startReceiver(), startSmtpFake()]);
});

afterAll(async () => {
  await Promise.all([strictApi?.close(), devApi?.close(), crm?.close(), elsewhere?.close(), orgSmtp?.close()]);
  await closeTestPrisma();
});

describe('PATCH /api/v1/settings/alerts', () => {
  it.each([
    ['crm_webhook_url', 'http://crm.example.com/hooks', /must be an https URL \(plain http: OUTBOUND_DEVELOPMENT=1 allows it/],
    ['crm_webhook_url', 'https://127.0.0.1:8443/hooks', /loopback/],
    ['crm_webhook_url', 'https://localhost/hooks', /localhost/],
    ['crm_webhook_url', 'https://169.254.169.254/latest/meta-data/iam', /link-local/],
    ['crm_webhook_url', 'https://[fd00:ec2::254]/latest', /unique local/],
    ['crm_webhook_url', 'https://10.0.0.12/hooks', /private/],
    ['smtp_url', 'smtps://alerts@127.0.0.1:465', /loopback/],
    ['smtp_url', 'smtp://alerts@192.168.0.10:587', /private/],
    ['smtp_url', 'smtps://alerts@mail.example.com:465?proxy=http://169.254.169.254', /no path, query string or fragment/],
  ])('refuses %s %s with a 400 naming the field, and stores nothing', async (field, url, why) => {
    const { organizationId, apiKey } = await createTestOrganization('outbound-refused');
    const res = await strictApi.patch('/api/v1/settings/alerts', apiKey, { [field]: url });
    expect(res.status).toBe(400);
    expect(res.body.details.field).toBe(field);
    expect(res.body.error).toMatch(why);
    expect(await testPrisma().organization.findUniqueOrThrow({ where: { id: organizationId }, select: { crmWebhookUrl: true, smtpUrl: true } })).toEqual({ crmWebhookUrl: null, smtpUrl: null });
    expect(await testPrisma().auditLog.count({ where: { organizationId, action: 'organization.alert_settings_updated' } })).toBe(0);
  });

  it('takes public https and smtps URLs, and loopback ones only on a deployment that allows development targets', async () => {
    const { apiKey } = await createTestOrganization('outbound-accepted');
    const publicUrls = { crm_webhook_url: 'https://crm.example.com/hooks', smtp_url: 'smtps://alerts@mail.example.com:465' };
    expect(await strictApi.patch('/api/v1/settings/alerts', apiKey, publicUrls)).toMatchObject({ status: 200, body: publicUrls });
    const loopback = { crm_webhook_url: `${crm.url}/tasks`, smtp_url: `smtp://alerts@127.0.0.1:${new URL(orgSmtp.url).port}` };
    expect((await strictApi.patch('/api/v1/settings/alerts', apiKey, loopback)).status).toBe(400);
    expect(await devApi.patch('/api/v1/settings/alerts', apiKey, loopback)).toMatchObject({ status: 200, body: loopback });
  });
});

describe('sending to an organization\'s CRM webhook', () => {
  const post = { headers: { 'content-type': 'application/json' }, body: '{"task":"recover"}', timeoutMs: 5000 };

  it('refuses loopback targets, literal or behind a name, unless development targets are allowed, and then connects to the checked address', async () => {
    const before = crm.requests.length;
    await expect(postOutbound(`${crm.url}/tasks`, post, STRICT_OUTBOUND)).rejects.toThrow(/must be an https URL/);
    await expect(postOutbound(`https://127.0.0.1:${crm.port}/tasks`, post, STRICT_OUTBOUND)).rejects.toThrow(OutboundRefused);
    await expect(postOutbound(`https://crm.rebinding.test:${crm.port}/tasks`, post, STRICT_OUTBOUND, rebinding)).rejects.toThrow(/crm\.rebinding\.test: 127\.0\.0\.1 is a loopback address/);
    expect(crm.requests.length).toBe(before);

    await expect(postOutbound(`http://crm.rebinding.test:${crm.port}/tasks?team=finance`, post, DEV, rebinding)).resolves.toEqual({ status: 204 });
    expect(crm.requests.slice(before)).toEqual([{ method: 'POST', url: '/tasks?team=finance', host: `crm.rebinding.test:${crm.port}`, body: post.body }]);
  });

  it('does not follow a redirect: the 3xx is the answer, and where it points gets nothing', async () => {
    const redirecting = await startReceiver((res) => res.writeHead(302, { location: `${elsewhere.url}/latest/meta-data` }).end());
    try {
      await expect(postOutbound(`${redirecting.url}/tasks`, post, DEV)).resolves.toEqual({ status: 302 });
      expect(redirecting.requests).toHaveLength(1);
      expect(elsewhere.requests).toHaveLength(0);
    } finally {
      await redirecting.close();
    }
  });
});

describe('sending alert emails through an organization\'s SMTP server', () => {
  async function deliver(organizationId: string, outbound: OutboundPolicy): Promise<void> {
    await testPrisma().notification.create({ data: { organizationId, kind: 'invoice.auto_approved', dedupeKey: `outbound:${randomUUID()}`, payload: { invoiceId: 'inv-1' } } });
    const notifier = createChannelNotifier({ prisma: testPrisma(), email: { outbound }, contactsTtlMs: 0, log: () => undefined });
    const activity = deliverNotifications({ prisma: testPrisma(), pool: testPool(), taskQueue: 'unused', notifier });
    await new MockActivityEnvironment({ workflowExecution: { workflowId: `test:${organizationId}`, runId: randomUUID() } }).run(activity, { organizationId });
  }

  it('refuses a stored loopback server when sending (the alert stays in the outbox), and sends through it when development targets are allowed', async () => {
    const { organizationId } = await createTestOrganization('outbound-smtp');
    // Stored before the API checked it, or by hand: the worker judges the address itself.
    await testPrisma().organization.update({
      where: { id: organizationId },
      data: { smtpUrl: `smtp://127.0.0.1:${new URL(orgSmtp.url).port}`, alertEmailFrom: 'Acme <billing@acme.test>', alertEmailRecipients: ['cfo@acme.test'] },
    });
    const before = orgSmtp.mails.length;
    await expect(deliver(organizationId, STRICT_OUTBOUND)).rejects.toThrow(/127\.0\.0\.1 is a loopback address/);
    expect(orgSmtp.mails.length).toBe(before);
    expect(await testPrisma().notification.count({ where: { organizationId, deliveredAt: null } })).toBe(1);

    await deliver(organizationId, DEV);
    expect(orgSmtp.mails.slice(before).map((m) => m.envelope.to)).toEqual([['cfo@acme.test'], ['cfo@acme.test']]);
    expect(await testPrisma().notification.count({ where: { organizationId, deliveredAt: null } })).toBe(0);
  });
});

import type { Browser, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { emitWebhookEvents } from '../prisma/webhook-events';
import { WebhookDispatcher } from '../worker/webhook-dispatcher';
import { createTestOrganization, testPool, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { createRoleUsers, describeWithChromium, launchChromium, screenshot, signInReady, startWebServer, type WebServer } from './harness/web-app';
import { startWebhookReceiver, type WebhookReceiver } from './harness/webhook-receiver';

/**
 * Issue 14, point 6, in the web app: an admin adds an endpoint on the
 * webhooks page (a bad URL refused by name), copies the secret shown once,
 * sees a delivery fail and then succeed in the log with each attempt, and
 * sends it again; finance cannot open the page. Chromium against the web
 * server, the real worker and dispatcher, Temporal and PostgreSQL, and a
 * receiver on loopback (allowed as on a development deployment).
 */
const PASSWORDS = { admin: 'admin-password-1', finance: 'finance-password-1' };

describeWithChromium('web-webhooks')('webhooks page in Chromium', () => {
  let worker: TestWorker;
  let web: WebServer | undefined;
  let browser: Browser;
  let dispatcher: WebhookDispatcher | undefined;
  let receiver: WebhookReceiver;
  let organizationId: string;
  const users = { admin: '', finance: '' };

  async function signInAs(role: keyof typeof PASSWORDS, path: string): Promise<Page> {
    return signInReady(browser, web!.baseUrl, { email: users[role], password: PASSWORDS[role] }, path);
  }

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    worker = await startTestWorker('web-webhooks', { outbound: { allowDevelopmentTargets: true } });
    ({ organizationId } = await createTestOrganization('web-webhooks'));
    Object.assign(users, await createRoleUsers(organizationId, PASSWORDS, 'webhooks.test'));
    dispatcher = new WebhookDispatcher({ pool: testPool(), temporal: worker.client, taskQueue: worker.taskQueue, databaseUrl: process.env.DATABASE_URL!, organizationIds: [organizationId] });
    await dispatcher.start();
    web = await startWebServer({ OUTBOUND_DEVELOPMENT: '1' });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    await dispatcher?.stop();
    await worker?.close();
    await receiver?.close();
  });

  it('adds an endpoint, shows its secret once, logs a failed then a delivered attempt, and sends it again', async () => {
    const page = await signInAs('admin', '/settings/webhooks');
    await page.getByRole('heading', { name: 'Webhooks', exact: true }).waitFor();
    await page.getByText('No endpoints').waitFor();

    await page.getByLabel('URL (https, on a public address)').fill('ftp://erp.example.com/hook');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('URL: must be an http(s) URL');
    expect(await testPrisma().webhookEndpoint.count({ where: { organizationId } })).toBe(0);

    await page.getByLabel('URL (https, on a public address)').fill(`${receiver.url}/erp`);
    await page.getByLabel('Description (optional)').fill('ERP sync');
    await page.getByRole('checkbox', { name: 'invoice.paid' }).check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toBe(`Added ${receiver.url}/erp. It receives invoice.paid from now on.`);
    const secret = await page.getByTestId('webhook-secret').inputValue();
    expect(secret).toMatch(/^whsec_/);
    receiver.trust('/erp', secret);
    await page.getByTestId('webhook-endpoint-row').first().waitFor();

    // The receiver is down for the first attempt; the second, 5 s later, gets through.
    receiver.answer('/erp', 500);
    await testPrisma().$transaction((tx) => emitWebhookEvents(tx, organizationId, [{ type: 'invoice.paid', key: 'invoice.paid:web-1', payload: { invoice_id: 'web-1', total: '40.00' } }]));
    await waitFor('the first attempt', async () => (receiver.received.some((r) => r.path === '/erp') ? true : undefined));
    await page.reload();
    await expect(page.getByTestId('webhook-delivery-row').first().textContent()).resolves.toMatch(/invoice\.paid.*retrying at .*HTTP 500/);
    await waitFor('the second attempt delivered', async () => ((await testPrisma().webhookDelivery.findFirst({ where: { organizationId, status: 'succeeded' } })) ? true : undefined), 20_000);
    await page.reload();
    await expect(page.getByTestId('webhook-delivery-row').first().textContent()).resolves.toMatch(/succeeded2HTTP 200/);

    await page.getByRole('link', { name: `Attempts of invoice.paid to ${receiver.url}/erp` }).click();
    await page.getByRole('heading', { name: `Delivery of invoice.paid to ${receiver.url}/erp` }).waitFor();
    expect(await page.getByTestId('webhook-attempt-row').allTextContents()).toEqual([expect.stringMatching(/^11.*HTTP 500/), expect.stringMatching(/^12.*delivered \(HTTP 200\)/)]);
    await expect(page.locator('pre').textContent()).resolves.toContain('"invoice_id": "web-1"');
    await screenshot(page, 'settings-webhooks');

    await page.getByRole('button', { name: 'Send again' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/^Sending invoice\.paid to .*\/erp again \(round 2\)/);
    const got = await waitFor('the redelivery', async () => {
      const posts = receiver.received.filter((r) => r.path === '/erp');
      return posts.length === 3 ? posts : undefined;
    });
    expect(got.map((r) => [r.answered, r.verified])).toEqual([
      [500, true],
      [200, true],
      [200, true],
    ]);
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(() => new Webhook(secret).verify(got[2]!.body, got[2]!.headers)).not.toThrow();

    const audit = await testPrisma().auditLog.findMany({ where: { organizationId, entityType: { in: ['webhook_endpoint', 'webhook_delivery'] } }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => [a.action, a.actorType, a.actorId])).toEqual([
      ['webhook_endpoint.created', 'user', users.admin],
      ['webhook_delivery.redelivered', 'user', users.admin],
    ]);
  });

  it('disables, rotates the secret of and removes an endpoint', async () => {
    const page = await signInAs('admin', '/settings/webhooks');
    await page.getByRole('button', { name: 'Disable' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/is disabled: no new deliveries/);
    await page.getByRole('button', { name: 'Enable' }).waitFor();
    await expect(page.getByTestId('webhook-endpoint-row').first().textContent()).resolves.toContain('disabled');
    await page.getByRole('button', { name: 'New secret' }).click();
    const rotated = await page.getByTestId('webhook-secret').inputValue();
    expect(rotated).toMatch(/^whsec_/);
    await page.getByRole('link', { name: `Remove ${receiver.url}/erp` }).click();
    await page.getByRole('button', { name: 'Yes, remove this endpoint' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toBe(`Removed ${receiver.url}/erp and its delivery log.`);
    await page.getByText('No endpoints').waitFor();
    expect(await testPrisma().webhookDelivery.count({ where: { organizationId } })).toBe(0);
  });

  it('is not open to finance: the page is a 403, and a forged form changes nothing', async () => {
    const page = await signInAs('finance', '/');
    const response = await page.goto('/settings/webhooks');
    expect(response?.status()).toBe(403);
    await expect(page.getByRole('alert').textContent()).resolves.toBe('Your role (finance) may not do this.');
    await page.goto('/');
    const csrf = await page.locator('input[name="csrf"]').first().inputValue();
    const forged = await page.request.post('/settings/webhooks', { form: { csrf, intent: 'create', url: 'https://erp.example.com/forged' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await testPrisma().webhookEndpoint.count({ where: { organizationId } })).toBe(0);
  });
});

import type { Browser, Page } from 'playwright-core';
import { readProxyUpstream } from '../services/proxy-upstreams';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma } from './harness/fixtures';
import { createRoleUsers, describeWithChromium, launchChromium, signInReady, startWebServer, type WebServer } from './harness/web-app';

/**
 * The AI proxy's upstreams set in the web app (issue 16): an admin sets the OpenAI-compatible upstream (a bad URL
 * refused by name), sees it listed with only the key's last four characters, and the proxy's own read of it opens
 * the key; finance cannot open the page. Chromium against the web server and PostgreSQL.
 */
const PASSWORDS = { admin: 'admin-password-1', finance: 'finance-password-1' };

describeWithChromium('web-ai-proxy')('AI proxy settings page in Chromium', () => {
  let web: WebServer | undefined;
  let browser: Browser;
  let organizationId: string;
  const users = { admin: '', finance: '' };

  async function signInAs(role: keyof typeof PASSWORDS, path: string): Promise<Page> {
    return signInReady(browser, web!.baseUrl, { email: users[role], password: PASSWORDS[role] }, path);
  }

  beforeAll(async () => {
    ({ organizationId } = await createTestOrganization('web-ai-proxy'));
    Object.assign(users, await createRoleUsers(organizationId, PASSWORDS, 'ai-proxy.test'));
    web = await startWebServer();
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    await closeTestPrisma();
  });

  it('sets an upstream, shows only the last four characters of its key, and the proxy reads it back', async () => {
    const page = await signInAs('admin', '/settings/ai-proxy');
    await page.getByRole('heading', { name: 'AI proxy', exact: true }).waitFor();
    await page.getByText('No upstream yet').waitFor();

    const form = page.getByRole('group', { name: 'Set the OpenAI-compatible upstream' });
    await form.getByLabel('Base URL, up to and including the version path').fill('http://127.0.0.1:9/v1');
    await form.getByLabel('Vendor API key').fill('sk-test-1234567890abcd');
    await form.getByRole('button', { name: 'Save the OpenAI-compatible upstream' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/^Base URL: /);
    expect(await testPrisma().proxyUpstream.count({ where: { organizationId } })).toBe(0);

    await form.getByLabel('Base URL, up to and including the version path').fill('https://llm-gateway.example.com/v1');
    await form.getByLabel('Vendor API key').fill('sk-test-1234567890abcd');
    await form.getByLabel('Event type each call is metered as').fill('chat.call');
    await form.getByRole('button', { name: 'Save the OpenAI-compatible upstream' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toBe(
      'The proxy forwards OpenAI-compatible calls to https://llm-gateway.example.com/v1 with the key ending abcd, each metered as chat.call, within a minute.',
    );
    const row = page.getByTestId('upstream-openai');
    await expect(row.textContent()).resolves.toContain('…abcd');
    expect(await page.content()).not.toContain('sk-test-1234567890abcd');

    await expect(readProxyUpstream(testPool(), organizationId, 'openai')).resolves.toEqual({ baseUrl: 'https://llm-gateway.example.com/v1', apiKey: 'sk-test-1234567890abcd', eventType: 'chat.call' });
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'proxy_upstream' } });
    expect(audit.map((a) => [a.action, a.actorId])).toEqual([['proxy_upstream.created', users.admin]]);
    expect(JSON.stringify(audit.map((a) => [a.before, a.after]))).not.toContain('sk-test');
  });

  it('is not open to finance: the page is a 403, and a forged form changes nothing', async () => {
    const page = await signInAs('finance', '/');
    const response = await page.goto('/settings/ai-proxy');
    expect(response?.status()).toBe(403);
    await page.goto('/');
    const csrf = await page.locator('input[name="csrf"]').first().inputValue();
    const forged = await page.request.post('/settings/ai-proxy', { form: { csrf, vendor: 'anthropic', base_url: 'https://evil.example.com', api_key: 'sk-x' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await testPrisma().proxyUpstream.count({ where: { organizationId, vendor: 'anthropic' } })).toBe(0);
  });
});

import type { Browser, Page } from 'playwright-core';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { createRoleUsers, describeWithChromium, launchChromium, screenshot, signIn, signInReady, startWebServer, type WebServer } from './harness/web-app';

/**
 * Issue 14, point 3, in the web app: an admin builds the catalog without the
 * API (a meter, a plan priced on it, the plan's next version with new
 * prices), refusals name the field, and a subscription on the old version is
 * moved to the new one at the period end from the customer's page, the real
 * subscription workflow recording it. Chromium against the web server, the
 * real worker, Temporal and PostgreSQL, through the services the API's
 * /meters and /plans routes call.
 */
const PASSWORDS = { admin: 'admin-password-1', finance: 'finance-password-1' };

describeWithChromium('web-catalog')('catalog page in Chromium', () => {
  let worker: TestWorker;
  let web: WebServer | undefined;
  let browser: Browser;
  let organizationId: string;
  const users = { admin: '', finance: '' };

  async function signInAs(role: keyof typeof PASSWORDS, path: string): Promise<Page> {
    return signInReady(browser, web!.baseUrl, { email: users[role], password: PASSWORDS[role] }, path);
  }

  beforeAll(async () => {
    worker = await startTestWorker('web-catalog');
    ({ organizationId } = await createTestOrganization('web-catalog'));
    Object.assign(users, await createRoleUsers(organizationId, PASSWORDS, 'catalog.test'));
    web = await startWebServer({ TEMPORAL_TASK_QUEUE: worker.taskQueue });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    const subscriptions = await testPrisma().subscription.findMany({ where: { organizationId }, select: { id: true } });
    await Promise.all(subscriptions.map((s) => worker.client.workflow.getHandle(`subscription:${s.id}`).terminate('test over').catch(() => undefined)));
    await worker?.close();
  });

  const status = (page: Page, text: RegExp) => page.getByRole('status').filter({ hasText: text }).waitFor();
  const alerted = (page: Page, text: RegExp) => page.getByRole('alert').filter({ hasText: text }).waitFor();

  it('adds a meter and a plan priced on it; a refused form names the field and keeps what was typed', async () => {
    const page = await signInAs('admin', '/settings/catalog');
    await page.getByRole('heading', { name: 'Catalog', exact: true }).waitFor();
    const meter = page.getByRole('group', { name: 'Add a meter' });
    await meter.getByLabel(/^Key/).fill('tokens');
    await meter.getByLabel(/^Name/).fill('Tokens');
    await meter.getByLabel(/^Event type/).fill('completion');
    await meter.getByLabel('Quantity', { exact: true }).selectOption('unique_count');
    await meter.getByLabel(/^Dimension/).fill('model');
    await meter.getByRole('button', { name: 'Add meter' }).click();
    await alerted(page, /^Property: a unique_count meter needs the property whose distinct values it counts$/);
    await page.getByRole('group', { name: 'Add a meter' }).getByLabel('Quantity', { exact: true }).selectOption('sum');
    await page.getByRole('group', { name: 'Add a meter' }).getByRole('button', { name: 'Add meter' }).click();
    await status(page, /^Created meter tokens: sum of completion events, priced by model\.$/);
    // The page's data is revalidated after the action's answer shows: wait for the row, then read it.
    await page.getByTestId('meter-row').first().waitFor();
    await expect(page.getByTestId('meter-row').allTextContents()).resolves.toEqual(['tokensTokenscompletionsummodel']);

    await page.reload();
    const plan = page.getByRole('group', { name: 'Add a plan' });
    await plan.getByLabel(/^Key/).fill('chat');
    await plan.getByLabel(/^Name/).fill('Chat');
    await plan.getByLabel(/^Base fee/).fill('20');
    // The example names the meter there is; an unknown model is refused naming the price.
    await expect(plan.getByLabel('Prices', { exact: true }).inputValue()).resolves.toContain('"meter": "tokens"');
    await plan.getByLabel('Prices', { exact: true }).fill('[{"meter": "tokens", "model": "per_token", "unit_amount": "0.001"}]');
    await plan.getByRole('button', { name: 'Add plan' }).click();
    await alerted(page, /^Prices, #1, model: /);
    // Refused, the form keeps what was typed.
    await expect(page.getByRole('group', { name: 'Add a plan' }).getByLabel(/^Key/).inputValue()).resolves.toBe('chat');
    await page.getByRole('group', { name: 'Add a plan' }).getByLabel('Prices', { exact: true }).fill('[{"meter": "tokens", "model": "per_unit", "unit_amount": "0.001"');
    await page.getByRole('group', { name: 'Add a plan' }).getByRole('button', { name: 'Add plan' }).click();
    await alerted(page, /^Prices: not JSON/);
    await page.getByRole('group', { name: 'Add a plan' }).getByLabel('Prices', { exact: true }).fill('[{"meter": "tokens", "model": "per_unit", "unit_amount": "0.001"}]');
    // Credits each period: a bad number is refused naming the field, then 1,000 a period, rolling over.
    await page.getByRole('group', { name: 'Add a plan' }).getByLabel(/^Credits each period/).fill('-5');
    await page.getByRole('group', { name: 'Add a plan' }).getByRole('button', { name: 'Add plan' }).click();
    await alerted(page, /^Credits each period: /);
    await page.getByRole('group', { name: 'Add a plan' }).getByLabel(/^Credits each period/).fill('1000');
    await page.getByRole('group', { name: 'Add a plan' }).getByLabel(/rolls over/).check();
    await page.getByRole('group', { name: 'Add a plan' }).getByRole('button', { name: 'Add plan' }).click();
    await status(page, /^Created plan chat \(version 1\) with 1 price\.$/);
    const section = page.getByTestId('catalog-plan');
    await section.getByRole('heading').filter({ hasText: 'credits each period' }).waitFor();
    await expect(section.getByRole('heading').textContent()).resolves.toBe('Chat (chat) · version 1 · 1000 credits each period, rolling over');
    await expect(section.getByRole('list', { name: 'Prices of chat version 1' }).textContent()).resolves.toBe('tokens: 0.001 per unit');

    const audit = await testPrisma().auditLog.findMany({ where: { organizationId, action: { in: ['meter.created', 'plan.created'] } }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => [a.action, a.actorType, a.actorId])).toEqual([
      ['meter.created', 'user', users.admin],
      ['plan.created', 'user', users.admin],
    ]);
  });

  it("makes the plan's next version; a subscription on version 1 keeps it until moved at the period end from the customer's page", async () => {
    // A customer subscribed to chat version 1 from today, its workflow running.
    const customer = await testPrisma().customer.create({ data: { organizationId, externalId: 'cust-chat', name: 'Chatty' } });
    const v1 = await testPrisma().plan.findFirstOrThrow({ where: { organizationId, key: 'chat', version: 1 } });
    const today = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));
    const subscription = await testPrisma().subscription.create({ data: { organizationId, customerId: customer.id, planId: v1.id, startDate: today, billingAnchorDay: today.getUTCDate() } });

    const page = await signInAs('admin', '/settings/catalog');
    await page.getByText('Change prices: make version 2').click();
    const form = page.getByRole('group', { name: 'Version 2 of chat' });
    // Prefilled with version 1's terms: nothing changed is refused.
    await expect(form.getByLabel(/^Base fee/).inputValue()).resolves.toBe('20');
    await form.getByRole('button', { name: 'Create version 2' }).click();
    await alerted(page, /nothing changes/);
    // Refused, the form stays open with what was typed.
    await page.getByRole('group', { name: 'Version 2 of chat' }).getByLabel(/^Base fee/).fill('25');
    // Version 2 prices gpt-4o on its own; the default prices the other models.
    await page
      .getByRole('group', { name: 'Version 2 of chat' })
      .getByLabel('Prices', { exact: true })
      .fill('[{"meter": "tokens", "model": "per_unit", "unit_amount": "0.0008"}, {"meter": "tokens", "dimension_value": "gpt-4o", "model": "per_unit", "unit_amount": "0.01"}]');
    await page.getByRole('group', { name: 'Version 2 of chat' }).getByRole('button', { name: 'Create version 2' }).click();
    await status(page, /^Created version 2 of plan chat\./);
    // (its period credits carried over from version 1's prefilled form)
    await page.getByRole('heading', { name: 'Chat (chat) · version 2 · 1000 credits each period, rolling over', exact: true }).waitFor();
    await expect(page.getByRole('list', { name: 'Prices of chat version 2' }).getByRole('listitem').allTextContents()).resolves.toEqual([
      'tokens (model: other values): 0.0008 per unit',
      'tokens (model gpt-4o): 0.01 per unit',
    ]);
    await page.getByTestId('plan-version-row').nth(1).waitFor();
    await expect(page.getByTestId('plan-version-row').allTextContents()).resolves.toEqual([expect.stringMatching(/^2 \(newest\)25.*0$/), expect.stringMatching(/^120.*1$/)]);
    await screenshot(page, 'catalog-plan-versions');

    // The customer's page offers chat's newest version to the subscription on version 1, at the period end.
    const customerPage = await signIn(browser, web!.baseUrl, { email: users.admin, password: PASSWORDS.admin }, `/customers/${customer.id}`);
    const sub = customerPage.getByRole('article', { name: /^Chat chat · version 1/ });
    await sub.getByLabel('New plan').selectOption('chat');
    await expect(sub.getByLabel('New plan').locator('option:checked').textContent()).resolves.toMatch(/^Chat, version 2: its newest prices \(25 USD per month\)$/);
    await sub.getByRole('checkbox', { name: /At the end of the current period/ }).check();
    await sub.getByRole('button', { name: 'Preview plan change' }).click();
    await customerPage.getByRole('heading', { name: 'Change Chat to Chat version 2?' }).waitFor();
    await customerPage.getByText(/Chat version 2 takes effect with the end of the current period/).waitFor();
    await customerPage.getByRole('button', { name: 'Confirm plan change' }).click();
    await status(customerPage, /^Plan change to chat version 2 at the end of the period/);
    const change = await waitFor('the workflow recording the move', async () => (await testPrisma().subscriptionPlanChange.findFirst({ where: { subscriptionId: subscription.id }, include: { toPlan: true } })) ?? undefined);
    expect(change.toPlan.version).toBe(2);
    // Effective at the period end: the subscription's next anchor day.
    const periodEnd = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() + 1, Math.min(today.getUTCDate(), new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() + 2, 0)).getUTCDate())));
    expect(change.effectiveAt.toISOString()).toBe(periodEnd.toISOString());
    await customerPage.reload();
    await customerPage.getByText(`Changes to Chat chat version 2 on ${periodEnd.toISOString().slice(0, 10)} 00:00 UTC`).waitFor();
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, action: 'plan.version_created' } });
    expect(audit).toMatchObject({ actorType: 'user', actorId: users.admin, before: { version: 1, base_fee: '20' }, after: { version: 2, base_fee: '25' } });
  });

  it('is not open to finance: the page is a 403, and a forged form changes nothing', async () => {
    const page = await signInAs('finance', '/');
    const response = await page.goto('/settings/catalog');
    expect(response?.status()).toBe(403);
    await page.goto('/');
    const csrf = await page.locator('input[name="csrf"]').first().inputValue();
    const forged = await page.request.post('/settings/catalog', { form: { csrf, intent: 'create-meter', key: 'forged', name: 'F', event_type: 'f', aggregation: 'sum' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await testPrisma().meter.count({ where: { organizationId, key: 'forged' } })).toBe(0);
  });

  it('adds credit burn rates on their settings page; a refused one names the field', async () => {
    await testPrisma().meter.create({ data: { organizationId, key: 'llm-tokens', name: 'LLM tokens', eventType: 'llm_call', aggregation: 'sum', dimension: 'model' } });
    const page = await signInAs('admin', '/settings/burn-rates');
    await page.getByRole('heading', { name: 'Credit burn rates', exact: true }).waitFor();
    const form = page.getByRole('group', { name: 'Add a burn rate (or a change)' });
    await form.getByLabel('Meter').selectOption('llm-tokens');
    await form.getByLabel('Credits').fill('lots');
    await form.getByRole('button', { name: 'Add burn rate' }).click();
    await alerted(page, /Credits/);
    expect(await form.getByLabel('Credits').getAttribute('aria-invalid')).toBe('true');

    await form.getByLabel('Meter').selectOption('llm-tokens');
    await form.getByLabel('Dimension value (optional)').fill('gpt-4o');
    await form.getByLabel('Credits').fill('5');
    await form.getByLabel('Per units').fill('1000');
    await form.getByRole('button', { name: 'Add burn rate' }).click();
    await status(page, /^Added llm-tokens \(gpt-4o\): 5 credits per 1000, from /);
    await page.getByTestId('burn-rate-row').filter({ hasText: 'gpt-4o' }).filter({ hasText: '5 per 1000' }).filter({ hasText: 'In effect' }).waitFor();

    // Back over the rate in effect: refused, naming effective_from.
    await form.getByLabel('Meter').selectOption('llm-tokens');
    await form.getByLabel('Dimension value (optional)').fill('gpt-4o');
    await form.getByLabel('Credits').fill('6');
    await form.getByLabel('Effective from (UTC; empty = now)').fill('2020-01-01T00:00');
    await form.getByRole('button', { name: 'Add burn rate' }).click();
    await alerted(page, /effective_from/);
    expect(await form.getByLabel('Effective from (UTC; empty = now)').getAttribute('aria-invalid')).toBe('true');
    expect(await testPrisma().creditBurnRate.count({ where: { organizationId } })).toBe(1);
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, action: 'credit_burn_rate.created' } });
    expect([audit.actorType, audit.actorId]).toEqual(['user', users.admin]);
    await screenshot(page, 'settings-burn-rates');
    await page.close();
  });
});


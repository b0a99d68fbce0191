import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import type { Browser, Page } from 'playwright-core';
import { createStripeClient } from '../activities/stripe/client';
import { approveUpdate, billingRunStateQuery, type BillingRunInput } from '../temporal/billing-messages';
import { startBillingRunWorkflow } from '../temporal/billing-runs';
import { billingRunWorkflowId } from '../temporal/names';
import { event, startTestApi, type TestApi } from './api-test-app';
import { createBillingCatalog, insertUsage, type BillingCatalog } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { insertBatch, startBatchWorkflow } from './harness/insert-batch';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { StripeFake } from './harness/stripe-fake';
import { createRoleUsers, describeWithChromium, launchChromium, screenshot, signIn, signInReady, startWebServer, type WebServer } from './harness/web-app';

/**
 * The admin pages in Chromium against the real stack: an API key is created
 * in the browser, shown once, works against the real API, and stops working
 * when revoked; an admin adds a finance user who can sign in; finance cannot
 * open the settings pages; the billing runs page shows a failed run's reason
 * and a waiting run's phase, and follows a run to the end without a reload.
 */
const PASSWORDS = { admin: 'admin-password-1', finance: 'finance-password-1' };
const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };

describeWithChromium('web-admin')('admin pages and billing runs in Chromium', () => {
  const fake = new StripeFake();
  let worker: TestWorker;
  let api: TestApi;
  let orgApiKey: string;
  let web: WebServer | undefined;
  let browser: Browser;
  let baseUrl: string;
  let organizationId: string;
  let catalog: BillingCatalog | undefined;
  const users = { admin: '', finance: '' };
  const runs = { failed: '', waiting: '', terminated: '', unanswered: '' };

  /** A customer's November billing run, started as the subscription workflow starts it, waiting for approval. */
  async function draftRun(customerName: string): Promise<string> {
    const prisma = testPrisma();
    catalog ??= await createBillingCatalog(prisma, organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
    const customer = await prisma.customer.create({ data: { organizationId, externalId: `adm-${randomUUID().slice(0, 8)}`, name: customerName } });
    const subscription = await prisma.subscription.create({
      data: { organizationId, customerId: customer.id, planId: catalog.basicPlanId, startDate: new Date(november.periodStart), billingAnchorDay: 1 },
    });
    await insertUsage(prisma, organizationId, customer.externalId, [{ at: '2024-11-05T10:00:00Z', quantity: '300' }]);
    const input: BillingRunInput = { organizationId, subscriptionId: subscription.id, ...november, lateEventGraceSeconds: 0 };
    await startBillingRunWorkflow(worker.client, input, { taskQueue: worker.taskQueue });
    const workflowId = billingRunWorkflowId(subscription.id, november.periodStart);
    await waitFor(`${customerName}'s draft`, async () => ((await worker.client.workflow.getHandle(workflowId).query(billingRunStateQuery)).status === 'awaiting_approval' ? true : undefined));
    return workflowId;
  }

  /** Signed in on `path`, with the page's scripts loaded, so forms submit through React Router as people's do. */
  async function signInAs(role: keyof typeof PASSWORDS, path: string): Promise<Page> {
    return signInReady(browser, baseUrl, { email: users[role], password: PASSWORDS[role] }, path);
  }

  beforeAll(async () => {
    const stripePort = await fake.start();
    worker = await startTestWorker('web-admin', { stripe: createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${stripePort}` }) });
    api = await startTestApi();
    ({ organizationId, apiKey: orgApiKey } = await createTestOrganization('web-admin'));
    Object.assign(users, await createRoleUsers(organizationId, PASSWORDS, 'admin.test'));
    // One run fails for good in its Stripe step (Stripe refuses an invoice item); the other waits for approval.
    runs.failed = await draftRun('Refused Ltd');
    fake.refuseOnce('POST', /^\/v1\/invoiceitems$/, 1);
    const failing = worker.client.workflow.getHandle(runs.failed);
    await failing.executeUpdate(approveUpdate, { args: [{ approver: 'test' }] });
    await expect(failing.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    runs.waiting = await draftRun('Waiting Ltd');
    runs.terminated = await draftRun('Stopped Ltd');
    await worker.client.workflow.getHandle(runs.terminated).terminate('stopped by ops in the test');
    // A run on a task queue no worker polls: running, but it cannot answer its state query.
    const subscription = await testPrisma().subscription.create({
      data: { organizationId, customerId: catalog!.customerId, planId: catalog!.basicPlanId, startDate: new Date(november.periodStart), billingAnchorDay: 1 },
    });
    await startBillingRunWorkflow(worker.client, { organizationId, subscriptionId: subscription.id, ...november }, { taskQueue: `no-worker-${randomUUID()}` });
    runs.unanswered = billingRunWorkflowId(subscription.id, november.periodStart);
    // The web app starts workflows (a Stripe link, a re-issue) on the test worker's queue.
    web = await startWebServer({ TEMPORAL_TASK_QUEUE: worker.taskQueue });
    baseUrl = web.baseUrl;
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    await api?.close();
    if (runs.unanswered) await worker.client.workflow.getHandle(runs.unanswered).terminate('test over').catch(() => undefined);
    await worker?.close();
    await fake.stop();
  });

  it('creates an API key that is shown once and works against the API, then revokes it so the API answers 401', async () => {
    const page = await signInAs('admin', '/settings/api-keys');
    await page.getByLabel('Name (who uses it)').fill('Browser-made key');
    // ingest is ticked already; this key may read too, and nothing more.
    await page.getByRole('checkbox', { name: 'read' }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByTestId('new-api-key');
    await shown.waitFor();
    const key = await shown.inputValue();
    expect(key).toMatch(/^lf_[A-Za-z0-9_-]{43}$/);
    await screenshot(page, 'settings-api-keys-created');

    const accepted = await api.post('/api/v1/events', key, event(`admin-key-${randomUUID()}`));
    expect(accepted.status).toBe(202);
    expect((await api.get('/api/v1/invoices', key)).status).toBe(200);
    expect(await api.get('/api/v1/settings/billing', key)).toMatchObject({ status: 403, body: { code: 'INSUFFICIENT_SCOPE' } });

    // Shown once: a fresh load of the page has the key's prefix, never the key.
    await page.goto('/settings/api-keys');
    const row = page.getByRole('row').filter({ hasText: 'Browser-made key' });
    await expect(row.getByTestId('api-key-prefix').textContent()).resolves.toBe(`${key.slice(0, 10)}…`);
    await expect(row.getByTestId('api-key-scopes').textContent()).resolves.toBe('ingest, read');
    expect(await page.content()).not.toContain(key);
    expect(await page.getByTestId('new-api-key').count()).toBe(0);

    await row.getByRole('link', { name: 'Revoke Browser-made key' }).click();
    await page.getByRole('heading', { name: /^Revoke “Browser-made key”/ }).waitFor();
    await screenshot(page, 'settings-api-keys-confirm-revoke');
    await page.getByRole('button', { name: 'Yes, revoke this key' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/^Revoked "Browser-made key" \(lf_/);
    await row.getByRole('cell').nth(4).filter({ hasText: /^Revoked \d{4}-/ }).waitFor({ timeout: 5000 });

    // The API caches key lookups for a few seconds (apiKeyCacheMs), then refuses the key.
    const refused = await waitFor('the API to refuse the revoked key', async () => {
      const response = await api.post('/api/v1/events', key, event(`admin-key-${randomUUID()}`));
      return response.status === 202 ? undefined : response;
    });
    expect(refused).toMatchObject({ status: 401, body: { error: 'Unknown or revoked API key' } });
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'api_key', actorType: 'user' }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => [a.action, a.actorId])).toEqual([
      ['api_key.created', users.admin],
      ['api_key.revoked', users.admin],
    ]);
  });

  it('adds a finance user who can then sign in, and refuses to demote the last admin', async () => {
    const page = await signInAs('admin', '/settings/users');
    const email = `new-finance-${randomUUID().slice(0, 8)}@admin.test`;
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Role', { exact: true }).selectOption('finance');
    await page.getByLabel(/^Initial password/).fill('initial-password-1');
    await page.getByRole('button', { name: 'Add user' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toBe(`Added ${email} as finance. Give them the initial password through a private channel.`);
    await screenshot(page, 'settings-users');

    // The only admin cannot make themselves finance.
    await page.getByLabel(`Role of ${users.admin}`, { exact: true }).selectOption('finance');
    await page.getByRole('button', { name: `Change role of ${users.admin}` }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe(`${users.admin} is the last admin; make someone else admin first.`);
    expect((await testPrisma().user.findFirstOrThrow({ where: { organizationId, email: users.admin } })).role).toBe('admin');
    expect(await page.getByLabel(`Role of ${users.admin}`, { exact: true }).inputValue()).toBe('admin');

    const newcomer = await signIn(browser, baseUrl, { email, password: 'initial-password-1' }, '/');
    await expect(newcomer.locator('header .who span').textContent()).resolves.toBe(`${email} (finance)`);
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, entityType: 'user', action: 'user.created', actorType: 'user' } });
    expect(audit).toMatchObject({ actorId: users.admin, after: { email, role: 'finance' } });
  });

  it('saves the approval policy, alert destinations and margin threshold; the API then reports them, and a bad value names its field', async () => {
    const page = await signInAs('admin', '/settings');
    await page.getByRole('heading', { name: 'Organization' }).waitFor();
    await expect(page.getByLabel('Alert below margin (basis points)').inputValue()).resolves.toBe('2000');
    await page.getByLabel('Remind finance every (hours)').fill('12');
    await page.getByLabel('Approve automatically after (hours)').fill('96');
    await page.getByLabel('Slack channel').fill('#revenue');
    await page.getByLabel('Email recipient').fill('billing@admin.test');
    await page.getByLabel('Alert below margin (basis points)').fill('3500');
    await expect(page.getByLabel('Invoice collection').inputValue()).resolves.toBe('auto');
    await page.getByLabel('Invoice collection').selectOption('send_invoice');
    await page.getByLabel('A sent invoice is due after (days)').fill('14');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/^Saved\./);
    await screenshot(page, 'settings-organization');
    const settings = await api.get('/api/v1/settings/billing', orgApiKey);
    expect(settings.body).toMatchObject({
      approval_reminder_hours: 12,
      auto_approve_after_hours: 96,
      finance_slack_channel: '#revenue',
      finance_email: 'billing@admin.test',
      margin_threshold_bps: 3500,
      margin_alert_step_bps: 500,
      invoice_collection: 'send_invoice',
      invoice_due_days: 14,
    });
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId, action: 'organization.billing_settings_updated' } });
    expect(audit.map((a) => [a.actorType, a.actorId])).toEqual([['user', users.admin]]);

    await page.getByLabel('Remind finance every (hours)').fill('0');
    await page.getByLabel('Alert below margin (basis points)').fill('lots');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('Nothing was saved: fix the fields marked below.');
    await expect(page.getByText('Remind finance every (hours): must be at least 1 hour').count()).resolves.toBe(1);
    await expect(page.getByText('Alert below margin (basis points): must be a whole number').count()).resolves.toBe(1);
    expect((await api.get('/api/v1/settings/billing', orgApiKey)).body.approval_reminder_hours).toBe(12);
    // Back to charging: this organization's billing runs below collect by card.
    expect((await api.patch('/api/v1/settings/billing', orgApiKey, { invoice_collection: 'auto' })).status).toBe(200);
  });

  it('saves alert recipients and a Slack token on the alert channels page; the token is stored sealed and never shown again', async () => {
    const token = 'xoxb-web-entered-token-4242';
    const page = await signInAs('admin', '/settings/alerts');
    await page.getByRole('heading', { name: 'Alert channels' }).waitFor();
    await expect(page.getByTestId('secret-slack_bot_token').textContent()).resolves.toBe('Not set.');
    await page.getByLabel('Also email').fill('cfo@admin.test\nops@admin.test');
    await page.getByLabel('Slack bot token', { exact: true }).fill(token);
    await page.getByRole('button', { name: 'Save alert channels' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/^Saved\./);
    // The page reloads its data after the save: wait for it rather than read the old text.
    await page.getByTestId('secret-slack_bot_token').getByText('Stored, ends in 4242.').waitFor();
    expect(await page.getByLabel('Slack bot token', { exact: true }).inputValue()).toBe('');
    expect(await page.content()).not.toContain(token);
    await screenshot(page, 'settings-alert-channels');
    const settings = await api.get('/api/v1/settings/alerts', orgApiKey);
    expect(settings.body).toMatchObject({ alert_email_recipients: ['cfo@admin.test', 'ops@admin.test'], secrets: { slack_bot_token: { set: true, last4: '4242' } } });
    const stored = await testPrisma().organization.findUniqueOrThrow({ where: { id: organizationId } });
    expect(stored.slackBotTokenEnc).toMatch(/^v1:/);
    expect(JSON.stringify(stored)).not.toContain(token);
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, action: 'organization.alert_settings_updated' } });
    expect(audit).toMatchObject({ actorType: 'user', actorId: users.admin, after: { slack_bot_token: 'set' } });

    // A bad address names its line; nothing is saved. Ticking "remove" clears the token.
    await page.getByLabel('Also email').fill('cfo@admin.test\nnot-an-address');
    await page.getByRole('button', { name: 'Save alert channels' }).click();
    await page.getByText('Also email: line 2: must be an email address like ops@example.com').waitFor();
    await page.getByLabel('Also email').fill('cfo@admin.test');
    await page.getByLabel('Remove the stored slack bot token').check();
    await page.getByRole('button', { name: 'Save alert channels' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/^Saved\./);
    expect((await api.get('/api/v1/settings/alerts', orgApiKey)).body).toMatchObject({ alert_email_recipients: ['cfo@admin.test'], secrets: { slack_bot_token: { set: false } } });
  });

  it('sets, changes and removes a quota limit on the quota page; ingest obeys it and the audit names the person', async () => {
    const page = await signInAs('admin', '/settings/quotas');
    await page.getByRole('heading', { name: 'Quota limits' }).waitFor();
    await page.getByText('No quota limits').waitFor();
    // A HARD limit without a number is refused, naming the field; nothing is stored.
    await page.getByLabel('Event type', { exact: true }).fill('web_render');
    await page.getByRole('button', { name: 'Add limit' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('Limit: is required for a HARD or SOFT limit');
    expect(await testPrisma().quotaLimit.count({ where: { organizationId } })).toBe(0);

    await page.getByLabel('Event type', { exact: true }).fill('web_render');
    await page.getByLabel('Limit (units', { exact: false }).fill('1');
    await page.getByLabel('Resets every').selectOption('day');
    await page.getByRole('button', { name: 'Add limit' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/^Created the HARD limit on web_render for every customer \(the default\) \(1 per day\)/);
    await page.getByTestId('quota-limit-row').first().waitFor();
    await screenshot(page, 'settings-quota-limits');
    const send = () => api.post('/api/v1/events', orgApiKey, event(`web-q-${randomUUID()}`, { event_type: 'web_render', customer_external_id: 'painter' }));
    expect((await send()).status).toBe(202);
    expect((await send()).status).toBe(403);

    await page.getByRole('link', { name: 'Change the limit on web_render for every customer (default)' }).click();
    await page.getByRole('button', { name: 'Save limit' }).waitFor();
    await page.getByLabel('Limit (units', { exact: false }).fill('5');
    await page.getByRole('button', { name: 'Save limit' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/^Saved: HARD limit on web_render .*\(5 per day\)/);
    expect((await send()).status).toBe(202);

    await page.getByRole('link', { name: 'Remove the limit on web_render for every customer (default)' }).click();
    await page.getByRole('button', { name: 'Yes, remove this limit' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/^Removed the HARD limit on web_render/);
    expect((await api.get('/api/v1/quota-limits', orgApiKey)).body.data).toEqual([]);
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'quota_limit' }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => [a.action, a.actorType, a.actorId])).toEqual([
      ['quota_limit.created', 'user', users.admin],
      ['quota_limit.updated', 'user', users.admin],
      ['quota_limit.deleted', 'user', users.admin],
    ]);
  });

  it('adds a vendor rate, a back-dated one for the time before it, and a price change on the rates page; the API prices with the one in effect', async () => {
    const page = await signInAs('admin', '/settings/rates');
    await page.getByRole('heading', { name: 'Vendor rates' }).waitFor();
    const add = async (prices: Record<string, string>, from = '') => {
      await page.getByLabel('Vendor (as events name it)').fill('openai');
      await page.getByLabel('Model (as events name it)').fill('web-model');
      for (const [label, value] of Object.entries(prices)) await page.getByLabel(label, { exact: true }).fill(value);
      await page.getByLabel('Effective from (UTC; empty = now)').fill(from);
      await page.getByRole('button', { name: 'Add rate' }).click();
    };
    await add({ 'Input, per million tokens': '3', 'Output, per million tokens': 'twelve' });
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/^Output, per million tokens: must be a non-negative decimal string/);
    await add({ 'Output, per million tokens': '12' });
    await expect(page.getByRole('status').textContent()).resolves.toMatch(
      /^Added openai\/web-model: Input, per million tokens 3; Output, per million tokens 12 \(USD\), from \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\.$/,
    );
    // Before the first rate the model had none: a rate may fill that time (its events were left unpriced), once.
    await add({ 'Input, per million tokens': '4', 'Output, per million tokens': '16' }, '2020-01-01T00:00');
    await page.getByRole('status').getByText(/^Added openai\/web-model: Input, per million tokens 4; .* from 2020-01-01 00:00 UTC\.$/).waitFor();
    await add({ 'Input, per million tokens': '5', 'Output, per million tokens': '20' }, '2021-01-01T00:00');
    // The alert is replaced after the answer: wait for the new text rather than read the old one.
    await page.getByRole('alert').getByText(/^effective_from: openai\/web-model had a rate in effect at 2021-01-01T00:00:00.000Z/).waitFor();
    await add({ 'Input, per million tokens': '1.5', 'Output, per million tokens': '6', 'Per image': '0.04' });
    await page.getByRole('status').getByText(/^Added openai\/web-model: Input, per million tokens 1.5; Output, per million tokens 6; Per image 0.04 \(USD\)/).waitFor();
    // The page reloads its data after the save: wait for the third row rather than count the old table.
    await page.getByTestId('vendor-rate-row').nth(2).waitFor();
    await expect(page.getByTestId('vendor-rate-row').count()).resolves.toBe(3);
    await screenshot(page, 'settings-vendor-rates');
    const priced = await api.post('/api/v1/rating/calculate', orgApiKey, { vendor: 'openai', model: 'web-model', input_tokens: 1_000_000, output_tokens: 1_000_000, images: 2 });
    expect(priced.body.cost).toBe('7.58');
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'vendor_rate' } });
    expect(audit.map((a) => [a.action, a.actorType, a.actorId])).toEqual([
      ['vendor_rate.created', 'user', users.admin],
      ['vendor_rate.created', 'user', users.admin],
      ['vendor_rate.created', 'user', users.admin],
    ]);
  });

  it('lists events a rate could not price, and re-rates them once a rate fills the time before the first one; the audit names the person', async () => {
    const prisma = testPrisma();
    const usage = (input: number) => [{ vendor: 'openai', model: 'web-unpriced', input_tokens: input, output_tokens: 0 }];
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const batch = await insertBatch(prisma, organizationId, [
      { customerExternalId: 'painter', timestamp: hourAgo, vendorUsage: usage(1_000_000) },
      { customerExternalId: 'painter', timestamp: hourAgo, vendorUsage: usage(500_000) },
    ]);
    const handle = worker.client.workflow.getHandle(await startBatchWorkflow(prisma, worker.client, batch, worker.taskQueue));
    await handle.result();

    const page = await signInAs('admin', '/settings/unpriced');
    await page.getByRole('heading', { name: 'Unpriced events', level: 1 }).waitFor();
    const row = page.getByTestId('unpriced-summary-row').filter({ hasText: 'openai / web-unpriced' });
    await expect(row.getByRole('cell').allTextContents()).resolves.toEqual(['openai / web-unpriced', '2', '2', '0', 'Needs a rate']);
    await expect(page.getByTestId('unpriced-event-row').filter({ hasText: 'no rate of openai/web-unpriced in effect at' }).count()).resolves.toBe(2);

    // The price that applied back then, entered for the time before the model had a rate.
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Vendor rates' }).click();
    await page.getByLabel('Vendor (as events name it)').fill('openai');
    await page.getByLabel('Model (as events name it)').fill('web-unpriced');
    await page.getByLabel('Input, per million tokens', { exact: true }).fill('2');
    await page.getByLabel('Effective from (UTC; empty = now)').fill('2026-01-01T00:00');
    await page.getByRole('button', { name: 'Add rate' }).click();
    await page.getByRole('status').getByText(/^Added openai\/web-unpriced: Input, per million tokens 2 \(USD\), from 2026-01-01 00:00 UTC\.$/).waitFor();

    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Unpriced events' }).click();
    await row.getByRole('cell').nth(3).filter({ hasText: /^2$/ }).waitFor();
    await screenshot(page, 'settings-unpriced-events');
    await row.getByRole('button', { name: 'Re-rate openai/web-unpriced' }).click();
    await page.getByRole('status').getByText('Re-rated 2 events (openai/web-unpriced): 2 lines priced, 0 lines still unpriced.').waitFor();
    // The page reloads its data after the action: wait for the row to go rather than count the old table.
    await page.getByTestId('unpriced-summary-row').filter({ hasText: 'openai / web-unpriced' }).waitFor({ state: 'detached' });

    const events = await prisma.usageEvent.findMany({ where: { id: { in: batch.eventIds } }, orderBy: { quantity: 'asc' } });
    expect(events.map((e) => [e.cost?.toFixed(), e.unpricedUsage]).sort()).toEqual([
      ['1', null],
      ['2', null],
    ]);
    const audit = await prisma.auditLog.findMany({ where: { organizationId, action: 'event.rerated' } });
    expect(audit.map((a) => [a.entityId, a.actorType, a.actorId]).sort()).toEqual(batch.eventIds.map((id) => [id, 'user', users.admin]).sort());
  });

  it('edits a customer\'s name, billing email and Stripe link on its page; a Stripe id Stripe does not know is refused; the audit names the person', async () => {
    const prisma = testPrisma();
    const customer = await prisma.customer.create({ data: { organizationId, externalId: `edit-${randomUUID().slice(0, 8)}`, name: 'Before Ltd' } });
    const page = await signInAs('finance', `/customers/${customer.id}`);
    await page.getByText('Edit billing details').click();
    await page.getByLabel('Name').fill('After Ltd');
    await page.getByLabel('Billing email').fill('ap@after.test');
    await page.getByLabel('Stripe customer id').fill('cus_NotInStripe');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').getByText(/^stripe_customer_id: .*No such customer: 'cus_NotInStripe'/).waitFor();
    expect(await page.getByLabel('Stripe customer id').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Billing email').getAttribute('aria-invalid')).toBeNull();
    const existing = fake.addCustomer({ name: 'After Ltd (Stripe)', metadata: { ledgerflow_organization_id: organizationId } });
    await page.getByLabel('Stripe customer id').fill(existing);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText(`Saved ${customer.externalId}. Linked to Stripe customer ${existing}.`).waitFor();
    await page.getByRole('heading', { name: 'After Ltd', level: 1 }).waitFor();
    expect(await prisma.customer.findUniqueOrThrow({ where: { id: customer.id } })).toMatchObject({ name: 'After Ltd', email: 'ap@after.test', stripeCustomerId: existing });
    const audit = await prisma.auditLog.findMany({ where: { organizationId, entityType: 'customer', entityId: customer.id }, orderBy: { id: 'asc' } });
    // The refused save changed nothing; the second links first, then saves the name and email.
    expect(audit.map((a) => [a.action, a.actorType, a.actorId])).toEqual([
      ['customer.stripe_linked', 'user', users.finance],
      ['customer.updated', 'user', users.finance],
    ]);
    await screenshot(page, 'customer-edit');

    // A page where the customer saves a card: opened in Stripe by the worker, shown as a link to send them.
    await prisma.plan.create({ data: { organizationId, key: `card-${randomUUID().slice(0, 8)}`, name: 'Card plan', currency: 'eur', interval: 'month', baseFee: '10' } }).then((plan) =>
      prisma.subscription.create({ data: { organizationId, customerId: customer.id, planId: plan.id, startDate: new Date('2026-10-01T00:00:00Z'), billingAnchorDay: 1 } }),
    );
    const cardSection = page.getByRole('region', { name: 'Card for invoices' });
    await cardSection.getByLabel('Send the customer back to').fill('ftp://shop.example.test/billing');
    await page.getByRole('button', { name: 'Open a card setup page' }).click();
    await cardSection.getByRole('alert').getByText(/^Send the customer back to: must be an absolute http\(s\) URL/).waitFor();
    expect(await cardSection.getByLabel('Send the customer back to').getAttribute('aria-invalid')).toBe('true');
    await cardSection.getByLabel('Send the customer back to').fill('https://shop.example.test/billing');
    await page.getByRole('button', { name: 'Open a card setup page' }).click();
    const link = cardSection.getByRole('link', { name: /^https:\/\/checkout\.stripe\.test\// });
    await link.waitFor();
    await cardSection.getByRole('status').getByText(new RegExp(`^Card setup page opened for ${customer.externalId}\\. Send the customer this link`)).waitFor();
    const href = await link.getAttribute('href');
    const session = [...fake.checkoutSessions.values()].find((cs) => cs.url === href);
    expect(session).toMatchObject({ customer: existing, successUrl: 'https://shop.example.test/billing', cancelUrl: 'https://shop.example.test/billing' });
    const setup = await prisma.auditLog.findFirstOrThrow({ where: { organizationId, entityId: customer.id, action: 'customer.payment_setup_started' } });
    expect([setup.actorType, setup.actorId, (setup.after as { checkout_session_id: string }).checkout_session_id]).toEqual(['user', users.finance, session!.id]);
  });

  it('sets, changes and removes plan features on the plans page; the entitlement check answers from them; the audit names the person', async () => {
    const prisma = testPrisma();
    catalog ??= await createBillingCatalog(prisma, organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
    const page = await signInAs('admin', '/settings/plans');
    await page.getByRole('heading', { name: 'Plan features', level: 1 }).waitFor();
    const set = async (plan: string, feature: string, kind: string, fill: () => Promise<void>) => {
      await page.getByLabel('Plan', { exact: true }).selectOption(plan);
      await page.getByLabel('Feature (as apps ask for it)').fill(feature);
      await page.getByLabel('Kind').selectOption(kind);
      await fill();
      await page.getByRole('button', { name: 'Set feature' }).click();
    };
    // A limit typed under the wrong kind would grant without limit: refused, naming it.
    await set('pro', 'web-seats', 'boolean', () => page.getByLabel('Limit (limit)').fill('25'));
    await page.getByRole('alert').getByText(/^Limit: only for kind limit; this feature is kind boolean/).waitFor();
    await set('pro', 'web-seats', 'limit', () => page.getByLabel('Limit (limit)').fill('many'));
    await page.getByRole('alert').getByText(/^Limit: must be a non-negative decimal string/).waitFor();
    await set('pro', 'web-seats', 'limit', () => page.getByLabel('Limit (limit)').fill('25'));
    await page.getByRole('status').getByText('Added web-seats on plan pro: up to 25.').waitFor();
    await set('pro', 'web-seats', 'limit', () => page.getByLabel('Limit (limit)').fill('30'));
    await page.getByRole('status').getByText('Changed web-seats on plan pro: up to 30.').waitFor();
    await page.getByTestId('plan-feature-row').filter({ hasText: 'web-seats' }).getByRole('cell').nth(1).filter({ hasText: 'up to 30' }).waitFor();
    await screenshot(page, 'settings-plan-features');

    // The customer is on basic: pro is the upgrade that grants 20 seats.
    const customer = (await prisma.subscription.findFirstOrThrow({ where: { organizationId, planId: catalog.basicPlanId }, include: { customer: true } })).customer.externalId;
    const check = await api.post('/api/v1/entitlements/check', orgApiKey, { customer_external_id: customer, feature: 'web-seats', quantity: 20 });
    expect(check.body).toMatchObject({ allowed: false, upgrade_options: [{ plan_key: 'pro', reason: 'plan pro allows web-seats up to 30 (asked: 20)' }] });

    await page.getByRole('button', { name: 'Remove web-seats from pro' }).click();
    await page.getByRole('status').getByText('Removed web-seats from plan pro.').waitFor();
    const audit = await prisma.auditLog.findMany({ where: { organizationId, entityType: 'plan_feature' }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => [a.action, a.actorType, a.actorId])).toEqual([
      ['plan_feature.created', 'user', users.admin],
      ['plan_feature.updated', 'user', users.admin],
      ['plan_feature.deleted', 'user', users.admin],
    ]);
  });

  it('gives finance 403 on the settings pages and no Settings link', async () => {
    const page = await signInAs('finance', '/');
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).count()).toBe(0);
    for (const path of ['/settings', '/settings/alerts', '/settings/quotas', '/settings/rates', '/settings/unpriced', '/settings/plans', '/settings/api-keys', '/settings/users']) {
      const response = await page.goto(path);
      expect(response?.status()).toBe(403);
      await expect(page.getByRole('alert').textContent()).resolves.toBe('Your role (finance) may not do this.');
    }
    await screenshot(page, 'settings-forbidden-finance');
    // A forged form with finance's own valid CSRF token is refused too.
    await page.goto('/');
    const csrf = await page.locator('input[name="csrf"]').first().inputValue();
    const forged = await page.request.post('/settings/api-keys', { form: { csrf, intent: 'create', name: 'forged' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await testPrisma().apiKey.count({ where: { organizationId, name: 'forged' } })).toBe(0);
  });

  it('shows failed and terminated runs’ reasons and a waiting run’s phase, filters by status, and follows a run without a reload', async () => {
    const page = await signInAs('admin', '/runs');
    const failed = page.getByTestId(`run-${runs.failed}`);
    const waiting = page.getByTestId(`run-${runs.waiting}`);
    await expect(failed.getByTestId('run-status').textContent()).resolves.toBe('failed');
    await expect(failed.getByTestId('run-failure').textContent()).resolves.toContain('Request refused (injected by the fake)');
    await expect(waiting.getByTestId('run-status').textContent()).resolves.toBe('running');
    await expect(waiting.getByTestId('run-phase').textContent()).resolves.toBe('awaiting approval');
    // The run without a worker: the page still loads, and says the run did not answer.
    await expect(page.getByTestId(`run-${runs.unanswered}`).getByTestId('run-phase').textContent()).resolves.toBe('unknown: the run did not answer');
    const terminated = page.getByTestId(`run-${runs.terminated}`);
    await expect(terminated.getByTestId('run-status').textContent()).resolves.toBe('terminated');
    await expect(terminated.getByTestId('run-failure').textContent()).resolves.toMatch(/^Terminated by .+: stopped by ops in the test$/);
    await screenshot(page, 'runs-failed-and-waiting');

    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/\?status=failed$/);
    await failed.waitFor();
    // The URL changes before the filtered list renders: wait for the other runs to leave.
    await waiting.waitFor({ state: 'detached' });
    await screenshot(page, 'runs-filter-failed');

    await page.getByLabel('Status').selectOption('terminated');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/\?status=terminated$/);
    await terminated.waitFor();
    await failed.waitFor({ state: 'detached' });

    // Approved outside the page: it polls and shows the run settle, no reload.
    await page.goto('/runs');
    await waiting.waitFor();
    await worker.client.workflow.getHandle(runs.waiting).executeUpdate(approveUpdate, { args: [{ approver: 'test' }] });
    await waiting.getByTestId('run-status').filter({ hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    await expect(waiting.getByTestId('run-phase').textContent()).resolves.toBe('paid');
  });

  it('retries a failed run for ops and admins only: the run starts over, settles paid once, and the audit log names who retried it', async () => {
    const finance = await signInAs('finance', '/runs');
    await finance.getByTestId(`run-${runs.failed}`).waitFor();
    expect(await finance.getByRole('button', { name: `Retry ${runs.failed}` }).count()).toBe(0);
    const csrf = await finance.locator('input[name="csrf"]').first().inputValue();
    const refused = await finance.request.post('/runs', { form: { csrf, workflow: runs.failed }, maxRedirects: 0 });
    expect(refused.status()).toBe(403);

    const page = await signInAs('admin', '/runs');
    const failed = page.getByTestId(`run-${runs.failed}`);
    // Only failed (or timed-out) runs offer a retry; a terminated one was stopped on purpose.
    expect(await page.getByRole('button', { name: `Retry ${runs.terminated}` }).count()).toBe(0);
    await page.getByRole('button', { name: `Retry ${runs.failed}` }).click();
    await expect(page.getByRole('status').filter({ hasText: `Retrying ${runs.failed}` }).textContent()).resolves.toContain('starts over from its first step');
    // Stripe refused once; the retried run finalizes and collects, and the page follows it.
    await failed.getByTestId('run-status').filter({ hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    await expect(failed.getByTestId('run-phase').textContent()).resolves.toBe('paid');
    await screenshot(page, 'runs-retried');

    const invoice = await testPrisma().invoice.findFirstOrThrow({ where: { workflowId: runs.failed } });
    expect(fake.charges.filter((c) => c.invoice === invoice.stripeInvoiceId)).toHaveLength(1);
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'billing_run', entityId: runs.failed } });
    expect(audit).toEqual([expect.objectContaining({ action: 'billing_run.retried', actorType: 'user', actorId: users.admin })]);
    // A second retry of a run that is no longer failed is refused with the reason.
    const again = await page.request.post('/runs', { form: { csrf: await page.locator('input[name="csrf"]').first().inputValue(), workflow: runs.failed }, maxRedirects: 0 });
    expect(again.status()).toBe(409);
  });
});

import type { Browser, Page } from 'playwright-core';
import { createUser } from '../prisma/users';
import { createBillingCatalog, type BillingCatalog } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { describeWithChromium, launchChromium, screenshot, signIn, startWebServer, type WebServer } from './harness/web-app';

/**
 * Issue 14, point 3, in the web app: finance changes a customer's plan and
 * cancels a subscription from the customer page, each time shown first what
 * this period's invoice will credit and charge, then confirming; the
 * subscription's workflow applies it. A new subscription is started from the
 * same page. Chromium against the web server, the real worker, Temporal and
 * PostgreSQL, through the same service as the API's subscription routes.
 */
const PASSWORD = 'finance-password-1';
const DAY_MS = 86_400_000;

describeWithChromium('web-subscriptions')('subscriptions on the customer page in Chromium', () => {
  let worker: TestWorker;
  let web: WebServer | undefined;
  let browser: Browser;
  let organizationId: string;
  let catalog: BillingCatalog;
  let email: string;
  const monthStart = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1));
  const monthEnd = new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() + 1, 1));

  beforeAll(async () => {
    worker = await startTestWorker('web-subscriptions');
    ({ organizationId } = await createTestOrganization('web-subscriptions'));
    // Basic at 30 and Pro at 60 a month, the customer on Basic since the first of this month.
    catalog = await createBillingCatalog(testPrisma(), organizationId, { startDate: monthStart, anchorDay: 1 });
    email = `finance-${organizationId.slice(0, 8)}@subs.test`;
    await createUser(testPrisma(), { organizationId, email, role: 'finance', password: PASSWORD }, { type: 'system', id: 'test' });
    web = await startWebServer({ TEMPORAL_TASK_QUEUE: worker.taskQueue });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    const handles = await testPrisma().subscription.findMany({ where: { organizationId }, select: { id: true } });
    await Promise.all(handles.map((s) => worker.client.workflow.getHandle(`subscription:${s.id}`).terminate('test over').catch(() => undefined)));
    await worker?.close();
  });

  async function customerPage(): Promise<Page> {
    const page = await signIn(browser, web!.baseUrl, { email, password: PASSWORD }, `/customers/${catalog.customerId}`);
    await page.waitForLoadState('networkidle');
    await page.getByRole('heading', { name: 'Subscriptions' }).waitFor();
    return page;
  }

  it('previews a plan change (credit, charge, net) before confirming it; the workflow applies it and the audit names the person', async () => {
    const page = await customerPage();
    const sub = page.getByRole('article', { name: /^Basic/ });
    // Now (the field left empty): today's UTC day on is prorated, the days before it were on Basic.
    const before = Date.now();
    await sub.getByLabel('New plan').selectOption('pro');
    await sub.getByRole('button', { name: 'Preview plan change' }).click();
    await page.getByRole('heading', { name: 'Change Basic to Pro?' }).waitFor();
    const total = Math.round((monthEnd.getTime() - monthStart.getTime()) / DAY_MS);
    const remaining = total - (new Date(before).getUTCDate() - 1);
    const credit = (30 * remaining) / total;
    const charge = (60 * remaining) / total;
    await expect(page.getByTestId('preview-credit').textContent()).resolves.toBe(`-${credit.toFixed(2)}`);
    await expect(page.getByTestId('preview-charge').textContent()).resolves.toBe(charge.toFixed(2));
    await expect(page.getByTestId('preview-net').textContent()).resolves.toBe((Number(charge.toFixed(2)) - Number(credit.toFixed(2))).toFixed(2));
    await expect(page.getByRole('caption').textContent()).resolves.toContain(`(${remaining} of ${total} days left)`);
    // Nothing is requested by a preview.
    expect(await testPrisma().auditLog.count({ where: { organizationId, action: 'subscription.plan_change_requested' } })).toBe(0);
    await screenshot(page, 'customer-plan-change-preview');

    await page.getByRole('button', { name: 'Confirm plan change' }).click();
    await page.getByRole('status').filter({ hasText: /^Plan change to pro from .* requested/ }).waitFor();
    const change = await waitFor('the workflow applying the change', async () => (await testPrisma().subscriptionPlanChange.findFirst({ where: { subscriptionId: catalog.subscriptionId } })) ?? undefined);
    // The instant previewed is the instant requested: "now" was pinned when the preview was shown.
    expect(change.effectiveAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(change.effectiveAt.getTime()).toBeLessThan(Date.now());
    expect(await testPrisma().subscription.findUniqueOrThrow({ where: { id: catalog.subscriptionId } })).toMatchObject({ planId: catalog.proPlanId });
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, action: 'subscription.plan_change_requested' } });
    expect(audit).toMatchObject({ actorType: 'user', actorId: email, entityId: catalog.subscriptionId, after: { plan: 'pro', effective_at: change.effectiveAt.toISOString() } });
    await page.reload();
    await page.getByRole('article', { name: /^Pro/ }).waitFor();
  });

  it('refuses a confirmation when the subscription changed since its preview, and a change dated outside the current period, naming the field', async () => {
    const page = await customerPage();
    const sub = page.getByRole('article', { name: /^Pro/ });
    await sub.getByLabel('New plan').selectOption('basic');
    await sub.getByRole('button', { name: 'Preview plan change' }).click();
    await page.getByRole('heading', { name: 'Change Pro to Basic?' }).waitFor();
    // Meanwhile Pro's base fee changes: the previewed proration no longer holds.
    await testPrisma().plan.update({ where: { id: catalog.proPlanId }, data: { baseFee: '70' } });
    await page.getByRole('button', { name: 'Confirm plan change' }).click();
    await page.getByRole('alert').filter({ hasText: /^The subscription changed since the preview/ }).waitFor();
    expect(await testPrisma().auditLog.count({ where: { organizationId, action: 'subscription.plan_change_requested' } })).toBe(1);
    await testPrisma().plan.update({ where: { id: catalog.proPlanId }, data: { baseFee: '60' } });

    await sub.getByLabel('New plan').selectOption('basic');
    await sub.getByLabel('Takes effect', { exact: false }).fill(new Date(monthEnd.getTime() + DAY_MS).toISOString().slice(0, 16));
    await sub.getByRole('button', { name: 'Preview plan change' }).click();
    await page.getByRole('alert').filter({ hasText: /^Takes effect: must fall in the subscription's current period/ }).waitFor();
    await expect(sub.getByLabel('Takes effect', { exact: false }).getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(page.getByLabel('Plan', { exact: true }).getAttribute('aria-invalid')).resolves.toBeNull();
  });

  it('starts a second subscription, previews its immediate cancellation with the credit, and cancels it', async () => {
    const page = await customerPage();
    await page.getByLabel('Plan', { exact: true }).selectOption('basic');
    await page.getByLabel('Starts', { exact: false }).fill(monthStart.toISOString().slice(0, 10));
    await page.getByRole('button', { name: 'Start subscription' }).click();
    await page.getByRole('status').filter({ hasText: `Subscribed to basic from ${monthStart.toISOString().slice(0, 10)}.` }).waitFor();
    const created = await testPrisma().subscription.findFirstOrThrow({ where: { organizationId, customerId: catalog.customerId, id: { not: catalog.subscriptionId } } });
    await waitFor('the new subscription listed', async () => ((await page.getByTestId('subscription').count()) === 2 ? true : undefined));

    const sub = page.getByRole('article', { name: /^Basic/ });
    // At the period end (the default): nothing credited, nothing to preview but the date.
    await sub.getByRole('button', { name: 'Preview cancellation' }).click();
    await page.getByText(`It ends with its current period on ${monthEnd.toISOString().slice(0, 10)}`).waitFor();
    expect(await page.getByTestId('preview-credit').count()).toBe(0);
    await sub.getByLabel('Now, crediting the unused base fee').check();
    await sub.getByRole('button', { name: 'Preview cancellation' }).click();
    await page.getByRole('heading', { name: 'Cancel Basic?' }).waitFor();
    await expect(page.getByTestId('preview-credit').textContent()).resolves.toMatch(/^-\d+\.\d{2}$/);
    expect(await page.getByTestId('preview-charge').count()).toBe(0);
    await page.getByRole('button', { name: 'Confirm cancellation' }).click();
    await page.getByRole('status').filter({ hasText: /^Cancellation on .* UTC requested\.$/ }).waitFor();
    await waitFor('the workflow ending the subscription', async () => ((await testPrisma().subscription.findUniqueOrThrow({ where: { id: created.id } })).status === 'canceled' ? true : undefined));
    expect(await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, action: 'subscription.cancel_requested', entityId: created.id } })).toMatchObject({ actorType: 'user', actorId: email, after: { at_period_end: false } });
  });
});

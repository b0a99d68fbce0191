import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { createStripeClient } from '../activities/stripe/client';
import { createUser } from '../prisma/users';
import { billingRunStateQuery, type BillingRunInput } from '../temporal/billing-messages';
import { startBillingRunWorkflow } from '../temporal/billing-runs';
import { billingRunWorkflowId } from '../temporal/names';
import { createBillingCatalog, insertUsage, type BillingCatalog } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { insertBatch } from './harness/insert-batch';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { StripeFake } from './harness/stripe-fake';
import { describeWithChromium, launchChromium, screenshot, signIn as signInAs, startWebServer, type WebServer } from './harness/web-app';

/**
 * The web app in a real browser (Debian's Chromium driven by playwright-core)
 * against the built server, the harness's PostgreSQL and Temporal dev server,
 * a test worker and the Stripe fake: finance approves a draft and watches the
 * run move on; a viewer has no approve button and a forged POST is refused;
 * the audit history names the approver; runs link to the Temporal UI.
 */
const TEMPORAL_UI = 'http://temporal-ui.test:8233';
const PASSWORDS = { finance: 'finance-password-1', viewer: 'viewer-password-1', ops: 'ops-password-123' };

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };

describeWithChromium('web-browser')('web app in Chromium', () => {
  const fake = new StripeFake();
  let worker: TestWorker;
  let web: WebServer | undefined;
  let browser: Browser;
  let baseUrl: string;
  let organizationId: string;
  const users = { finance: '', viewer: '', ops: '' };
  /** two drafts: finance approves the first; the viewer tries the second */
  const drafts: { invoiceId: string; workflowId: string }[] = [];

  let catalog: BillingCatalog | undefined;

  /** A customer on the catalog's Basic plan with November usage, and its billing run waiting for approval. */
  async function draftInvoice(customerName: string): Promise<{ invoiceId: string; workflowId: string }> {
    const prisma = testPrisma();
    catalog ??= await createBillingCatalog(prisma, organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
    const customer = await prisma.customer.create({ data: { organizationId, externalId: `web-${randomUUID().slice(0, 8)}`, name: customerName } });
    const subscription = await prisma.subscription.create({
      data: { organizationId, customerId: customer.id, planId: catalog.basicPlanId, startDate: new Date(november.periodStart), billingAnchorDay: 1 },
    });
    await insertUsage(prisma, organizationId, customer.externalId, [
      { at: '2024-11-03T10:00:00Z', quantity: '500' },
      { at: '2024-11-10T08:00:00Z', quantity: '700' },
    ]);
    const input: BillingRunInput = { organizationId, subscriptionId: subscription.id, ...november, lateEventGraceSeconds: 0 };
    const workflowId = billingRunWorkflowId(subscription.id, november.periodStart);
    // Started as the subscription workflow starts it: with the organization's search attributes.
    await startBillingRunWorkflow(worker.client, input, { taskQueue: worker.taskQueue });
    const handle = worker.client.workflow.getHandle(workflowId);
    const state = await waitFor('the draft invoice', async () => {
      const s = await handle.query(billingRunStateQuery);
      return s.status === 'awaiting_approval' ? s : undefined;
    });
    return { invoiceId: state.invoiceId!, workflowId };
  }

  const signIn = (role: keyof typeof PASSWORDS): Promise<Page> => signInAs(browser, baseUrl, { email: users[role], password: PASSWORDS[role] }, '/invoices');

  beforeAll(async () => {
    const stripePort = await fake.start();
    worker = await startTestWorker('web', { stripe: createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${stripePort}` }) });
    ({ organizationId } = await createTestOrganization('web'));
    const prisma = testPrisma();
    for (const role of ['finance', 'viewer', 'ops'] as const) {
      const user = await createUser(prisma, { organizationId, email: `${role}-${organizationId.slice(0, 8)}@web.test`, role, password: PASSWORDS[role] }, { type: 'system', id: 'test' });
      users[role] = user.email;
    }
    drafts.push(await draftInvoice('Approve Me Ltd'), await draftInvoice('Viewer Target Ltd'));
    // The web app starts reconciliations on the test worker's task queue.
    web = await startWebServer({ TEMPORAL_UI_URL: TEMPORAL_UI, TEMPORAL_TASK_QUEUE: worker.taskQueue });
    baseUrl = web.baseUrl;
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    // End the second run (the viewer could not decide it) so no run waits on the shared server.
    const second = drafts[1];
    if (second) {
      await worker.client.workflow
        .getHandle(second.workflowId)
        .terminate('test over')
        .catch(() => undefined);
    }
    await worker?.close();
    await fake.stop();
  });

  it('finance signs in, approves a draft, sees the run move on to paid, and the audit history names them', async () => {
    const [first] = drafts;
    const page = await signIn('finance');
    const session = (await page.context().cookies()).find((c) => c.name === 'lf_session');
    // Plain http here, so not Secure; over https the cookie is marked Secure (auth.server.test.ts).
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false });
    await screenshot(page, 'invoices');
    await page.getByRole('link', { name: 'Approve Me Ltd' }).click();
    await page.waitForURL(`**/invoices/${first!.invoiceId}`);
    expect(await page.getByTestId('invoice-status').textContent()).toBe('draft');
    await screenshot(page, 'invoice-draft');

    await page.getByLabel('Note (optional)').fill('checked in the browser');
    await page.getByRole('button', { name: 'Approve' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/^Done: the billing run is now finalizing/);
    // The page polls while the run works: finalized, then paid, without a reload.
    await page.getByTestId('invoice-status').filter({ hasText: /^paid$/ }).waitFor({ timeout: 60_000 });
    const paidInvoice = await testPrisma().invoice.findUniqueOrThrow({ where: { id: first!.invoiceId } });
    expect(paidInvoice.status).toBe('paid');
    // The fake's customers have a card on file: charged, with Stripe's page for the customer's records.
    await expect(page.getByTestId('invoice-collection').textContent()).resolves.toBe("Charged to the customer's card · Stripe invoice page");
    expect(await page.getByRole('link', { name: 'Stripe invoice page' }).getAttribute('href')).toBe(`https://invoice.stripe.test/i/${paidInvoice.stripeInvoiceId}`);

    const approval = page.getByRole('row').filter({ hasText: 'invoice.approved' });
    await expect(approval.getByRole('cell').nth(2).textContent()).resolves.toBe(`user: ${users.finance}`);
    await expect(approval.textContent()).resolves.toContain('checked in the browser');
    await screenshot(page, 'invoice-paid');

    await page.getByRole('link', { name: 'API calls' }).first().click();
    await page.getByRole('heading', { name: 'Daily snapshots' }).waitFor();
    await expect(page.getByRole('heading', { name: /Events billed on this line \(2\)/ }).count()).resolves.toBe(1);
    await screenshot(page, 'invoice-line');

    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    // The other draft still waits.
    await expect(page.locator('.card', { hasText: 'Drafts awaiting approval' }).locator('strong').textContent()).resolves.toBe('1');
    await screenshot(page, 'overview');
  });

  it('shows a viewer no decision forms and refuses their forged approve with 403', async () => {
    const second = drafts[1]!;
    const page = await signIn('viewer');
    await page.goto(`/invoices/${second.invoiceId}`);
    expect(await page.getByTestId('invoice-status').textContent()).toBe('draft');
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Reject' }).count()).toBe(0);
    await screenshot(page, 'invoice-viewer');

    // A valid session and a valid CSRF token (from the sign-out form): only the role is wrong.
    const csrf = await page.locator('input[name="csrf"]').first().inputValue();
    const forged = await page.request.post(`/invoices/${second.invoiceId}`, { form: { csrf, intent: 'approve' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain('Your role (viewer) may not do this.');

    // Finance with a token that is not theirs is refused too (CSRF), before anything reaches the workflow.
    const finance = await signIn('finance');
    const wrongToken = await finance.request.post(`/invoices/${second.invoiceId}`, { form: { csrf, intent: 'approve' }, maxRedirects: 0 });
    expect(wrongToken.status()).toBe(403);

    expect((await testPrisma().invoice.findUniqueOrThrow({ where: { id: second.invoiceId } })).status).toBe('draft');
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'invoice', entityId: second.invoiceId } });
    expect(audit.map((a) => a.action)).toEqual(['invoice.drafted']);
  });

  it('filters the audit history by actor and exports the same rows as CSV', async () => {
    const [first] = drafts;
    const page = await signIn('viewer');
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit history' }).waitFor();
    // Unfiltered, the drafts' system entries show too.
    await expect(page.getByRole('row').filter({ hasText: 'invoice.drafted' }).count()).resolves.toBe(2);

    await page.getByLabel('Actor').fill(users.finance);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/actor=/);
    // The filtered page has rendered once the workflow's own entries are gone.
    await page.getByRole('row').filter({ hasText: 'invoice.drafted' }).first().waitFor({ state: 'detached' });
    const rows = page.getByRole('row').filter({ has: page.getByRole('cell') });
    await expect(rows.count()).resolves.toBe(1);
    await expect(rows.first().textContent()).resolves.toContain('invoice.approved');
    await expect(rows.first().getByRole('cell').nth(2).textContent()).resolves.toBe(`user: ${users.finance}`);
    await screenshot(page, 'audit');

    const href = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
    expect(href).toBe(`/audit.csv?actor=${encodeURIComponent(users.finance)}`);
    const csv = await page.request.get(href!);
    expect(csv.status()).toBe(200);
    expect(csv.headers()['content-type']).toBe('text/csv; charset=utf-8');
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,at,actor,action,entity_type,entity_id,run_id,before,after');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`,user: ${users.finance},invoice.approved,invoice,${first!.invoiceId},`);

    // A bad filter names its field instead of failing the page.
    await page.goto('/audit?from=yesterday');
    await expect(page.getByRole('alert').textContent()).resolves.toContain('From: "yesterday" is not a date');
    expect((await page.request.get('/audit.csv?from=yesterday')).status()).toBe(400);
  });

  it('lists leak findings with confidence reasons and recovered amounts; finance dismisses one with a reason, a viewer cannot', async () => {
    const prisma = testPrisma();
    const period = { periodStart: new Date('2024-10-01T00:00:00Z'), periodEnd: new Date('2024-11-01T00:00:00Z') };
    const run = await prisma.reconciliationRun.create({ data: { organizationId, ...period, workflowId: `reconcile:${organizationId}:web-${randomUUID()}`, status: 'completed' } });
    const finding = (kind: string, subject: string, leak: string, status: string, reasons: object[]) =>
      prisma.leakFinding.create({
        data: { organizationId, runId: run.id, customerExternalId: 'leaky-co', ...period, kind, subject, expectedAmount: leak, billedAmount: '0', leakAmount: leak, currency: 'usd', confidence: reasons.length ? '0.800' : '1.000', reasons, status },
      });
    await finding('renewal_drift', 'base_fee', '12.5', 'recovered', []);
    const open = await finding('unbilled_usage', 'api_calls', '40', 'open', [{ code: 'late_events', detail: '2 events arrived after the period closed', factor: '0.800' }]);
    const recoveryInvoiceId = drafts[1]!.invoiceId;
    await prisma.recoveryAction.create({ data: { findingId: open.id, kind: 'stripe_draft', idempotencyKey: `leak:${open.id}:stripe_draft`, status: 'done', responseSummary: { invoiceId: recoveryInvoiceId } } });

    const viewer = await signIn('viewer');
    await viewer.getByRole('link', { name: 'Leaks' }).click();
    await viewer.getByRole('heading', { name: 'Revenue leaks' }).waitFor();
    await expect(viewer.getByText('Recovered so far:').textContent()).resolves.toContain('12.50 USD');
    const card = viewer.getByTestId('finding').filter({ hasText: 'unbilled usage: leaky-co, api_calls' });
    await expect(card.textContent()).resolves.toContain('Confidence 80.0 %');
    await expect(card.textContent()).resolves.toContain('2 events arrived after the period closed (×0.800)');
    await expect(card.getByRole('listitem').filter({ hasText: 'recovery invoice: done' }).getByRole('link', { name: 'open the recovery invoice' }).getAttribute('href')).resolves.toBe(`/invoices/${recoveryInvoiceId}`);
    expect(await viewer.getByRole('button', { name: 'Dismiss' }).count()).toBe(0);
    const csrf = await viewer.locator('input[name="csrf"]').first().inputValue();
    const forged = await viewer.request.post('/leaks', { form: { csrf, finding: open.id, reason: 'not mine to dismiss' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect((await prisma.leakFinding.findUniqueOrThrow({ where: { id: open.id } })).status).toBe('open');

    const page = await signIn('finance');
    await page.goto(`/leaks?finding=${open.id}`);
    const mine = page.getByTestId('finding').filter({ hasText: 'api_calls' });
    await mine.getByLabel('Reason for dismissing').fill('usage was a free trial, agreed with sales');
    await screenshot(page, 'leaks');
    await mine.getByRole('button', { name: 'Dismiss' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/^Dismissed/);
    // The page revalidates after the action: the card then says dismissed.
    await mine.locator('.status').filter({ hasText: /^dismissed$/ }).waitFor();
    const audit = await prisma.auditLog.findMany({ where: { organizationId, entityType: 'leak_finding', entityId: open.id } });
    expect(audit.map((a) => [a.action, a.actorType, a.actorId, (a.after as { reason: string }).reason])).toEqual([
      ['leak.dismissed', 'user', users.finance, 'usage was a free trial, agreed with sales'],
    ]);
  });

  it('ops start a reconciliation of a month and watch it find a leak; finance has no such form and a forged one is refused', async () => {
    const prisma = testPrisma();
    // A September event rated with a vendor rate that had already ended: a stale-rating leak of 3.00 USD.
    const rate = (from: string, to: string | null, input: string, output: string) =>
      prisma.vendorRate.create({ data: { organizationId, vendor: 'openai', model: 'gpt-web', inputPerMillionTokens: input, outputPerMillionTokens: output, effectiveFrom: new Date(from), effectiveTo: to ? new Date(to) : null } });
    const old = await rate('2024-08-01T00:00:00Z', '2024-09-10T00:00:00Z', '3', '15');
    await rate('2024-09-10T00:00:00Z', null, '5', '25');
    const customer = await prisma.customer.create({ data: { organizationId, externalId: 'stale-web' } });
    const vendorUsage = [{ vendor: 'openai', model: 'gpt-web', input_tokens: 1_000_000, output_tokens: 100_000 }];
    const batch = await insertBatch(prisma, organizationId, [{ customerExternalId: 'stale-web', timestamp: '2024-09-20T10:00:00Z', eventType: 'llm_call', quantity: '1', vendorUsage }]);
    await prisma.usageEvent.updateMany({ where: { id: { in: batch.eventIds } }, data: { customerId: customer.id, status: 'rated', rateIds: [old.id], cost: '4.5', ratedAt: new Date() } });

    const finance = await signIn('finance');
    await finance.goto('/leaks');
    await finance.getByRole('heading', { name: 'Reconciliations' }).waitFor();
    expect(await finance.getByRole('button', { name: 'Run reconciliation' }).count()).toBe(0);
    const csrf = await finance.locator('input[name="csrf"]').first().inputValue();
    expect((await finance.request.post('/leaks', { form: { csrf, intent: 'reconcile', month: '2024-09' }, maxRedirects: 0 })).status()).toBe(403);
    expect(await prisma.reconciliationRun.count({ where: { organizationId, periodStart: new Date('2024-09-01T00:00:00Z') } })).toBe(0);

    const page = await signIn('ops');
    await page.goto('/leaks');
    await page.getByLabel('Reconcile month (UTC)').fill('2024-09');
    await page.getByRole('button', { name: 'Run reconciliation' }).click();
    const workflowId = `reconcile:${organizationId}:2024-09-01`;
    await expect(page.getByRole('status').textContent()).resolves.toBe(`Reconciling 2024-09: ${workflowId}. Findings appear below as it runs.`);
    expect(await page.getByRole('link', { name: `Open ${workflowId} in the Temporal UI` }).getAttribute('href')).toBe(`${TEMPORAL_UI}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
    // The page polls: the run completes and its finding shows without a reload.
    const row = page.getByTestId('reconciliation-run').filter({ hasText: '2024-09-01 – 2024-10-01' });
    await row.getByRole('cell', { name: 'completed', exact: true }).waitFor({ timeout: 30_000 });
    await expect(row.getByRole('cell').nth(2).textContent()).resolves.toBe('1');
    const card = page.getByTestId('finding').filter({ hasText: 'stale rating: stale-web, vendor_cost' });
    await card.waitFor();
    await expect(card.locator('dd').nth(2).textContent()).resolves.toBe('3.00 USD');
    await screenshot(page, 'leaks-reconciliation-started');

    // A month that has not started is refused with its field named.
    await page.getByLabel('Reconcile month (UTC)').fill('2999-01');
    await page.getByRole('button', { name: 'Run reconciliation' }).click();
    await page.getByRole('alert').filter({ hasText: 'Month: that month has not started yet.' }).waitFor();
  });

  it('shows margin alerts and the notifications sent about them', async () => {
    const prisma = testPrisma();
    const customer = await prisma.customer.create({ data: { organizationId, externalId: `thin-${randomUUID().slice(0, 8)}`, name: 'Thin Margins Inc' } });
    const periodStart = new Date('2024-11-01T00:00:00Z');
    await prisma.marginAlert.create({ data: { organizationId, scope: 'customer', scopeKey: customer.id, currency: 'usd', periodStart, level: 'below_threshold', marginBps: 1234, lastNotifiedBps: 1234, revision: 1 } });
    await prisma.marginAlert.create({
      data: { organizationId, scope: 'feature', scopeKey: 'search', currency: 'usd', periodStart, level: 'negative', marginBps: -250, status: 'resolved', resolvedAt: new Date('2024-11-20T08:00:00Z'), revision: 2 },
    });
    await prisma.notification.create({
      data: { organizationId, kind: 'margin.below_threshold', dedupeKey: `margin-web-${customer.id}`, payload: { scope: 'customer', customerExternalId: customer.externalId, marginBps: 1234, currency: 'usd' } },
    });

    const page = await signIn('viewer');
    await page.getByRole('link', { name: 'Alerts' }).click();
    await page.getByRole('heading', { name: 'Margin alerts' }).waitFor();
    const rows = page.getByTestId('margin-alert');
    await expect(rows.filter({ hasText: 'customer Thin Margins Inc' }).textContent()).resolves.toMatch(/2024-11.*below threshold.*12\.34 %.*open/);
    await expect(rows.filter({ hasText: 'feature search' }).textContent()).resolves.toMatch(/negative.*-2\.50 %.*resolved 2024-11-20 08:00/);
    const sent = page.getByRole('row').filter({ hasText: 'margin.below_threshold' });
    await expect(sent.textContent()).resolves.toContain(`customer ${customer.externalId}, margin 12.34 %`);
    await expect(sent.textContent()).resolves.toContain('waiting (retried until delivered)');
    await screenshot(page, 'alerts');
  });

  it('lists customers with usage and margin, and charts a customer\'s daily usage next to their invoices and audit history', async () => {
    const [first] = drafts;
    const invoice = await testPrisma().invoice.findUniqueOrThrow({ where: { id: first!.invoiceId }, include: { customer: true } });
    const page = await signIn('viewer');
    await page.getByRole('link', { name: 'Customers' }).click();
    await page.getByRole('heading', { name: 'Customers' }).waitFor();
    await page.getByLabel('Name or external id').fill('Approve Me');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=Approve/);
    const row = page.getByTestId('customer-row');
    await row.first().filter({ hasText: 'Approve Me Ltd' }).waitFor();
    await expect(row.count()).resolves.toBe(1);
    await screenshot(page, 'customers');

    await row.getByRole('link', { name: 'Approve Me Ltd' }).click();
    await page.getByRole('heading', { name: 'Approve Me Ltd' }).waitFor();
    // The chart draws one line per meter with usage: November's snapshots, 500 on the 3rd and 700 on the 10th.
    await page.getByTestId('usage-chart').locator('svg .recharts-line').first().waitFor();
    await expect(page.getByTestId('usage-chart').locator('svg .recharts-line').count()).resolves.toBe(1);
    await page.getByText('The numbers as a table').click();
    await expect(page.getByRole('row', { name: /2024-11-03/ }).textContent()).resolves.toContain('500');
    await expect(page.getByRole('row', { name: /2024-11-10/ }).textContent()).resolves.toContain('700');
    await expect(page.getByRole('link', { name: '2024-11-01 – 2024-12-01' }).getAttribute('href')).resolves.toBe(`/invoices/${invoice.id}`);
    await expect(page.getByRole('row').filter({ hasText: 'invoice.approved' }).count()).resolves.toBe(1);
    await screenshot(page, 'customer');
  });

  it('shows events per minute, the backlog, processing batches with their workflows, a request lookup and this month\'s margin on the overview', async () => {
    const prisma = testPrisma();
    // The drafts' usage came in processing batches during this test run; one more, failed, with 40 events
    // from one request, whose workflow the lookup must lead to.
    const failedId = randomUUID();
    const requestId = randomUUID();
    await prisma.processingBatch.create({
      data: { id: failedId, organizationId, status: 'failed', requests: 1, events: 40, requestIds: [requestId], oldestAcceptedAt: new Date(), workflowId: `ingest:${failedId}` },
    });
    await prisma.ingestBatch.create({ data: { id: requestId, organizationId, received: 41, accepted: 40, duplicates: 0, rejected: 1, processingBatchId: failedId } });
    const hourAgo = new Date(Date.now() - 3_600_000);
    const batches = await prisma.processingBatch.findMany({ where: { organizationId, createdAt: { gte: hourAgo } } });
    const batched = batches.reduce((sum, b) => sum + b.events, 0);
    const unrated = await prisma.processingBatch.aggregate({ where: { organizationId, status: { in: ['accepted', 'workflow_started'] } }, _sum: { events: true } });
    // Rated usage this month: 2.50 of revenue against 0.75 of vendor cost.
    const now = new Date();
    const customer = await prisma.customer.create({ data: { organizationId, externalId: `margin-${randomUUID().slice(0, 8)}` } });
    const batch = await prisma.ingestBatch.create({ data: { organizationId, received: 1, accepted: 1, duplicates: 0, rejected: 0, createdAt: new Date(now.getTime() - 3 * 3_600_000) } });
    await prisma.usageEvent.create({
      data: { organizationId, batchId: batch.id, idempotencyKey: `margin-${randomUUID()}`, customerExternalId: customer.externalId, customerId: customer.id, eventType: 'llm', quantity: '1', timestamp: now, currency: 'usd', revenueAmount: '2.5', revenue: '2.5', cost: '0.75', status: 'rated', ratedAt: now },
    });

    const page = await signIn('viewer');
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Ingest' }).waitFor();
    await expect(page.getByTestId('events-summary').textContent()).resolves.toMatch(new RegExp(`^${batched.toLocaleString('en-US')} events batched for rating in the last hour`));
    await page.getByTestId('events-chart').locator('svg .recharts-bar-rectangle').first().waitFor();
    // The drafts' batches were claimed but never run here, and the margin event's request (1 event) still waits for a batch.
    const pending = (unrated._sum.events ?? 0) + 1;
    await expect(page.getByTestId('ingest-backlog').textContent()).resolves.toMatch(new RegExp(`^${pending.toLocaleString('en-US')} accepted events? not rated yet; the oldest has waited \\d+ s\\.$`));
    await expect(page.getByRole('table', { name: 'Processing batches of the last 24 hours by status' }).getByRole('row', { name: /failed/ }).textContent()).resolves.toMatch(/failed\s*1$/);
    const newest = page.getByRole('table', { name: /Newest processing batches/ });
    await expect(newest.getByRole('link', { name: `Open ingest:${failedId} in the Temporal UI` }).getAttribute('href')).resolves.toBe(
      `${TEMPORAL_UI}/namespaces/${encodeURIComponent(process.env.TEMPORAL_NAMESPACE!)}/workflows/${encodeURIComponent(`ingest:${failedId}`)}`,
    );
    await expect(page.getByTestId('period-margin').textContent()).resolves.toMatch(/Revenue 2\.50 USD\s*Cost 0\.75 USD\s*Margin 1\.75 USD\s*70\.00 % of revenue$/);

    // From a request's batch_id to the workflow that processed it.
    await page.getByLabel('Find a request by its batch_id').fill(requestId);
    await page.getByRole('button', { name: 'Find' }).click();
    const lookup = page.getByTestId('request-lookup');
    await lookup.waitFor();
    await expect(lookup.textContent()).resolves.toContain(`Request ${requestId}: 0 of 40 accepted events rated, in processing batch ${failedId} (failed, 40 events from 1 request)`);
    await expect(lookup.getByRole('link', { name: `Open ingest:${failedId} in the Temporal UI` }).count()).resolves.toBe(1);
    await screenshot(page, 'overview-ingest');
  });

  it('links each billing run to its workflow in the Temporal UI', async () => {
    const page = await signIn('viewer');
    await page.getByRole('link', { name: 'Billing runs' }).click();
    await page.getByRole('heading', { name: 'Billing runs' }).waitFor();
    for (const { workflowId } of drafts) {
      const link = page.getByRole('link', { name: `Open ${workflowId} in the Temporal UI` });
      expect(await link.getAttribute('href')).toBe(`${TEMPORAL_UI}/namespaces/${encodeURIComponent(process.env.TEMPORAL_NAMESPACE!)}/workflows/${encodeURIComponent(workflowId)}`);
    }
    await screenshot(page, 'runs');
    await page.goto('/login');
    // Signed in already: the sign-in page sends them on.
    await page.waitForURL(`${baseUrl}/`);
    const anonymous = await browser.newPage({ baseURL: baseUrl });
    await anonymous.goto('/login');
    await screenshot(anonymous, 'login');
    await anonymous.close();
  });

  it('finance rejects a draft, re-drafts it as revision 2 and approves that; a second rejected draft is written off with a reason', async () => {
    const redraft = await draftInvoice('Redraft Ltd');
    const page = await signIn('finance');
    await page.goto(`/invoices/${redraft.invoiceId}`);
    await page.getByRole('button', { name: 'Reject' }).waitFor();
    await page.locator('#reject-reason').fill('wrong usage window');
    await page.getByRole('button', { name: 'Reject' }).click();
    await page.getByTestId('invoice-status').filter({ hasText: /^rejected$/ }).waitFor();
    await page.getByText('Rejected: wrong usage window').waitFor();
    await screenshot(page, 'invoice-rejected');

    await page.locator('#redraft-reason').fill('usage checked');
    await page.getByRole('button', { name: 'Re-draft' }).click();
    // The new revision's page: a draft again, linking back to the rejected revision.
    await page.waitForURL((url) => url.pathname.startsWith('/invoices/') && !url.pathname.endsWith(redraft.invoiceId));
    // (the URL changes before the new page renders)
    await page.getByTestId('invoice-status').filter({ hasText: /^draft$/ }).waitFor();
    await expect(page.getByText(/^Revision 2 of this period/).textContent()).resolves.toContain('1 (rejected)');
    const revisions = await testPrisma().invoice.findMany({ where: { workflowId: redraft.workflowId }, orderBy: { revision: 'asc' } });
    expect(revisions.map((r) => [r.revision, r.status])).toEqual([
      [1, 'rejected'],
      [2, 'draft'],
    ]);
    expect(page.url()).toContain(revisions[1]!.id);
    await screenshot(page, 'invoice-redrafted');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByTestId('invoice-status').filter({ hasText: /^paid$/ }).waitFor({ timeout: 60_000 });
    // The rejected revision offers nothing more.
    await page.goto(`/invoices/${redraft.invoiceId}`);
    expect(await page.getByRole('button', { name: 'Re-draft' }).count()).toBe(0);

    const writeOff = await draftInvoice('Write Off Ltd');
    await page.goto(`/invoices/${writeOff.invoiceId}`);
    await page.locator('#reject-reason').fill('disputed');
    await page.getByRole('button', { name: 'Reject' }).click();
    await page.locator('#write-off-reason').waitFor();
    await page.locator('#write-off-reason').fill('goodwill after the outage');
    await page.getByRole('button', { name: 'Write off' }).click();
    await page.getByTestId('invoice-status').filter({ hasText: /^written_off$/ }).waitFor();
    await page.getByText(`Written off by ${users.finance}: goodwill after the outage`).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'invoice.written_off' });
    await expect(row.getByRole('cell').nth(2).textContent()).resolves.toBe(`user: ${users.finance}`);
    await screenshot(page, 'invoice-written-off');
  });

  it('finance credits part of the paid invoice from its page: the note is issued in Stripe, numbered and listed', async () => {
    const [first] = drafts;
    const paid = await testPrisma().invoice.findUniqueOrThrow({ where: { id: first!.invoiceId } });
    expect(paid.status).toBe('paid');
    const page = await signIn('finance');
    await page.goto(`/invoices/${first!.invoiceId}`);
    await page.getByRole('heading', { name: 'Credit note' }).waitFor();
    await page.getByLabel('Amount (empty: everything left)').fill('5.00');
    await page.getByLabel('Reason').fill('late delivery');
    await page.getByRole('button', { name: 'Issue credit note' }).click();
    await page.getByRole('status').filter({ hasText: /^Credit note INV-CN-\d{6} issued for / }).waitFor({ timeout: 30_000 });
    const row = page.getByTestId('credit-note');
    // (the notice shows before the page's data is read again)
    await row.first().waitFor();
    await expect(row.count()).resolves.toBe(1);
    await expect(row.getByRole('cell').nth(1).textContent()).resolves.toBe('issued');
    await expect(row.getByRole('cell').nth(3).textContent()).resolves.toBe('late delivery');
    await expect(row.getByRole('cell').nth(4).textContent()).resolves.toBe(users.finance);

    const [note] = await testPrisma().creditNote.findMany({ where: { invoiceId: first!.invoiceId } });
    expect(note).toMatchObject({ status: 'issued', requestedBy: users.finance, reason: 'late delivery' });
    expect(note!.amount.toString()).toBe('5');
    // Stripe has the same note, against the same invoice, in minor units.
    expect(fake.creditNotes.filter((n) => n.invoice === paid.stripeInvoiceId).map((n) => n.amount)).toEqual([500]);
    await screenshot(page, 'invoice-credit-note');

    // More than is left is refused with the reason; nothing new reaches Stripe.
    await page.reload();
    await page.getByLabel('Amount (empty: everything left)').fill('100000');
    await page.getByLabel('Reason').fill('too much');
    await page.getByRole('button', { name: 'Issue credit note' }).click();
    await page.getByRole('alert').filter({ hasText: /amount/ }).waitFor();
    expect(fake.creditNotes.filter((n) => n.invoice === paid.stripeInvoiceId)).toHaveLength(1);

    // Credited in full (no amount: everything left), the period is re-issued as a corrected invoice.
    expect(await page.getByRole('button', { name: 'Re-issue' }).count()).toBe(0);
    await page.reload();
    await page.getByLabel('Reason').fill('billed on the wrong plan');
    await page.getByRole('button', { name: 'Issue credit note' }).click();
    await page.getByRole('status').filter({ hasText: /^Credit note INV-CN-\d{6} issued for / }).waitFor({ timeout: 30_000 });
    await page.locator('#redraft-reason').fill('plan corrected');
    await page.getByRole('button', { name: 'Re-issue' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/invoices/') && !url.pathname.endsWith(first!.invoiceId));
    await page.getByTestId('invoice-status').filter({ hasText: /^draft$/ }).waitFor();
    await expect(page.getByText(/^Revision 2 of this period/).textContent()).resolves.toContain('1 (paid)');
    const revisions = await testPrisma().invoice.findMany({ where: { subscriptionId: paid.subscriptionId }, orderBy: { revision: 'asc' } });
    expect(revisions.map((r) => [r.revision, r.status, r.supersededById])).toEqual([
      [1, 'paid', revisions[1]!.id],
      [2, 'draft', null],
    ]);
    await screenshot(page, 'invoice-reissued');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByTestId('invoice-status').filter({ hasText: /^paid$/ }).waitFor({ timeout: 60_000 });
  });
});

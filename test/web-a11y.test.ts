import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { closePeriod, type ClosedPeriod } from '../activities/billing/close-period';
import { createUser } from '../prisma/users';
import { emitWebhookEvents } from '../prisma/webhook-events';
import { createWebhookEndpoint } from '../services/webhook-endpoints';
import { ensureWallet, insertGrant } from '../prisma/credit-ledger';
import { dec } from '../billing/decimal';
import { createBillingCatalog, insertUsage } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma, testPool } from './harness/fixtures';
import { describeWithChromium, launchChromium, signIn, startWebServer, type WebServer } from './harness/web-app';

/**
 * Accessibility of every main page, checked by axe-core (WCAG 2.0/2.1 A and
 * AA rules) in Chromium at phone width, plus: no page scrolls sideways, and
 * Tab from the top reaches the skip link first, then the main navigation.
 * The organization holds data, so tables, charts, cards and forms render:
 * a customer with this month's usage, its draft invoice with lines, a
 * reconciliation with a finding, a margin alert and its notification.
 */
const AXE = fs.readFileSync(path.join(__dirname, '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const PAGES = ['/', '/customers', '/invoices', '/runs', '/leaks', '/alerts', '/audit', '/settings', '/settings/alerts', '/settings/quotas', '/settings/rates', '/settings/burn-rates', '/settings/unpriced', '/settings/catalog', '/settings/plans', '/settings/webhooks', '/settings/ai-proxy', '/settings/api-keys', '/settings/users'];

/** This month's usage closed into a draft invoice (snapshots, lines), a finding, a margin alert: the pages' populated states. Returns the detail pages to check too. */
async function populate(organizationId: string): Promise<string[]> {
  const prisma = testPrisma();
  const now = new Date();
  const periodStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const periodEnd = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: periodStart, anchorDay: 1 });
  await prisma.customer.update({ where: { id: catalog.customerId }, data: { name: 'Populated Co' } });
  await insertUsage(prisma, organizationId, catalog.customerExternalId, [
    { at: periodStart.toISOString(), quantity: '120' },
    { at: new Date(periodStart.getTime() + 86_400_000).toISOString(), quantity: '80' },
  ]);
  const close = closePeriod({ prisma, pool: testPool(), taskQueue: 'unused', notifier: { send: async () => undefined } });
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: `billing-run:${catalog.subscriptionId}:a11y`, runId: randomUUID() } });
  const { invoiceId } = (await env.run(close, { organizationId, subscriptionId: catalog.subscriptionId, periodStart: periodStart.toISOString(), periodEnd: periodEnd.toISOString() })) as ClosedPeriod;
  const usageLine = await prisma.invoiceLine.findFirstOrThrow({ where: { invoiceId, kind: 'usage' } });
  // Next month's invoice, paid in Stripe and partly credited: its page shows the credit note form and the notes.
  const nextEnd = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 1));
  const paid = (await new MockActivityEnvironment({ workflowExecution: { workflowId: `billing-run:${catalog.subscriptionId}:a11y-paid`, runId: randomUUID() } }).run(close, {
    organizationId, subscriptionId: catalog.subscriptionId, periodStart: periodEnd.toISOString(), periodEnd: nextEnd.toISOString(),
  })) as ClosedPeriod;
  await prisma.invoice.update({ where: { id: paid.invoiceId }, data: { status: 'paid', stripeInvoiceId: `in_a11y_${randomUUID().slice(0, 8)}`, number: `A11Y-${randomUUID().slice(0, 8)}` } });
  await prisma.creditNote.create({
    data: { id: randomUUID(), organizationId, invoiceId: paid.invoiceId, requestKey: `a11y-${randomUUID()}`, number: `A11Y-CN-${randomUUID().slice(0, 8)}`, amount: '1', currency: 'usd', reason: 'goodwill', status: 'issued', requestedBy: 'finance@a11y.test' },
  });

  const run = await prisma.reconciliationRun.create({ data: { organizationId, periodStart, periodEnd, workflowId: `reconcile:${organizationId}:a11y`, status: 'completed', findingsCount: 1, completedAt: now } });
  await prisma.leakFinding.create({
    data: {
      organizationId, runId: run.id, customerId: catalog.customerId, customerExternalId: catalog.customerExternalId, periodStart, periodEnd, kind: 'missed_overage', subject: 'api_calls',
      expectedAmount: '22', billedAmount: '10', leakAmount: '12', currency: 'usd', confidence: '0.800',
      reasons: [{ code: 'no_stripe_mapping', detail: 'the customer has no Stripe customer id', factor: '0.800' }],
    },
  });
  await prisma.quotaLimit.createMany({
    data: [
      { organizationId, eventType: 'api_call', customerExternalId: null, limitValue: '10000', mode: 'SOFT', resetWindow: 'month' },
      { organizationId, eventType: 'api_call', customerExternalId: catalog.customerExternalId, limitValue: '0', mode: 'DISABLED' },
    ],
  });
  await prisma.vendorRate.createMany({
    data: [
      { organizationId, vendor: 'openai', model: 'gpt-4o', inputPerMillionTokens: '2.50', outputPerMillionTokens: '10', effectiveFrom: new Date(now.getTime() - 30 * 86_400_000) },
      { organizationId, vendor: 'openai', model: 'gpt-4o', inputPerMillionTokens: '2', outputPerMillionTokens: '8', effectiveFrom: new Date(now.getTime() - 86_400_000) },
    ],
  });
  await prisma.planFeature.createMany({
    data: [
      { organizationId, planId: catalog.basicPlanId, feature: 'seats', kind: 'limit', limitValue: '5' },
      { organizationId, planId: catalog.proPlanId, feature: 'sso', kind: 'boolean', enabled: true },
    ],
  });
  // An event rating left a line unpriced (no rate of its model): the unpriced-events page shows its tables.
  const [unpriced] = await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: new Date(now.getTime() - 3_600_000).toISOString(), quantity: '1' }]);
  await prisma.usageEvent.update({ where: { id: unpriced! }, data: { status: 'rated', cost: '0', unpricedUsage: [{ vendor: 'openai', model: 'o-unrated', input_tokens: 5 }] } });
  const quota = await prisma.quotaLimit.findFirstOrThrow({ where: { organizationId, customerExternalId: null } });
  await prisma.marginAlert.create({ data: { organizationId, scope: 'customer', scopeKey: catalog.customerId, currency: 'usd', periodStart, level: 'below_threshold', marginBps: 1234, lastNotifiedBps: 1234, revision: 1 } });
  await prisma.notification.create({ data: { organizationId, kind: 'margin.below_threshold', dedupeKey: `a11y-${randomUUID()}`, payload: { scope: 'customer', customerExternalId: catalog.customerExternalId, marginBps: 1234, currency: 'usd' } } });
  // A webhook endpoint with a failed delivery: the webhooks page's tables, a delivery's attempts and the removal question.
  const endpoint = await createWebhookEndpoint(prisma, organizationId, { url: 'https://erp.example.com/hooks/ledgerflow', description: 'ERP', event_types: ['invoice.paid'], enabled: true }, { type: 'system', id: 'a11y' });
  await prisma.$transaction((tx) => emitWebhookEvents(tx, organizationId, [{ type: 'invoice.paid', key: `invoice.paid:a11y-${randomUUID()}`, payload: { invoice_id: paid.invoiceId } }]));
  const delivery = await prisma.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } });
  // Started, so the page's own dispatcher-less stack leaves it alone; one failed attempt, then given up.
  await prisma.webhookDelivery.update({ where: { id: delivery.id }, data: { workflowStarted: true, status: 'failed', attempts: 1, lastStatusCode: 500 } });
  await prisma.webhookDeliveryAttempt.create({ data: { deliveryId: delivery.id, round: 1, attempt: 1, attemptedAt: now, durationMs: 42, statusCode: 500, succeeded: false } });
  // Prepaid credits: a grant, so the wallet page's tables and chart show.
  await prisma.$transaction(async (tx) => {
    const walletId = await ensureWallet(tx, organizationId, catalog.customerId);
    await insertGrant(tx, { organizationId, walletId, kind: 'purchased', credits: dec(500), priority: 100, expiresAt: null, pricePerCredit: dec('0.01'), currency: 'usd', description: null, idempotencyKey: randomUUID(), createdBy: 'a11y' });
  });
  return [`/customers/${catalog.customerId}/wallet`, `/settings/webhooks?delivery=${delivery.id}`, `/settings/webhooks?remove=${endpoint.id}`, `/settings/quotas?edit=${quota.id}`, `/settings/quotas?remove=${quota.id}`, `/customers/${catalog.customerId}`, `/invoices/${invoiceId}`, `/invoices/${invoiceId}/lines/${usageLine.id}`, `/invoices/${paid.invoiceId}`];
}

// The page functions below run in Chromium; this project's types have no DOM, so declare what they touch.
declare const window: { innerWidth: number; axe: { run(context: unknown, options: object): Promise<{ violations: Violation[] }> } };
declare const document: {
  documentElement: { scrollWidth: number };
  activeElement: { textContent: string | null; closest(selector: string): { getAttribute(name: string): string | null } | null } | null;
};

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

async function axeViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describeWithChromium('web-a11y')('accessibility of the web app', () => {
  let web: WebServer;
  let browser: Browser;
  const admin = { email: '', password: 'admin-password-1' };
  const detailPages: string[] = [];

  beforeAll(async () => {
    const { organizationId } = await createTestOrganization('web-a11y');
    admin.email = (await createUser(testPrisma(), { organizationId, email: `admin-${organizationId.slice(0, 8)}@a11y.test`, role: 'admin', password: admin.password }, { type: 'system', id: 'test' })).email;
    detailPages.push(...(await populate(organizationId)));
    web = await startWebServer();
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
  });

  it('finds no WCAG A/AA violations on the sign-in page', async () => {
    const page = await browser.newPage({ baseURL: web.baseUrl, viewport: { width: 390, height: 844 } });
    await page.goto('/login');
    expect(await axeViolations(page)).toEqual([]);
    await page.close();
  });

  it('finds no WCAG A/AA violations and no sideways scrolling on the signed-in pages at phone width', async () => {
    const page = await signIn(browser, web.baseUrl, admin, '/');
    const problems: Record<string, string[]> = {};
    for (const url of [...PAGES, ...detailPages]) {
      await page.goto(url);
      await page.getByRole('heading', { level: 1 }).first().waitFor();
      // The populated states are what is checked: a page that rendered its empty state (or a 404) would pass too easily.
      if (['/customers', '/invoices', '/alerts', ...detailPages].includes(url) && (await page.locator('table tbody tr').count()) === 0) problems[url] = ['rendered no table rows'];
      if (url === '/leaks' && (await page.getByTestId('finding').count()) === 0) problems[url] = ['rendered no finding'];
      // populate's last page is the paid invoice: its credit note form and notes are checked too.
      if (url === detailPages.at(-1) && (await page.getByRole('button', { name: 'Issue credit note' }).count()) === 0) problems[url] = ['rendered no credit note form'];
      const found = await axeViolations(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) found.push(`the page is ${overflow} px wider than the 390 px screen`);
      if (found.length > 0) problems[url] = [...(problems[url] ?? []), ...found];
    }
    expect(problems).toEqual({});
  });

  it('lets keyboard users skip to the content first, then reach the main navigation', async () => {
    const page = await signIn(browser, web.baseUrl, admin, '/');
    // A fresh document load, so focus starts at the top of the page.
    await page.goto('/');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Skip to content');
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.closest('nav')?.getAttribute('aria-label'))).resolves.toBe('Main');
  });
});

import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { createStripeClient } from '../activities/stripe/client';
import { dec } from '../billing/decimal';
import { insertGrant, ensureWallet } from '../prisma/credit-ledger';
import { createUser } from '../prisma/users';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { insertBatch, startBatchWorkflow } from './harness/insert-batch';
import { StripeFake } from './harness/stripe-fake';
import { describeWithChromium, launchChromium, screenshot, signIn, startWebServer, type WebServer } from './harness/web-app';

/**
 * Issue 15, point 9, in the web app: a customer's prepaid credits page shows
 * the balance by grant, the balance over time, the ledger (filtered, and as
 * CSV), and lets finance grant credits, buy them through Stripe and set the
 * wallet's alert and automatic top-up, through the same services as the API.
 * Chromium against the web server, the real worker (a stateful Stripe fake
 * behind it), Temporal and PostgreSQL.
 */
const PASSWORD = 'finance-password-1';

describeWithChromium('web-wallet')('the prepaid credits page in Chromium', () => {
  const fake = new StripeFake();
  let worker: TestWorker;
  let web: WebServer | undefined;
  let browser: Browser;
  let organizationId: string;
  let customerId: string;
  let email: string;

  beforeAll(async () => {
    const port = await fake.start();
    worker = await startTestWorker('web-wallet', { stripe: createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${port}` }) });
    ({ organizationId } = await createTestOrganization('web-wallet'));
    const meter = await testPrisma().meter.create({ data: { organizationId, key: 'tokens', name: 'Tokens', eventType: 'llm_call', aggregation: 'sum' } });
    await testPrisma().creditBurnRate.create({ data: { id: randomUUID(), organizationId, meterId: meter.id, credits: '1', perUnits: '1000', effectiveFrom: new Date('2024-01-01T00:00:00Z'), createdBy: 'test' } });
    const customer = await testPrisma().customer.create({ data: { organizationId, externalId: 'wallet-acme', name: 'Acme', email: 'billing@acme.test' } });
    customerId = customer.id;
    await testPrisma().$transaction(async (tx) => {
      const walletId = await ensureWallet(tx, organizationId, customerId);
      await insertGrant(tx, { organizationId, walletId, kind: 'purchased', credits: dec(100), priority: 100, expiresAt: null, pricePerCredit: dec('0.02'), currency: 'usd', description: null, idempotencyKey: randomUUID(), createdBy: 'test' });
    });
    // 30,000 tokens: 30 credits burned by the real ingest workflow.
    const batch = await insertBatch(testPrisma(), organizationId, [{ customerExternalId: 'wallet-acme', timestamp: new Date().toISOString(), quantity: '30000', eventType: 'llm_call' }]);
    await worker.client.workflow.getHandle(await startBatchWorkflow(testPrisma(), worker.client, batch, worker.taskQueue)).result();
    email = `finance-${organizationId.slice(0, 8)}@wallet.test`;
    await createUser(testPrisma(), { organizationId, email, role: 'finance', password: PASSWORD }, { type: 'system', id: 'test' });
    web = await startWebServer({ TEMPORAL_TASK_QUEUE: worker.taskQueue });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    await worker?.close();
    await fake.stop();
  });

  async function walletPage(query = ''): Promise<Page> {
    const page = await signIn(browser, web!.baseUrl, { email, password: PASSWORD }, `/customers/${customerId}/wallet${query}`);
    await page.getByRole('heading', { name: 'Prepaid credits: Acme' }).waitFor();
    return page;
  }

  it('shows the balance by grant, the balance over time and the ledger, filtered and as CSV', async () => {
    const page = await walletPage();
    await expect(page.getByTestId('wallet-balance').textContent()).resolves.toBe('70');
    const grants = page.getByRole('table', { name: 'Grants' });
    await expect(grants.getByRole('row').nth(1).textContent()).resolves.toContain('purchased10070');
    await page.getByTestId('usage-chart').waitFor();
    // Today's closing balance is the last row of the chart's table.
    await page.getByText('The numbers as a table').click();
    const today = new Date().toISOString().slice(0, 10);
    await expect(page.getByRole('figure').getByRole('row', { name: new RegExp(`^${today}`) }).textContent()).resolves.toBe(`${today}70`);
    const ledger = page.getByRole('table', { name: 'Ledger' });
    await expect(ledger.getByRole('row').count()).resolves.toBe(3);

    await page.getByLabel('Step').selectOption('burn');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/kind=burn/);
    const burns = page.getByRole('table', { name: 'Ledger' }).getByRole('row');
    // (the filtered page replaces the table once its data is in)
    await waitFor('only the burn to be listed', async () => ((await burns.count()) === 2 ? true : undefined));
    await expect(burns.nth(1).textContent()).resolves.toMatch(/burn.*grantusage30$/);
    await screenshot(page, 'customer-wallet');

    const csv = await page.request.get(`${web!.baseUrl}/customers/${customerId}/wallet.csv?kind=burn`);
    expect(csv.status()).toBe(200);
    expect(csv.headers()['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers()['ledgerflow-export-rows']).toBe('1');
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,created_at,kind,key,event_id,grant_id,debit,credit,amount');
    expect(lines[1]).toMatch(/,burn,batch:[0-9a-f-]+:[0-9a-f-]+,,[0-9a-f-]+,grant,usage,30$/);
    await page.close();
  });

  it('grants credits, refuses a bad amount naming the field, and sets the alert and automatic top-up', async () => {
    const page = await walletPage();
    const grant = page.getByRole('region', { name: 'Grant credits' });
    await grant.getByLabel('Credits').fill('-1');
    await grant.getByRole('button', { name: 'Grant' }).click();
    await grant.getByRole('alert').filter({ hasText: /^Credits: / }).waitFor();
    await expect(grant.getByLabel('Credits').getAttribute('aria-invalid')).resolves.toBe('true');

    await grant.getByLabel('Credits').fill('50');
    await grant.getByLabel('Kind').selectOption('promotional');
    await grant.getByRole('button', { name: 'Grant' }).click();
    await grant.getByRole('status').filter({ hasText: 'Granted 50 credits to wallet-acme.' }).waitFor();
    await page.getByTestId('wallet-balance').filter({ hasText: /^120$/ }).waitFor();
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, action: 'credits.granted', actorType: 'user' } });
    expect(audit.actorId).toBe(email);

    // A failed automatic top-up paused them: the page says why, and saving the settings resumes them.
    await testPrisma().creditWallet.update({ where: { customerId }, data: { autoTopUpPausedAt: new Date(), autoTopUpPausedReason: 'the card was declined (insufficient_funds)' } });
    await page.reload();
    await page.getByText(/Paused since .*: the card was declined \(insufficient_funds\)/).waitFor();
    const settings = page.getByRole('region', { name: 'Alerts and automatic top-up' });
    await settings.getByLabel('Alert at or below', { exact: false }).fill('20');
    await settings.getByLabel('Top up below', { exact: false }).fill('10');
    await settings.getByLabel('Credits to buy').fill('200');
    await settings.getByLabel('Price per credit').fill('0.01');
    await settings.getByRole('button', { name: 'Save' }).click();
    await settings.getByRole('status').filter({ hasText: 'Wallet settings saved.' }).waitFor();
    await page.getByText('200 credits at 0.01 USD each when the balance falls below 10').waitFor();
    await page.getByText('at or below 20').waitFor();
    await page.getByText(/Paused since/).waitFor({ state: 'detached' });
    expect((await testPrisma().creditWallet.findUniqueOrThrow({ where: { customerId } })).autoTopUpPausedAt).toBeNull();
    await page.close();
  });

  it('buys credits through Stripe: the top-up is listed, and paid, its credits granted', async () => {
    const page = await walletPage();
    const topUp = page.getByRole('region', { name: 'Buy credits (top-up)' });
    await topUp.getByLabel('Credits').fill('10');
    await topUp.getByLabel('Price per credit').fill('0.5');
    await topUp.getByRole('button', { name: 'Charge and top up' }).click();
    await topUp.getByRole('status').filter({ hasText: /^Top-up of 10 credits for 5 USD requested/ }).waitFor();
    const row = await waitFor('the top-up to be paid', async () => {
      const t = await testPrisma().creditTopUp.findFirst({ where: { organizationId } });
      return t?.status === 'paid' ? t : undefined;
    });
    expect(fake.charges.filter((c) => c.invoice === row.stripeInvoiceId)).toEqual([{ invoice: row.stripeInvoiceId, amount: 500, currency: 'usd', outcome: 'succeeded' }]);
    await page.reload();
    await page.getByRole('list', { name: 'Top-ups' }).getByText(/10 credits for 5 USD, paid$/).waitFor();
    await page.getByTestId('wallet-balance').filter({ hasText: /^130$/ }).waitFor();
    await page.close();
  });

  it('puts a customer in the team pool on its page: its wallet page is the pool\'s, and the pool lists its members', async () => {
    const member = await testPrisma().customer.create({ data: { organizationId, externalId: 'wallet-acme-dev', name: 'Acme Dev Team' } });
    const page = await signIn(browser, web!.baseUrl, { email, password: PASSWORD }, `/customers/${member.id}`);
    await page.getByText('Edit billing details').click();
    await page.getByLabel('Draws credits from (team pool)').fill('nobody-here');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').getByText(/parent_external_id: no customer nobody-here/).waitFor();
    expect(await page.getByLabel('Draws credits from (team pool)').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Draws credits from (team pool)').fill('wallet-acme');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved wallet-acme-dev.').waitFor();
    await page.getByTestId('customer-pool').getByText('wallet-acme').waitFor();

    await page.goto(`${web!.baseUrl}/customers/${member.id}/wallet`);
    await page.getByTestId('wallet-pool').filter({ hasText: 'Acme Dev Team draws on the team pool of wallet-acme' }).waitFor();
    await page.getByTestId('wallet-balance').filter({ hasText: /^130$/ }).waitFor();
    await page.goto(`${web!.baseUrl}/customers/${customerId}/wallet`);
    await page.getByTestId('wallet-pool').filter({ hasText: 'Shared as a team pool with 1 customer: wallet-acme-dev.' }).waitFor();
    expect((await testPrisma().customer.findUniqueOrThrow({ where: { id: member.id } })).parentCustomerId).toBe(customerId);
    await page.close();
  });
});

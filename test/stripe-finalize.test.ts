import { ApplicationFailure } from '@temporalio/common';
import { finalizeInvoiceInStripe, NUMBER_FIELD, RESET_DETECTED_ACTION } from '../activities/stripe/finalize-invoice';
import { createPaymentSetupSession } from '../activities/stripe/payment-setup';
import { createLogNotifier } from '../activities/notifier';
import { closeTestPrisma, createTestOrganization, testPrisma, testPool } from './harness/fixtures';
import { recordingStripeClient, startStripeMock, type RecordedStripeRequest, type StripeMockHandle } from './harness/stripe-mock';
import { insertInvoice, runInWorkflow } from './harness/stripe-invoices';

// finalizeInvoiceInStripe against stripe-mock, which validates every request
// against Stripe's OpenAPI spec. stripe-mock keeps no state, so which calls
// were made is read from the SDK's recorded HTTP requests.

let mock: StripeMockHandle;
let requests: RecordedStripeRequest[];
let finalize: ReturnType<typeof finalizeInvoiceInStripe>;
let paymentSetup: ReturnType<typeof createPaymentSetupSession>;
let organizationId: string;

beforeAll(async () => {
  mock = await startStripeMock((line) => process.stderr.write(`[stripe-mock] ${line}\n`));
  const client = recordingStripeClient(mock.port);
  requests = client.requests;
  const deps = { prisma: testPrisma(), pool: testPool(), taskQueue: 'unused', notifier: createLogNotifier(), stripe: client.stripe };
  finalize = finalizeInvoiceInStripe(deps);
  paymentSetup = createPaymentSetupSession(deps);
  ({ organizationId } = await createTestOrganization('stripe-finalize'));
}, 600_000); // a clean machine builds stripe-mock first

afterAll(async () => {
  await mock?.stop();
  await closeTestPrisma();
});

/** The requests made while `action` ran. */
async function callsDuring(action: () => Promise<unknown>): Promise<RecordedStripeRequest[]> {
  const from = requests.length;
  await action();
  return requests.slice(from);
}

const audit = (invoiceId: string, action: string) =>
  testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'invoice', entityId: invoiceId, action }, orderBy: { id: 'asc' } });

describe('finalizeInvoiceInStripe', () => {
  it('creates the customer, makes its saved card the invoice default, one item per line in integer minor units, finalizes, and records it', async () => {
    const inv = await insertInvoice(organizationId, { currency: 'usd', lines: ['30.00', '-10.00', '20.00'] });
    let result: Awaited<ReturnType<typeof finalize>> | undefined;
    const calls = await callsDuring(async () => {
      result = await runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, finalize, { organizationId, invoiceId: inv.invoiceId });
    });

    expect(calls.map((c) => `${c.method} ${c.path.replace(/\/in_\w+\//, '/:id/').replace(/\/cus_\w+/, '/:customer')}`)).toEqual([
      'POST /v1/customers',
      // stripe-mock's customer has a saved payment method but no invoice default: it becomes the default, and the invoice is charged
      'GET /v1/customers/:customer',
      'GET /v1/customers/:customer/payment_methods',
      'POST /v1/customers/:customer',
      'POST /v1/invoices',
      'POST /v1/invoiceitems',
      'POST /v1/invoiceitems',
      'POST /v1/invoiceitems',
      'POST /v1/invoices/:id/finalize',
    ]);
    expect(calls[3]!.form.get('invoice_settings[default_payment_method]')).toMatch(/^(pm|card)_\w+$/);
    expect(calls.map((c) => c.idempotencyKey)).toEqual([
      `ledgerflow-customer-${inv.customerId}`,
      null,
      null,
      `ledgerflow-default-pm-${inv.customerId}-${calls[3]!.form.get('invoice_settings[default_payment_method]')}`,
      `ledgerflow-invoice-${inv.invoiceId}`,
      ...inv.lineIds.map((id) => `ledgerflow-line-${id}`),
      `ledgerflow-finalize-${inv.invoiceId}`,
    ]);
    const items = calls.filter((c) => c.path === '/v1/invoiceitems');
    expect(items.map((c) => c.form.get('amount'))).toEqual(['3000', '-1000', '2000']);
    expect(items.map((c) => c.form.get('metadata[ledgerflow_line_id]'))).toEqual(inv.lineIds);
    const created = calls[4]!.form;
    const { number } = await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId } });
    expect(number).toMatch(/^INV-\d{6}$/);
    expect(
      Object.fromEntries(
        [
          'collection_method',
          'currency',
          'auto_advance',
          'pending_invoice_items_behavior',
          'metadata[ledgerflow_invoice_id]',
          'metadata[ledgerflow_organization_id]',
          'metadata[ledgerflow_workflow_id]',
          'metadata[ledgerflow_invoice_number]',
          'custom_fields[0][name]',
          'custom_fields[0][value]',
          'number',
        ].map((k) => [k, created.get(k)]),
      ),
    ).toEqual({
      collection_method: 'charge_automatically',
      currency: 'usd',
      auto_advance: 'false',
      pending_invoice_items_behavior: 'exclude',
      'metadata[ledgerflow_invoice_id]': inv.invoiceId,
      'metadata[ledgerflow_organization_id]': organizationId,
      'metadata[ledgerflow_workflow_id]': inv.workflowId,
      // The worker's Stripe account may be shared by organizations: our number is a custom field, not Stripe's number.
      'metadata[ledgerflow_invoice_number]': number,
      'custom_fields[0][name]': NUMBER_FIELD,
      'custom_fields[0][value]': number,
      number: null,
    });

    expect(result).toEqual({ stripeInvoiceId: expect.stringMatching(/^in_/), amountDueMinor: 4000, collection: { method: 'charge_automatically', dueAt: null } });
    const stored = await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId }, include: { customer: true } });
    expect(stored).toMatchObject({ status: 'finalized', stripeInvoiceId: result!.stripeInvoiceId, finalizedAt: expect.any(Date), collectionMethod: 'charge_automatically', dueAt: null });
    expect(stored.customer.stripeCustomerId).toMatch(/^cus_/);
    const rows = await audit(inv.invoiceId, 'invoice.finalized');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actorType: 'workflow', actorId: inv.workflowId, runId: inv.runId, before: { status: 'approved' }, after: { status: 'finalized', stripeInvoiceId: result!.stripeInvoiceId, amountDueMinor: 4000 } });
    expect(await audit(inv.invoiceId, RESET_DETECTED_ACTION)).toHaveLength(0);
  });

  it('called again — a retry, or a run reset in the Temporal UI — makes no Stripe call and records the reset once', async () => {
    const inv = await insertInvoice(organizationId, { currency: 'usd', lines: ['12.50'] });
    const input = { organizationId, invoiceId: inv.invoiceId };
    const first = await runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, finalize, input);
    const before = await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId } });

    const retried = await callsDuring(() => runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, finalize, input));
    const afterReset = await callsDuring(async () => {
      expect(await runInWorkflow({ workflowId: inv.workflowId, runId: 'run-after-reset' }, finalize, input)).toEqual(first);
      expect(await runInWorkflow({ workflowId: inv.workflowId, runId: 'run-after-reset' }, finalize, input)).toEqual(first);
    });

    expect(retried).toEqual([]);
    expect(afterReset).toEqual([]);
    expect(await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId } })).toEqual(before);
    expect(await audit(inv.invoiceId, 'invoice.finalized')).toHaveLength(1);
    const resets = await audit(inv.invoiceId, RESET_DETECTED_ACTION);
    expect(resets).toHaveLength(1);
    expect(resets[0]).toMatchObject({ runId: 'run-after-reset', after: { workflowId: inv.workflowId, fromRunId: inv.runId, toRunId: 'run-after-reset' } });
  });

  it('reuses the stored Stripe customer, and bills a zero-decimal currency (JPY) in whole yen', async () => {
    const usd = await insertInvoice(organizationId, { currency: 'usd', lines: ['5.00'] });
    await runInWorkflow({ workflowId: usd.workflowId, runId: usd.runId }, finalize, { organizationId, invoiceId: usd.invoiceId });
    const jpy = await insertInvoice(organizationId, { currency: 'jpy', lines: ['1500', '-500'], customerId: usd.customerId });

    let result: Awaited<ReturnType<typeof finalize>> | undefined;
    const calls = await callsDuring(async () => {
      result = await runInWorkflow({ workflowId: jpy.workflowId, runId: jpy.runId }, finalize, { organizationId, invoiceId: jpy.invoiceId });
    });

    expect(calls.some((c) => c.path === '/v1/customers')).toBe(false);
    const { stripeCustomerId } = await testPrisma().customer.findUniqueOrThrow({ where: { id: usd.customerId } });
    expect(calls.find((c) => c.path === '/v1/invoices')?.form.get('customer')).toBe(stripeCustomerId);
    expect(calls.filter((c) => c.path === '/v1/invoiceitems').map((c) => [c.form.get('amount'), c.form.get('currency')])).toEqual([
      ['1500', 'jpy'],
      ['-500', 'jpy'],
    ]);
    expect(result?.amountDueMinor).toBe(1000);
  });

  // https://docs.stripe.com/currencies, "Special cases": ISK and UGX are billed in whole units but Stripe's
  // amount stays two-decimal (a multiple of 100); HUF and TWD are zero-decimal at Stripe for payouts only.
  it.each([
    ['isk', ['1500', '-200'], ['150000', '-20000'], 130000],
    ['ugx', ['37000', '500'], ['3700000', '50000'], 3750000],
    ['huf', ['10.45', '2.00'], ['1045', '200'], 1245],
    ['twd', ['800.45', '-0.45'], ['80045', '-45'], 80000],
  ])('sends %s lines as Stripe expects them', async (currency, lines, sent, total) => {
    const inv = await insertInvoice(organizationId, { currency, lines });
    let result: Awaited<ReturnType<typeof finalize>> | undefined;
    const calls = await callsDuring(async () => {
      result = await runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, finalize, { organizationId, invoiceId: inv.invoiceId });
    });
    expect(calls.filter((c) => c.path === '/v1/invoiceitems').map((c) => [c.form.get('amount'), c.form.get('currency')])).toEqual(sent.map((a) => [a, currency]));
    expect(result?.amountDueMinor).toBe(total);
  });

  it('resumes with the Stripe invoice stored by an earlier attempt instead of creating another', async () => {
    const inv = await insertInvoice(organizationId, { currency: 'usd', lines: ['8.00'] });
    // An earlier attempt created the Stripe invoice and stored its id, then failed.
    await testPrisma().invoice.update({ where: { id: inv.invoiceId }, data: { stripeInvoiceId: 'in_storedbyearlierattempt' } });

    const calls = await callsDuring(() => runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, finalize, { organizationId, invoiceId: inv.invoiceId }));

    expect(calls.some((c) => c.method === 'POST' && c.path === '/v1/invoices')).toBe(false);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(
      expect.arrayContaining(['GET /v1/invoices/in_storedbyearlierattempt', 'POST /v1/invoices/in_storedbyearlierattempt/finalize']),
    );
    const stored = await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId } });
    expect(stored).toMatchObject({ status: 'finalized', stripeInvoiceId: 'in_storedbyearlierattempt', number: expect.stringMatching(/^INV-/) });
    // The draft Stripe holds (stripe-mock's, without our number) is given it before it is finalized.
    const paths = calls.map((c) => `${c.method} ${c.path}`);
    const update = calls.find((c) => c.method === 'POST' && c.path === '/v1/invoices/in_storedbyearlierattempt');
    expect(update?.form.get('custom_fields[0][value]')).toBe(stored.number);
    expect(paths.indexOf('POST /v1/invoices/in_storedbyearlierattempt')).toBeLessThan(paths.indexOf('POST /v1/invoices/in_storedbyearlierattempt/finalize'));
  });

  it("numbers the Stripe invoice itself in the organization's own Stripe account, with the number it keeps when retried", async () => {
    const own = await createTestOrganization('stripe-finalize-own');
    await testPrisma().organization.update({ where: { id: own.organizationId }, data: { invoiceNumberPrefix: 'OWN' } });
    const client = recordingStripeClient(mock.port);
    const deps = { prisma: testPrisma(), pool: testPool(), taskQueue: 'unused', notifier: createLogNotifier(), stripeAccounts: { clientFor: async () => client.stripe } };
    const inv = await insertInvoice(own.organizationId, { currency: 'usd', lines: ['9.00'] });
    await runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, finalizeInvoiceInStripe(deps), { organizationId: own.organizationId, invoiceId: inv.invoiceId });

    const created = client.requests.find((c) => c.method === 'POST' && c.path === '/v1/invoices')!.form;
    expect(created.get('number')).toBe('OWN-000001');
    expect(created.get('custom_fields[0][name]')).toBeNull();
    expect(created.get('metadata[ledgerflow_invoice_number]')).toBe('OWN-000001');
    expect(await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId } })).toMatchObject({ status: 'finalized', number: 'OWN-000001' });
  });

  it('takes the number before Stripe finalizes, and keeps it when Stripe fails so the retry finalizes under it', async () => {
    const inv = await insertInvoice(organizationId, { currency: 'usd', lines: ['7.00'] });
    let failFinalize = true;
    const flaky = recordingStripeClient(mock.port, (req) => failFinalize && req.path.endsWith('/finalize'));
    const withFlaky = finalizeInvoiceInStripe({ prisma: testPrisma(), pool: testPool(), taskQueue: 'unused', notifier: createLogNotifier(), stripe: flaky.stripe });
    await expect(runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, withFlaky, { organizationId, invoiceId: inv.invoiceId })).rejects.toThrow();
    const afterFailure = await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId } });
    expect(afterFailure).toMatchObject({ status: 'approved', number: expect.stringMatching(/^INV-/) });

    failFinalize = false;
    await runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, withFlaky, { organizationId, invoiceId: inv.invoiceId });
    expect(await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId } })).toMatchObject({ status: 'finalized', number: afterFailure.number });
    const created = flaky.requests.find((c) => c.method === 'POST' && c.path === '/v1/invoices')!.form;
    expect(created.get('custom_fields[0][value]')).toBe(afterFailure.number);
  });

  it.each(['draft', 'rejected'] as const)('refuses a %s invoice without calling Stripe', async (status) => {
    const inv = await insertInvoice(organizationId, { currency: 'usd', lines: ['10.00'], status });
    const calls = await callsDuring(async () => {
      await expect(runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, finalize, { organizationId, invoiceId: inv.invoiceId })).rejects.toMatchObject({
        type: 'InvoiceNotApproved',
        nonRetryable: true,
      });
    });
    expect(calls).toEqual([]);
    expect(await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId } })).toMatchObject({ status, stripeInvoiceId: null });
  });

  it('refuses a zero-total invoice: it never reaches Stripe', async () => {
    const inv = await insertInvoice(organizationId, { currency: 'usd', lines: ['10.00', '-10.00'] });
    const calls = await callsDuring(async () => {
      const failure = runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, finalize, { organizationId, invoiceId: inv.invoiceId });
      await expect(failure).rejects.toBeInstanceOf(ApplicationFailure);
      await expect(failure).rejects.toMatchObject({ type: 'ZeroInvoice', nonRetryable: true });
    });
    expect(calls).toEqual([]);
  });

  it("treats another organization's invoice id as not found", async () => {
    const inv = await insertInvoice(organizationId, { currency: 'usd', lines: ['10.00'] });
    const other = await createTestOrganization('stripe-finalize-other');
    const calls = await callsDuring(async () => {
      await expect(
        runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, finalize, { organizationId: other.organizationId, invoiceId: inv.invoiceId }),
      ).rejects.toMatchObject({ type: 'InvoiceNotFound', nonRetryable: true });
    });
    expect(calls).toEqual([]);
    expect(await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId } })).toMatchObject({ status: 'approved', stripeInvoiceId: null });
  });

  it('fails for good when the worker has no Stripe client', async () => {
    const inv = await insertInvoice(organizationId, { currency: 'usd', lines: ['10.00'] });
    const withoutStripe = finalizeInvoiceInStripe({ prisma: testPrisma(), pool: testPool(), taskQueue: 'unused', notifier: createLogNotifier() });
    await expect(runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, withoutStripe, { organizationId, invoiceId: inv.invoiceId })).rejects.toMatchObject({
      type: 'StripeNotConfigured',
      nonRetryable: true,
    });
  });
  it('sends the invoice with a due date when the organization collects by invoice: Stripe accepts every request', async () => {
    const { organizationId: sender } = await createTestOrganization('stripe-finalize-send');
    await testPrisma().organization.update({ where: { id: sender }, data: { invoiceCollection: 'send_invoice', invoiceDueDays: 14 } });
    const inv = await insertInvoice(sender, { currency: 'eur', lines: ['19.99'] });
    const before = Date.now();
    let result: Awaited<ReturnType<typeof finalize>> | undefined;
    const calls = await callsDuring(async () => {
      result = await runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, finalize, { organizationId: sender, invoiceId: inv.invoiceId });
    });

    // No card is looked for: every invoice of this organization is sent. The Stripe customer gets the billing email
    // Stripe sends it to before the invoice is made (stripe-mock's customer has none); the due date is set just
    // before it is finalized.
    expect(calls.map((c) => `${c.method} ${c.path.replace(/\/in_\w+/, '/:id').replace(/\/cus_\w+/, '/:customer')}`)).toEqual([
      'POST /v1/customers',
      'GET /v1/customers/:customer',
      'POST /v1/customers/:customer',
      'POST /v1/invoices',
      'POST /v1/invoiceitems',
      'POST /v1/invoices/:id',
      'POST /v1/invoices/:id/finalize',
      'POST /v1/invoices/:id/send',
    ]);
    expect(calls[2]!.form.get('email')).toBe('billing@acme.test');
    const created = calls[3]!.form;
    expect([created.get('collection_method'), created.get('days_until_due')]).toEqual(['send_invoice', '14']);
    const dueSent = Number(calls[5]!.form.get('due_date')) * 1000;
    expect(dueSent).toBeGreaterThanOrEqual(before - 1000 + 14 * 86_400_000);
    expect(dueSent).toBeLessThanOrEqual(Date.now() + 14 * 86_400_000);
    expect(calls[7]!.idempotencyKey).toBe(`ledgerflow-send-${inv.invoiceId}`);
    // The due date kept is the one Stripe finalized the invoice with; stripe-mock answers every invoice with its
    // fixture's 1234567890 (test/billing-send-invoice.test.ts checks the value on the fake, which keeps what it is sent).
    const stored = await testPrisma().invoice.findUniqueOrThrow({ where: { id: inv.invoiceId } });
    expect(stored).toMatchObject({ status: 'finalized', collectionMethod: 'send_invoice', dueAt: new Date(1234567890 * 1000) });
    expect(result).toMatchObject({ collection: { method: 'send_invoice', dueAt: stored.dueAt!.toISOString() } });
    // (stripe-mock's invoices have no hosted page; test/billing-send-invoice.test.ts keeps the fake's)
    const [row] = await testPrisma().auditLog.findMany({ where: { organizationId: sender, entityId: inv.invoiceId, action: 'invoice.finalized' } });
    expect(row!.after).toMatchObject({ collectionMethod: 'send_invoice', dueAt: stored.dueAt!.toISOString() });
  });
});

describe('createPaymentSetupSession', () => {
  it('opens a Checkout session in setup mode that Stripe accepts, for a customer made in Stripe first', async () => {
    const prisma = testPrisma();
    const customer = await prisma.customer.create({ data: { organizationId, externalId: `setup-${Date.now()}`, name: 'Card Co', email: 'ap@card.test' } });
    let session: Awaited<ReturnType<typeof paymentSetup>> | undefined;
    const calls = await callsDuring(async () => {
      session = await runInWorkflow({ workflowId: `payment-setup:${customer.id}:r1`, runId: 'run-1' }, paymentSetup, {
        organizationId,
        customerId: customer.id,
        successUrl: 'https://shop.example.test/billing',
        cancelUrl: null,
        currency: 'usd',
        actor: { type: 'user', id: 'finance@example.test' },
        requestId: 'r1',
      });
    });
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /v1/customers', 'POST /v1/checkout/sessions']);
    const form = calls[1]!.form;
    expect([form.get('mode'), form.get('currency'), form.get('success_url'), form.get('cancel_url'), form.get('metadata[ledgerflow_customer_id]')]).toEqual([
      'setup',
      'usd',
      'https://shop.example.test/billing',
      null,
      customer.id,
    ]);
    expect(calls[1]!.idempotencyKey).toBe('ledgerflow-payment-setup-r1');
    const stored = await prisma.customer.findUniqueOrThrow({ where: { id: customer.id } });
    expect(session).toEqual({ sessionId: expect.stringMatching(/^cs_/), url: expect.stringMatching(/^https:\/\//), expiresAt: expect.any(String), stripeCustomerId: stored.stripeCustomerId });
  });
});

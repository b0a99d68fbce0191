import Stripe from 'stripe';
import { collectPayment } from '../activities/stripe/collect-payment';
import { finalizeInvoiceInStripe } from '../activities/stripe/finalize-invoice';
import { markInvoicePaid } from '../activities/stripe/mark-paid';
import { markInvoiceUncollectible } from '../activities/stripe/mark-uncollectible';
import { createLogNotifier } from '../activities/notifier';
import type { ActivityDeps } from '../activities/deps';
import { closeTestPrisma, createTestOrganization, testPrisma, testPool } from './harness/fixtures';
import { recordingStripeClient } from './harness/stripe-mock';
import { StripeFake } from './harness/stripe-fake';
import { insertInvoice, runInWorkflow, type TestInvoice } from './harness/stripe-invoices';

// Collection against the stateful Stripe fake: a card that is declined and
// then goes through, a 500 in the middle, a write-off, and payments reported
// by webhook. Our database is the real one.

const fake = new StripeFake();
let stripe: Stripe;
let deps: ActivityDeps;
let organizationId: string;

beforeAll(async () => {
  const port = await fake.start();
  stripe = recordingStripeClient(port).stripe;
  deps = { prisma: testPrisma(), pool: testPool(), taskQueue: 'unused', notifier: createLogNotifier(), stripe };
  ({ organizationId } = await createTestOrganization('stripe-collect'));
});

afterAll(async () => {
  await fake.stop();
  await closeTestPrisma();
});

/** An approved invoice of 40.00 USD, finalized in the fake. */
async function finalizedInvoice(): Promise<TestInvoice & { stripeInvoiceId: string }> {
  const inv = await insertInvoice(organizationId, { currency: 'usd', lines: ['30.00', '-10.00', '20.00'] });
  const { stripeInvoiceId } = await run(inv, finalizeInvoiceInStripe(deps), { organizationId, invoiceId: inv.invoiceId });
  return { ...inv, stripeInvoiceId };
}

function run<A extends unknown[], R>(inv: TestInvoice, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return runInWorkflow({ workflowId: inv.workflowId, runId: inv.runId }, fn, ...args);
}

const invoiceRow = (invoiceId: string) => testPrisma().invoice.findUniqueOrThrow({ where: { id: invoiceId } });
const auditActions = async (invoiceId: string) =>
  (await testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'invoice', entityId: invoiceId }, orderBy: { id: 'asc' } })).map((row) => row.action);
const chargesOf = (stripeInvoiceId: string) => fake.charges.filter((c) => c.invoice === stripeInvoiceId);
const payRequests = (stripeInvoiceId: string) => fake.requestsTo('POST', new RegExp(`^/v1/invoices/${stripeInvoiceId}/pay$`));

describe('finalizeInvoiceInStripe after a failure', () => {
  it('fails for good when Stripe refuses an item; a reset run reuses the Stripe invoice and adds only the missing items', async () => {
    const inv = await insertInvoice(organizationId, { currency: 'usd', lines: ['30.00', '-10.00', '20.00'] });
    const finalize = finalizeInvoiceInStripe(deps);
    const input = { organizationId, invoiceId: inv.invoiceId };
    fake.refuseOnce('POST', /^\/v1\/invoiceitems$/, 2);

    await expect(run(inv, finalize, input)).rejects.toMatchObject({ type: 'StripeInvalidRequestError', nonRetryable: true });
    const stored = await invoiceRow(inv.invoiceId);
    expect(stored).toMatchObject({ status: 'approved', stripeInvoiceId: expect.stringMatching(/^in_/) });

    const resumed = await runInWorkflow({ workflowId: inv.workflowId, runId: 'run-after-reset' }, finalize, input);

    expect(resumed).toEqual({ stripeInvoiceId: stored.stripeInvoiceId, amountDueMinor: 4000, collection: { method: 'charge_automatically', dueAt: null } });
    const created = fake.requestsTo('POST', /^\/v1\/invoices$/).filter((r) => (r.body.metadata as Record<string, string>).ledgerflow_invoice_id === inv.invoiceId);
    expect(created.map((r) => r.status)).toEqual([200]);
    const items = fake.requestsTo('POST', /^\/v1\/invoiceitems$/).filter((r) => r.body.invoice === stored.stripeInvoiceId);
    expect(items.map((r) => [(r.body.metadata as Record<string, string>).ledgerflow_line_id, r.status])).toEqual([
      [inv.lineIds[0], 200],
      [inv.lineIds[1], 400],
      [inv.lineIds[1], 200],
      [inv.lineIds[2], 200],
    ]);
    const inStripe = await stripe.invoices.retrieve(stored.stripeInvoiceId!);
    expect([inStripe.status, inStripe.amount_due, inStripe.lines.data.length]).toEqual(['open', 4000, 3]);
    expect(await auditActions(inv.invoiceId)).toEqual(['billing_run.reset_detected', 'invoice.finalized']);
  });
});

describe('collectPayment', () => {
  it('returns two declines as business outcomes, then collects on attempt 3 with exactly one successful charge', async () => {
    const inv = await finalizedInvoice();
    const collect = collectPayment(deps);
    const input = (attempt: number) => ({ organizationId, invoiceId: inv.invoiceId, attempt });
    fake.declineCharges(2);

    expect(await run(inv, collect, input(1))).toEqual({ outcome: 'declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' });
    expect(await invoiceRow(inv.invoiceId)).toMatchObject({ status: 'finalized', paymentAttempts: 1, paidAt: null });
    expect(await run(inv, collect, input(2))).toMatchObject({ outcome: 'declined', declineCode: 'insufficient_funds' });
    expect(await run(inv, collect, input(3))).toEqual({ outcome: 'paid' });

    expect(await invoiceRow(inv.invoiceId)).toMatchObject({ status: 'paid', paymentAttempts: 3, paidAt: expect.any(Date) });
    expect(chargesOf(inv.stripeInvoiceId).map((c) => [c.outcome, c.amount])).toEqual([
      ['declined', 4000],
      ['declined', 4000],
      ['succeeded', 4000],
    ]);
    expect(payRequests(inv.stripeInvoiceId).map((r) => r.idempotencyKey)).toEqual([1, 2, 3].map((n) => `ledgerflow-pay-${inv.invoiceId}-${n}`));
    expect(await auditActions(inv.invoiceId)).toEqual(['invoice.finalized', 'invoice.payment_failed', 'invoice.payment_failed', 'invoice.paid']);
    const failed = await testPrisma().auditLog.findFirstOrThrow({ where: { entityId: inv.invoiceId, action: 'invoice.payment_failed' }, orderBy: { id: 'asc' } });
    expect(failed.after).toMatchObject({ paymentAttempts: 1, declineCode: 'insufficient_funds' });

    // Paid is final: a repeated attempt does not reach Stripe.
    const requestsBefore = fake.requests.length;
    expect(await run(inv, collect, input(3))).toEqual({ outcome: 'paid' });
    expect(fake.requests.length).toBe(requestsBefore);
  });

  it('replays a declined attempt from its idempotency key: no second charge, no second audit row', async () => {
    const inv = await finalizedInvoice();
    const collect = collectPayment(deps);
    fake.declineCharges(1);
    const first = await run(inv, collect, { organizationId, invoiceId: inv.invoiceId, attempt: 1 });
    const again = await run(inv, collect, { organizationId, invoiceId: inv.invoiceId, attempt: 1 });

    expect(again).toEqual(first);
    expect(first.outcome).toBe('declined');
    expect(chargesOf(inv.stripeInvoiceId)).toHaveLength(1);
    expect(await auditActions(inv.invoiceId)).toEqual(['invoice.finalized', 'invoice.payment_failed']);
    expect(await invoiceRow(inv.invoiceId)).toMatchObject({ status: 'finalized', paymentAttempts: 1 });
  });

  it('throws a Stripe 500 plainly (Temporal retries it); the retry with the same key collects once', async () => {
    const inv = await finalizedInvoice();
    const collect = collectPayment(deps);
    const input = { organizationId, invoiceId: inv.invoiceId, attempt: 1 };
    fake.failOnce('POST', /\/pay$/);

    const failure = await run(inv, collect, input).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(failure).not.toHaveProperty('nonRetryable', true);
    expect(await invoiceRow(inv.invoiceId)).toMatchObject({ status: 'finalized', paymentAttempts: 0 });
    expect(chargesOf(inv.stripeInvoiceId)).toEqual([]);

    expect(await run(inv, collect, input)).toEqual({ outcome: 'paid' });
    expect(payRequests(inv.stripeInvoiceId).map((r) => [r.status, r.idempotencyKey])).toEqual([
      [500, `ledgerflow-pay-${inv.invoiceId}-1`],
      [200, `ledgerflow-pay-${inv.invoiceId}-1`],
    ]);
    expect(chargesOf(inv.stripeInvoiceId).map((c) => c.outcome)).toEqual(['succeeded']);
  });

  it('treats an invoice Stripe already reports paid as paid, without a second charge', async () => {
    const inv = await finalizedInvoice();
    // Paid outside this activity (e.g. an attempt whose response never arrived).
    await stripe.invoices.pay(inv.stripeInvoiceId);

    expect(await run(inv, collectPayment(deps), { organizationId, invoiceId: inv.invoiceId, attempt: 1 })).toEqual({ outcome: 'paid' });
    expect(await invoiceRow(inv.invoiceId)).toMatchObject({ status: 'paid', paymentAttempts: 1 });
    expect(chargesOf(inv.stripeInvoiceId).map((c) => c.outcome)).toEqual(['succeeded']);
  });

  it('refuses an invoice that is not finalized, and another organization’s invoice', async () => {
    const approved = await insertInvoice(organizationId, { currency: 'usd', lines: ['10.00'] });
    await expect(run(approved, collectPayment(deps), { organizationId, invoiceId: approved.invoiceId, attempt: 1 })).rejects.toMatchObject({
      type: 'InvoiceNotFinalized',
      nonRetryable: true,
    });
    const inv = await finalizedInvoice();
    const other = await createTestOrganization('stripe-collect-other');
    await expect(run(inv, collectPayment(deps), { organizationId: other.organizationId, invoiceId: inv.invoiceId, attempt: 1 })).rejects.toMatchObject({
      type: 'InvoiceNotFound',
    });
    expect(payRequests(inv.stripeInvoiceId)).toEqual([]);
  });
});

describe('markInvoiceUncollectible', () => {
  it('writes the invoice off in Stripe and here after the last decline, once', async () => {
    const inv = await finalizedInvoice();
    const collect = collectPayment(deps);
    fake.declineCharges(4);
    for (const attempt of [1, 2, 3, 4]) {
      expect(await run(inv, collect, { organizationId, invoiceId: inv.invoiceId, attempt })).toMatchObject({ outcome: 'declined' });
    }
    const writeOff = markInvoiceUncollectible(deps);

    expect(await run(inv, writeOff, { organizationId, invoiceId: inv.invoiceId })).toEqual({ status: 'uncollectible' });
    const requestsBefore = fake.requests.length;
    expect(await run(inv, writeOff, { organizationId, invoiceId: inv.invoiceId })).toEqual({ status: 'uncollectible' });

    expect(fake.requests.length).toBe(requestsBefore);
    expect(fake.requestsTo('POST', /\/mark_uncollectible$/).filter((r) => r.path.includes(inv.stripeInvoiceId)).map((r) => r.idempotencyKey)).toEqual([
      `ledgerflow-uncollectible-${inv.invoiceId}`,
    ]);
    expect((await stripe.invoices.retrieve(inv.stripeInvoiceId)).status).toBe('uncollectible');
    expect(await invoiceRow(inv.invoiceId)).toMatchObject({ status: 'uncollectible', uncollectibleAt: expect.any(Date), paymentAttempts: 4 });
    expect((await auditActions(inv.invoiceId)).filter((a) => a === 'invoice.uncollectible')).toHaveLength(1);
    expect(chargesOf(inv.stripeInvoiceId).every((c) => c.outcome === 'declined')).toBe(true);
  });

  it('records the payment instead when Stripe says the invoice was paid meanwhile', async () => {
    const inv = await finalizedInvoice();
    await stripe.invoices.pay(inv.stripeInvoiceId);

    expect(await run(inv, markInvoiceUncollectible(deps), { organizationId, invoiceId: inv.invoiceId })).toEqual({ status: 'paid' });
    expect(await invoiceRow(inv.invoiceId)).toMatchObject({ status: 'paid', uncollectibleAt: null });
    expect(await auditActions(inv.invoiceId)).toEqual(['invoice.finalized', 'invoice.paid']);
  });
});

describe('markInvoicePaid (webhook)', () => {
  it('records the payment once, without calling Stripe', async () => {
    const inv = await finalizedInvoice();
    const markPaid = markInvoicePaid(deps);
    const input = { organizationId, invoiceId: inv.invoiceId, source: 'webhook' as const, stripeEventId: 'evt_paid_1' };
    const requestsBefore = fake.requests.length;

    expect(await run(inv, markPaid, input)).toEqual({ recorded: true });
    expect(await run(inv, markPaid, { ...input, stripeEventId: 'evt_paid_redelivered' })).toEqual({ recorded: false });

    expect(fake.requests.length).toBe(requestsBefore);
    expect(await invoiceRow(inv.invoiceId)).toMatchObject({ status: 'paid', paidAt: expect.any(Date), paymentAttempts: 0 });
    const paid = await testPrisma().auditLog.findMany({ where: { entityId: inv.invoiceId, action: 'invoice.paid' } });
    expect(paid).toHaveLength(1);
    expect(paid[0]!.after).toMatchObject({ source: 'webhook', stripeEventId: 'evt_paid_1' });
    // The billing run's own collection then sees the payment and does not charge.
    expect(await run(inv, collectPayment(deps), { organizationId, invoiceId: inv.invoiceId, attempt: 1 })).toEqual({ outcome: 'paid' });
    expect(chargesOf(inv.stripeInvoiceId)).toEqual([]);
  });
});

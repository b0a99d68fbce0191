import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { createStripeClient } from '../activities/stripe/client';
import { adjustUpdate, billingRunStateQuery, BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/names';
import { createBillingCatalog, insertUsage } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Finance decisions through the HTTP API, sent as Updates to the real
 * billing run on the harness's Temporal dev server: the run closes a past
 * period into a draft, and the API's approve / adjust / reject reach it and
 * come back as 200s, or as 409s carrying the workflow validator's own words.
 *
 * The worker's Stripe client points at a closed port, so an approved run
 * stays in its finalizing step (Temporal retries the network fault) instead
 * of finishing: a second decision then meets the validator, not a closed run.
 * The runs still going are terminated after the tests.
 */

jest.setTimeout(60_000);

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let worker: TestWorker;
const started: WorkflowHandle[] = [];

beforeAll(async () => {
  worker = await startTestWorker('api-decisions', { stripe: createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: 'http://127.0.0.1:9' }) });
  api = await startTestApi();
});

afterAll(async () => {
  for (const handle of started) {
    const { status } = await handle.describe();
    if (status.name === 'RUNNING') await handle.terminate('test over');
  }
  await api.close();
  await worker.close();
});

const post = (org: Org, path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };

interface DraftedRun {
  org: Org;
  invoiceId: string;
  workflowId: string;
  handle: WorkflowHandle;
}

/**
 * An organization with the billing catalog (Basic: 30/month + graduated API
 * calls), a subscription since November 2024, the given usage, and the real
 * billing run of November closed into a draft that awaits finance.
 */
async function draftedRun(options: { currency?: string; basicFee?: string; usage?: string[] } = {}): Promise<DraftedRun> {
  const prisma = testPrisma();
  const org = await createTestOrganization('api-decisions');
  const catalog = await createBillingCatalog(prisma, org.organizationId, { startDate: new Date(november.periodStart), anchorDay: 1, currency: options.currency, basicFee: options.basicFee });
  const usage = options.usage ?? [];
  if (usage.length > 0) await insertUsage(prisma, org.organizationId, catalog.customerExternalId, usage.map((quantity, i) => ({ at: `2024-11-${String(i + 2).padStart(2, '0')}T10:00:00Z`, quantity })));
  const input: BillingRunInput = { organizationId: org.organizationId, subscriptionId: catalog.subscriptionId, ...november, lateEventGraceSeconds: 0 };
  const workflowId = billingRunWorkflowId(catalog.subscriptionId, november.periodStart);
  const handle = await worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId, taskQueue: worker.taskQueue, args: [input] });
  started.push(handle);
  const state = await waitFor(`the draft of ${workflowId}`, async () => {
    const s = await handle.query(billingRunStateQuery);
    return s.status === 'awaiting_approval' ? s : undefined;
  });
  return { org, invoiceId: state.invoiceId!, workflowId, handle };
}

async function invoiceAudit(organizationId: string, invoiceId: string): Promise<string[]> {
  const rows = await testPrisma().auditLog.findMany({ where: { organizationId, entityType: 'invoice', entityId: invoiceId }, orderBy: { id: 'asc' } });
  return rows.map((r) => r.action);
}

describe('approve and adjust', () => {
  test('adjust answers the new total; approve answers 200; a second approval and a later adjustment are 409s with the billing run\'s messages', async () => {
    // Basic 30.00 + 1,500 API calls on the graduated tiers (107.00)
    const { org, invoiceId } = await draftedRun({ usage: ['1000', '500'] });

    const adjusted = await post(org, `/invoices/${invoiceId}/adjust`, {
      reason: 'outage credit and a missed setup fee',
      lines: [
        { description: 'Outage credit', amount: '-25.5' },
        { description: 'Setup', amount: '0.25' },
      ],
    });
    expect(adjusted.status).toBe(200);
    expect(adjusted.body).toEqual({ invoice_id: invoiceId, status: 'awaiting_approval', total: '111.75' });

    const approved = await post(org, `/invoices/${invoiceId}/approve`, { note: 'checked' });
    expect(approved.status).toBe(200);
    expect(approved.body).toEqual({ invoice_id: invoiceId, status: 'finalizing', total: '111.75' });

    const again = await post(org, `/invoices/${invoiceId}/approve`, {});
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'INVALID_STATE', error: `invoice ${invoiceId} is already approved` });

    const late = await post(org, `/invoices/${invoiceId}/adjust`, { reason: 'late credit', lines: [{ description: 'Credit', amount: '-5.00' }] });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'INVALID_STATE', error: `invoice ${invoiceId} is already approved and can no longer be adjusted` });

    // The billing run wrote what it answered, once.
    const invoice = await testPrisma().invoice.findUniqueOrThrow({ where: { id: invoiceId }, include: { lines: { orderBy: { position: 'asc' } } } });
    // Who decided is the calling key, from its credentials: the request body has no say.
    expect(invoice).toMatchObject({ status: 'approved', approvedBy: `api_key:${org.apiKeyId}`, approvalNote: 'checked' });
    const approval = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId: org.organizationId, entityId: invoiceId, action: 'invoice.approved' } });
    expect(approval).toMatchObject({ actorType: 'api_key', actorId: org.apiKeyId });
    expect((await api.get(`/api/v1/invoices/${invoiceId}`, org.apiKey)).body).toMatchObject({ approved_by: `api_key:${org.apiKeyId}`, approval_note: 'checked' });
    expect(invoice.total.toFixed(2)).toBe('111.75');
    expect(invoice.lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([
      ['base_fee', '30.00'],
      ['usage', '107.00'],
      ['adjustment', '-25.50'],
      ['adjustment', '0.25'],
    ]);
    expect(await invoiceAudit(org.organizationId, invoiceId)).toEqual(['invoice.drafted', 'invoice.adjusted', 'invoice.approved']);
  });

  test('adjustment amounts finer than the currency\'s minor unit, zero or missing are 400s naming the field; whole yen reach the run', async () => {
    const { org, invoiceId } = await draftedRun({ currency: 'jpy', basicFee: '4000' });
    const base = { reason: 'r' };
    const cases: [unknown, string][] = [
      [[{ description: 'Credit', amount: '-1.5' }], 'lines.0.amount'],
      [[{ description: 'Ok', amount: '-100' }, { description: 'Zero', amount: '-0.00' }], 'lines.1.amount'],
      [[{ description: 'Number', amount: 5 }], 'lines.0.amount'],
      [[], 'lines'],
    ];
    for (const [lines, field] of cases) {
      const res = await post(org, `/invoices/${invoiceId}/adjust`, { ...base, lines });
      expect({ status: res.status, field: res.body.details?.field }).toEqual({ status: 400, field });
    }
    // A body cannot name who decided (the audit names the calling key): an approver field is refused, saying why.
    const named = await post(org, `/invoices/${invoiceId}/approve`, { approver: 'cfo@acme.test', note: 'as the CFO' });
    expect({ status: named.status, field: named.body.details?.field }).toEqual({ status: 400, field: 'approver' });
    expect(named.body.error).toMatch(/approver is no longer taken: who decided is the calling API key/);
    const noReason = await post(org, `/invoices/${invoiceId}/reject`, {});
    expect({ status: noReason.status, field: noReason.body.details?.field }).toEqual({ status: 400, field: 'reason' });

    // None of those reached the run: the draft is as it closed, and whole yen are taken.
    const ok = await post(org, `/invoices/${invoiceId}/adjust`, { ...base, lines: [{ description: 'Credit', amount: '-100' }] });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ invoice_id: invoiceId, status: 'awaiting_approval', total: '3900' });
    expect(await invoiceAudit(org.organizationId, invoiceId)).toEqual(['invoice.drafted', 'invoice.adjusted']);
  });
});

describe('no negative invoices', () => {
  test('an adjustment that would take the total below zero is a 400 naming lines, and the run refuses it too; down to exactly zero is taken', async () => {
    // Basic 30.00, no usage.
    const { org, invoiceId, handle } = await draftedRun();
    const below = await post(org, `/invoices/${invoiceId}/adjust`, { reason: 'goodwill', lines: [{ description: 'Credit', amount: '-30.01' }] });
    expect(below.status).toBe(400);
    expect(below.body.details.field).toBe('lines');
    expect(below.body.error).toMatch(/would bring the total to -0\.01 USD; an invoice does not go below zero \(credit belongs in a credit note\)/);

    // Straight to the billing run, past the API: its validator says no, and nothing is written.
    const refused = await handle.executeUpdate(adjustUpdate, { args: [{ approver: 'cfo@acme.test', reason: 'goodwill', lines: [{ description: 'Credit', amount: '-40' }] }] }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/would bring the total to -10; an invoice does not go below zero/);
    expect(await invoiceAudit(org.organizationId, invoiceId)).toEqual(['invoice.drafted']);

    const zero = await post(org, `/invoices/${invoiceId}/adjust`, { reason: 'goodwill', lines: [{ description: 'Credit', amount: '-30' }] });
    expect(zero.status).toBe(200);
    expect(zero.body.total).toBe('0.00');
  });
});

describe('reject, then re-draft or write off', () => {
  test('a rejection answers 200 and the run waits: approving is a 409, a re-draft makes the next revision, which is approved', async () => {
    const { org, invoiceId, handle } = await draftedRun({ usage: ['100'] });
    const res = await post(org, `/invoices/${invoiceId}/reject`, { reason: 'wrong plan' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ invoice_id: invoiceId, status: 'rejected', total: '40.00' });
    expect(await testPrisma().invoice.findUniqueOrThrow({ where: { id: invoiceId } })).toMatchObject({ status: 'rejected', rejectedBy: `api_key:${org.apiKeyId}`, rejectionReason: 'wrong plan' });

    const approve = await post(org, `/invoices/${invoiceId}/approve`, {});
    expect(approve.status).toBe(409);
    expect(approve.body).toMatchObject({ code: 'INVALID_STATE', error: `invoice ${invoiceId} was rejected` });
    const noReason = await post(org, `/invoices/${invoiceId}/redraft`, {});
    expect(noReason.status).toBe(400);
    expect(noReason.body.details.field).toBe('reason');

    const redraft = await post(org, `/invoices/${invoiceId}/redraft`, { reason: 'plan corrected' });
    expect(redraft.status).toBe(200);
    expect(redraft.body).toMatchObject({ status: 'awaiting_approval', total: '40.00' });
    const revision = redraft.body.invoice_id as string;
    expect(revision).not.toBe(invoiceId);
    const shown = await api.get(`/api/v1/invoices/${revision}`, org.apiKey);
    expect(shown.body).toMatchObject({ revision: 2, status: 'draft', period_start: november.periodStart });
    expect((await api.get(`/api/v1/invoices/${invoiceId}`, org.apiKey)).body).toMatchObject({ revision: 1, status: 'rejected' });
    // The rejected revision takes no more decisions; the new one does.
    const again = await post(org, `/invoices/${invoiceId}/write-off`, { reason: 'changed my mind' });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe(`only a rejected draft or a void invoice can be written off; invoice ${revision} is awaiting approval`);
    const approved = await post(org, `/invoices/${revision}/approve`, {});
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ invoice_id: revision, status: 'finalizing' });
    expect((await handle.query(billingRunStateQuery)).invoiceId).toBe(revision);
  });

  test('a write-off answers 200 and ends the run; a later decision is a 409 saying the run is not running', async () => {
    const { org, invoiceId, workflowId, handle } = await draftedRun();
    const early = await post(org, `/invoices/${invoiceId}/write-off`, { reason: 'goodwill' });
    expect(early.status).toBe(409);
    expect(early.body.error).toBe(`only a rejected draft or a void invoice can be written off; invoice ${invoiceId} is awaiting approval`);
    expect((await post(org, `/invoices/${invoiceId}/reject`, { reason: 'disputed' })).status).toBe(200);
    const res = await post(org, `/invoices/${invoiceId}/write-off`, { reason: 'goodwill' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ invoice_id: invoiceId, status: 'written_off', total: '30.00' });
    expect(await handle.result()).toMatchObject({ status: 'written_off' });
    expect((await api.get(`/api/v1/invoices/${invoiceId}`, org.apiKey)).body).toMatchObject({ status: 'written_off', written_off_by: `api_key:${org.apiKeyId}`, write_off_reason: 'goodwill' });

    const late = await post(org, `/invoices/${invoiceId}/approve`, {});
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('WORKFLOW_NOT_RUNNING');
    expect(late.body.error).toContain(workflowId);
    expect(late.body.error).toContain('invoice status: written_off');
  });
});

describe('tenant isolation', () => {
  test('another organization\'s invoice and an unknown one are 404s, before any Update is sent', async () => {
    const mine = await createTestOrganization('api-decisions-mine');
    const theirs = await draftedRun();
    expect((await post(mine, `/invoices/${theirs.invoiceId}/approve`, {})).status).toBe(404);
    expect((await post(mine, `/invoices/${theirs.invoiceId}/reject`, { reason: 'y' })).status).toBe(404);
    expect((await post(mine, `/invoices/${randomUUID()}/approve`, {})).status).toBe(404);
    expect((await post(mine, '/invoices/not-a-uuid/approve', {})).status).toBe(404);
    // Nothing reached their run: its owner can still approve its draft.
    const own = await post(theirs.org, `/invoices/${theirs.invoiceId}/approve`, {});
    expect(own.status).toBe(200);
    expect(own.body.status).toBe('finalizing');
  });
});

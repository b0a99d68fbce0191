import { randomUUID } from 'node:crypto';
import { closePeriod } from '../activities/billing/close-period';
import { dec } from '../billing/decimal';
import { billingRunWorkflowId } from '../temporal/names';
import { startTestApi, type TestApi } from './api-test-app';
import { createBillingCatalog } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, testPrisma, testPool } from './harness/fixtures';
import { RecordingNotifier } from './harness/ingest-worker';
import { runInWorkflow } from './harness/stripe-invoices';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const PATH = '/api/v1/settings/billing';
const get = (key: string | null) => api.get(PATH, key);

/** TestApi has no PATCH helper; this is the same call with the PATCH method. */
async function patch(key: string | null, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(api.base + PATH, {
    method: 'PATCH',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const DEFAULTS = {
  proration_mode: 'day',
  late_event_grace_seconds: 3600,
  approval_reminder_hours: 24,
  auto_approve_after_hours: null,
  payment_retry_days: [1, 3, 5, 7],
  finance_email: null,
  finance_slack_channel: null,
  margin_threshold_bps: 2000,
  margin_alert_step_bps: 500,
  invoice_number_prefix: 'INV',
  invoice_collection: 'auto',
  invoice_due_days: 30,
};

/** The organization's row, in the API's field names, straight from the database. */
async function stored(organizationId: string) {
  const o = await testPrisma().organization.findUniqueOrThrow({ where: { id: organizationId } });
  return {
    proration_mode: o.prorationMode,
    late_event_grace_seconds: o.lateEventGraceSeconds,
    approval_reminder_hours: o.approvalReminderHours,
    auto_approve_after_hours: o.autoApproveAfterHours,
    payment_retry_days: o.paymentRetryDays,
    finance_email: o.financeEmail,
    margin_threshold_bps: o.marginThresholdBps,
    margin_alert_step_bps: o.marginAlertStepBps,
    finance_slack_channel: o.financeSlackChannel,
    invoice_number_prefix: o.invoiceNumberPrefix,
    invoice_collection: o.invoiceCollection,
    invoice_due_days: o.invoiceDueDays,
  };
}

const auditRows = (organizationId: string) =>
  testPrisma().auditLog.findMany({ where: { organizationId, action: 'organization.billing_settings_updated' }, orderBy: { id: 'asc' } });

describe('GET /api/v1/settings/billing', () => {
  test('a new organization reads the defaults, as stored', async () => {
    const org = await createTestOrganization('settings-defaults');
    const res = await get(org.apiKey);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(DEFAULTS);
    expect(await stored(org.organizationId)).toEqual(res.body);
  });

  test('needs an API key', async () => {
    expect((await get(null)).status).toBe(401);
    expect((await patch(null, { proration_mode: 'second' })).status).toBe(401);
  });

  test('is in the OpenAPI document', async () => {
    const doc = await api.get('/api/openapi.json', null);
    expect(Object.keys(doc.body.paths[PATH])).toEqual(['get', 'patch']);
    expect(doc.body.components.schemas.BillingSettingsUpdate.additionalProperties).toBe(false);
  });
});

describe('PATCH /api/v1/settings/billing', () => {
  test.each([
    ['proration_mode', 'second'],
    ['late_event_grace_seconds', 0],
    ['late_event_grace_seconds', 7 * 24 * 3600],
    ['approval_reminder_hours', 720],
    ['auto_approve_after_hours', 72],
    ['payment_retry_days', [2, 10, 60]],
    ['finance_email', 'finance@acme.test'],
    ['finance_slack_channel', '#acme-finance'],
    ['finance_slack_channel', 'C0123ABCDE'],
    ['invoice_collection', 'send_invoice'],
    ['invoice_due_days', 1],
    ['invoice_due_days', 365],
  ])('sets %s to %j alone, and reads it back', async (field, value) => {
    const org = await createTestOrganization('settings-patch');
    const res = await patch(org.apiKey, { [field]: value });
    expect(res.status).toBe(200);
    const expected = { ...DEFAULTS, [field]: value };
    expect(res.body).toEqual(expected);
    expect((await get(org.apiKey)).body).toEqual(expected);
    expect(await stored(org.organizationId)).toEqual(expected);
  });

  test('null clears a nullable setting; fields not sent keep their values', async () => {
    const org = await createTestOrganization('settings-clear');
    await patch(org.apiKey, { auto_approve_after_hours: 48, finance_email: 'finance@acme.test', finance_slack_channel: '#finance', proration_mode: 'second' });
    const res = await patch(org.apiKey, { auto_approve_after_hours: null, finance_email: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...DEFAULTS, proration_mode: 'second', finance_slack_channel: '#finance' });
    expect(await stored(org.organizationId)).toEqual(res.body);
  });

  test.each([
    ['a mode typo', { proration_mode: 'seconds' }, 'proration_mode', 'INVALID_VALUE'],
    ['a null mode', { proration_mode: null }, 'proration_mode', 'INVALID_VALUE'],
    ['decreasing retry days', { payment_retry_days: [1, 5, 3] }, 'payment_retry_days.2', 'INVALID_VALUE'],
    ['a repeated retry day', { payment_retry_days: [1, 3, 3] }, 'payment_retry_days.2', 'INVALID_VALUE'],
    ['a retry day past 60', { payment_retry_days: [1, 61] }, 'payment_retry_days.1', 'INVALID_VALUE'],
    ['a margin threshold past 100 %', { margin_threshold_bps: 10_001 }, 'margin_threshold_bps', 'INVALID_VALUE'],
    ['a zero alert step', { margin_alert_step_bps: 0 }, 'margin_alert_step_bps', 'INVALID_VALUE'],
    ['a lower-case invoice number prefix', { invoice_number_prefix: 'inv' }, 'invoice_number_prefix', 'INVALID_VALUE'],
    ['a fractional retry day', { payment_retry_days: [1.5] }, 'payment_retry_days.0', 'INVALID_TYPE'],
    ['no retry days', { payment_retry_days: [] }, 'payment_retry_days', 'INVALID_VALUE'],
    ['11 retry days', { payment_retry_days: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }, 'payment_retry_days', 'INVALID_VALUE'],
    ['an unknown collection', { invoice_collection: 'charge' }, 'invoice_collection', 'INVALID_VALUE'],
    ['invoices due the day they are sent', { invoice_due_days: 0 }, 'invoice_due_days', 'INVALID_VALUE'],
    ['invoices due in more than a year', { invoice_due_days: 366 }, 'invoice_due_days', 'INVALID_VALUE'],
    ['a negative grace', { late_event_grace_seconds: -60 }, 'late_event_grace_seconds', 'INVALID_VALUE'],
    ['a grace over 7 days', { late_event_grace_seconds: 7 * 24 * 3600 + 1 }, 'late_event_grace_seconds', 'INVALID_VALUE'],
    ['a grace as a string', { late_event_grace_seconds: '3600' }, 'late_event_grace_seconds', 'INVALID_TYPE'],
    ['reminders every 0 hours', { approval_reminder_hours: 0 }, 'approval_reminder_hours', 'INVALID_VALUE'],
    ['auto-approval after 91 days', { auto_approve_after_hours: 2161 }, 'auto_approve_after_hours', 'INVALID_VALUE'],
    ['a bad email', { finance_email: 'finance@' }, 'finance_email', 'INVALID_VALUE'],
    ['a Slack channel without #', { finance_slack_channel: 'finance' }, 'finance_slack_channel', 'INVALID_VALUE'],
    ['an unknown field', { proration: 'second' }, 'proration', 'UNKNOWN_FIELD'],
    ['a valid field next to a bad one', { proration_mode: 'second', finance_email: 'nope' }, 'finance_email', 'INVALID_VALUE'],
  ])('refuses %s with a 400 naming the field, and changes nothing', async (_name, body, field, code) => {
    const org = await createTestOrganization('settings-invalid');
    const res = await patch(org.apiKey, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', details: { field, issues: expect.arrayContaining([expect.objectContaining({ field, code })]) } });
    expect(res.body.error).toContain(field);
    expect(await stored(org.organizationId)).toEqual(DEFAULTS);
    expect(await auditRows(org.organizationId)).toHaveLength(0);
  });

  test("another organization's key changes only that organization", async () => {
    const org = await createTestOrganization('settings-mine');
    const other = await createTestOrganization('settings-theirs');
    await patch(org.apiKey, { finance_email: 'finance@mine.test' });
    const before = await stored(org.organizationId);

    const res = await patch(other.apiKey, { proration_mode: 'second', finance_email: 'finance@theirs.test', payment_retry_days: [2] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ proration_mode: 'second', finance_email: 'finance@theirs.test', payment_retry_days: [2] });

    expect(await stored(org.organizationId)).toEqual(before);
    expect((await get(org.apiKey)).body).toEqual(before);
    expect(await auditRows(org.organizationId)).toHaveLength(1);
    expect(await auditRows(other.organizationId)).toHaveLength(1);
  });

  test('writes one audit row with the changed fields before and after; a PATCH that changes nothing writes none', async () => {
    const org = await createTestOrganization('settings-audit');
    const res = await patch(org.apiKey, { payment_retry_days: [1, 2, 4], approval_reminder_hours: 24, finance_slack_channel: '#billing' });
    expect(res.status).toBe(200);

    const rows = await auditRows(org.organizationId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actorType: 'api_key',
      actorId: org.apiKeyId,
      entityType: 'organization',
      entityId: org.organizationId,
      // approval_reminder_hours was sent with its current value: not a change.
      before: { payment_retry_days: [1, 3, 5, 7], finance_slack_channel: null },
      after: { payment_retry_days: [1, 2, 4], finance_slack_channel: '#billing' },
    });
    expect(Object.keys(rows[0]!.after as object).sort()).toEqual(['finance_slack_channel', 'payment_retry_days']);

    expect((await patch(org.apiKey, { payment_retry_days: [1, 2, 4] })).status).toBe(200);
    expect((await patch(org.apiKey, {})).body).toEqual({ ...DEFAULTS, payment_retry_days: [1, 2, 4], finance_slack_channel: '#billing' });
    expect(await auditRows(org.organizationId)).toHaveLength(1);
  });
});

describe('the setting takes effect', () => {
  /**
   * Basic (30/month) from 2024-10-01, canceled at 2024-11-20 12:00 UTC; the
   * close of November drafts the credit for the unused part of the fee.
   */
  async function closeNovemberWithMidDayCancellation(organizationId: string) {
    const prisma = testPrisma();
    const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-10-01T00:00:00Z') });
    await prisma.subscription.update({ where: { id: catalog.subscriptionId }, data: { status: 'canceled', canceledAt: new Date('2024-11-20T12:00:00Z') } });
    const close = closePeriod({ prisma, pool: testPool(), taskQueue: 'unused', notifier: new RecordingNotifier() });
    const periodStart = '2024-11-01T00:00:00.000Z';
    const closed = await runInWorkflow(
      { workflowId: billingRunWorkflowId(catalog.subscriptionId, periodStart), runId: randomUUID() },
      close,
      { organizationId, subscriptionId: catalog.subscriptionId, periodStart, periodEnd: '2024-12-01T00:00:00.000Z' },
    );
    const credits = await prisma.invoiceLine.findMany({ where: { invoiceId: closed.invoiceId, kind: 'proration_credit' } });
    return { total: closed.total, credits: credits.map((l) => dec(l.amount).toFixed(2)) };
  }

  test("proration_mode 'second' set through the API makes the close draft a second-precise credit", async () => {
    const org = await createTestOrganization('settings-effect');
    expect((await patch(org.apiKey, { proration_mode: 'second' })).status).toBe(200);
    // 10 days 12 hours of a 30-day period unused: 30 × 10.5 / 30.
    expect(await closeNovemberWithMidDayCancellation(org.organizationId)).toEqual({ total: '19.50', credits: ['-10.50'] });

    // The same close in an organization left on the default day mode credits whole days (Nov 20 – Nov 30: 11 of 30).
    const control = await createTestOrganization('settings-effect-day');
    expect(await closeNovemberWithMidDayCancellation(control.organizationId)).toEqual({ total: '19.00', credits: ['-11.00'] });
  });
});

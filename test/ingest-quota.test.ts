import { createTestOrganization, subscribeToWebhooks, testPrisma } from './harness/fixtures';
import { insertBatch, startBatchWorkflow } from './harness/insert-batch';
import { startTestWorker, type TestWorker } from './harness/ingest-worker';

// SOFT quota crossings through the real ingest workflow: one notification per
// customer, limit, window and level, however many batches cross it, with an
// audit row, delivered once.

let env: TestWorker;
let organizationId: string;
let limitId: string;

async function ingest(customerExternalId: string, quantity: string, timestamp: string): Promise<unknown> {
  const prisma = testPrisma();
  const batch = await insertBatch(prisma, organizationId, [{ customerExternalId, eventType: 'api_call', quantity, timestamp }]);
  const workflowId = await startBatchWorkflow(prisma, env.client, batch, env.taskQueue);
  return env.client.workflow.getHandle(workflowId).result();
}

const notificationsOf = () => testPrisma().notification.findMany({ where: { organizationId }, orderBy: { createdAt: 'asc' } });

beforeAll(async () => {
  env = await startTestWorker('ingest-quota');
  ({ organizationId } = await createTestOrganization('ingest-quota'));
  await subscribeToWebhooks(organizationId);
  const prisma = testPrisma();
  // Organization default: 100 api calls a month, warn at 80%.
  limitId = (await prisma.quotaLimit.create({ data: { organizationId, eventType: 'api_call', limitValue: '100', mode: 'SOFT', softWarningPercent: 80, resetWindow: 'month' } })).id;
  // A customer-specific limit wins over the default.
  await prisma.quotaLimit.create({ data: { organizationId, eventType: 'api_call', customerExternalId: 'vip', limitValue: '1000', mode: 'SOFT', resetWindow: 'month' } });
});

afterAll(async () => {
  await env?.close();
});

describe('SOFT quota crossings', () => {
  it('stays quiet below the warning threshold', async () => {
    expect(await ingest('acme', '50', '2026-11-02T10:00:00Z')).toMatchObject({ notificationsCreated: 0 });
    expect(await notificationsOf()).toHaveLength(0);
  });

  it('creates one warning notification, with its audit row, when a batch crosses the threshold', async () => {
    expect(await ingest('acme', '40', '2026-11-05T10:00:00Z')).toMatchObject({ notificationsCreated: 1 });
    const [warning, ...rest] = await notificationsOf();
    expect(rest).toHaveLength(0);
    expect(warning).toMatchObject({ kind: 'quota.warning', dedupeKey: `quota:${limitId}:acme:2026-11-01T00:00:00.000Z:warning` });
    expect(warning!.payload).toMatchObject({ customerExternalId: 'acme', used: '90', limit: '100', level: 'warning', mode: 'SOFT' });
    const audits = await testPrisma().auditLog.findMany({ where: { organizationId, action: 'quota.warning' } });
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actorType: 'workflow', entityType: 'quota_counter' });
    expect(audits[0]!.after).toMatchObject({ notificationId: warning!.id, used: '90' });
  });

  it('does not notify again when a later batch crosses the same limit in the same window', async () => {
    expect(await ingest('acme', '5', '2026-11-20T10:00:00Z')).toMatchObject({ notificationsCreated: 0 });
    expect((await notificationsOf()).map((n) => n.kind)).toEqual(['quota.warning']);
    expect(await testPrisma().auditLog.count({ where: { organizationId, action: 'quota.warning' } })).toBe(1);
  });

  it('notifies once more when usage passes the limit itself', async () => {
    expect(await ingest('acme', '10', '2026-11-21T10:00:00Z')).toMatchObject({ notificationsCreated: 1 });
    expect(await ingest('acme', '10', '2026-11-21T11:00:00Z')).toMatchObject({ notificationsCreated: 0 });
    expect((await notificationsOf()).map((n) => n.kind)).toEqual(['quota.warning', 'quota.exceeded']);
    expect(await testPrisma().auditLog.count({ where: { organizationId, action: 'quota.exceeded' } })).toBe(1);
    const counter = await testPrisma().quotaCounter.findFirstOrThrow({ where: { quotaLimitId: limitId, customerExternalId: 'acme' } });
    expect(counter.used.toString()).toBe('115');
    expect(counter.limitReachedAt).not.toBeNull();
    // Each crossing is an outbound webhook event too (issue 14, point 6), once, in the API's snake_case.
    const events = await testPrisma().webhookEvent.findMany({ where: { organizationId }, orderBy: { createdAt: 'asc' } });
    expect(events.map((e) => [e.type, e.eventKey])).toEqual([
      ['quota.warning', `quota.warning:quota:${limitId}:acme:2026-11-01T00:00:00.000Z:warning`],
      ['quota.exceeded', `quota.exceeded:quota:${limitId}:acme:2026-11-01T00:00:00.000Z:exceeded`],
    ]);
    expect(events[1]!.payload).toMatchObject({ customer_external_id: 'acme', used: '105', limit: '100', level: 'exceeded', mode: 'SOFT', window_start: '2026-11-01T00:00:00.000Z' });
  });

  it('starts afresh in the next window', async () => {
    expect(await ingest('acme', '85', '2026-12-01T00:00:00Z')).toMatchObject({ notificationsCreated: 1 });
    const latest = (await notificationsOf()).at(-1)!;
    expect(latest.dedupeKey).toBe(`quota:${limitId}:acme:2026-12-01T00:00:00.000Z:warning`);
  });

  it('creates one notification when two concurrent batches cross the same limit', async () => {
    const prisma = testPrisma();
    // Both batches are stored before either workflow runs, so both checks see 90 of 100.
    const batches = await Promise.all(
      [1, 2].map(() => insertBatch(prisma, organizationId, [{ customerExternalId: 'initech', eventType: 'api_call', quantity: '45', timestamp: '2026-11-10T10:00:00Z' }])),
    );
    const ids = await Promise.all(batches.map((b) => startBatchWorkflow(prisma, env.client, b, env.taskQueue)));
    const results = await Promise.all(ids.map((id) => env.client.workflow.getHandle(id).result()));
    expect(results.map((r) => r.notificationsCreated).sort()).toEqual([0, 1]);
    const initech = (await notificationsOf()).filter((n) => n.dedupeKey.includes(':initech:'));
    expect(initech.map((n) => n.kind)).toEqual(['quota.warning']);
    expect(await prisma.auditLog.count({ where: { organizationId, action: 'quota.warning', entityType: 'quota_counter', after: { path: ['customerExternalId'], equals: 'initech' } } })).toBe(1);
  });

  it('judges a customer with its own limit by that limit, not the default', async () => {
    expect(await ingest('vip', '150', '2026-11-02T10:00:00Z')).toMatchObject({ notificationsCreated: 0 });
    expect(await testPrisma().quotaCounter.count({ where: { quotaLimitId: limitId, customerExternalId: 'vip' } })).toBe(0);
  });

  it('delivers every notification exactly once through the notifier', async () => {
    const notifications = await notificationsOf();
    expect(notifications.every((n) => n.deliveredAt !== null)).toBe(true);
    const sent = env.notifier.sent.map((n) => n.dedupeKey).sort();
    expect(sent).toEqual(notifications.map((n) => n.dedupeKey).sort());
  });
});

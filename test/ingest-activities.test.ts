import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities';
import { createTestOrganization, closeTestPrisma, testPrisma, testPool, uniqueTaskQueue } from './harness/fixtures';
import { insertBatch, type InsertedBatch } from './harness/insert-batch';
import { RecordingNotifier } from './harness/ingest-worker';

// Every ingest activity, called directly (in a mock activity context) against
// the real database, twice: the second run must leave the database exactly as
// the first one did. This is what makes Temporal retries and UI resets safe.

const notifier = new RecordingNotifier();
let activities: ReturnType<typeof createActivities>;
let organizationId: string;
let batch: InsertedBatch;

/** Runs an activity as attempt N of the batch's workflow run. */
function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: `ingest:${batch.batchId}`, runId: 'run-under-test' } });
  return env.run(fn, ...args);
}

/** Everything the ingest activities write for the organization, in a comparable form. */
async function snapshot() {
  const prisma = testPrisma();
  const [customers, events, counters, notifications, batches, processingBatches, audit] = await Promise.all([
    prisma.customer.findMany({ where: { organizationId }, orderBy: { externalId: 'asc' } }),
    prisma.usageEvent.findMany({ where: { organizationId }, orderBy: { id: 'asc' } }),
    prisma.quotaCounter.findMany({ where: { quotaLimit: { organizationId } }, orderBy: { id: 'asc' } }),
    prisma.notification.findMany({ where: { organizationId }, orderBy: { id: 'asc' } }),
    prisma.ingestBatch.findMany({ where: { organizationId }, orderBy: { id: 'asc' } }),
    prisma.processingBatch.findMany({ where: { organizationId }, orderBy: { id: 'asc' } }),
    prisma.auditLog.findMany({ where: { organizationId }, orderBy: { id: 'asc' } }),
  ]);
  // updated_at is the one column allowed to move: a rerun touches the counter row.
  const stable = counters.map(({ updatedAt: _ignored, ...rest }) => rest);
  return JSON.parse(JSON.stringify({ customers, events, counters: stable, notifications, batches, processingBatches, audit }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
}

async function expectSecondRunChangesNothing<R>(second: () => Promise<R>, idleResult: R): Promise<void> {
  const before = await snapshot();
  expect(await second()).toEqual(idleResult);
  expect(await snapshot()).toEqual(before);
}

beforeAll(async () => {
  ({ organizationId } = await createTestOrganization('ingest-activities'));
  const prisma = testPrisma();
  activities = createActivities({ prisma, pool: testPool(), taskQueue: uniqueTaskQueue('unused'), notifier });
  await prisma.vendorRate.create({
    data: { organizationId, vendor: 'openai', model: 'gpt-4o', inputPerMillionTokens: '2.50', outputPerMillionTokens: '10.00', effectiveFrom: new Date('2026-01-01T00:00:00Z') },
  });
  await prisma.quotaLimit.create({
    data: { organizationId, eventType: 'llm_call', limitValue: '10', mode: 'SOFT', softWarningPercent: 80, resetWindow: 'month' },
  });
  batch = await insertBatch(prisma, organizationId, [
    { customerExternalId: 'acme', timestamp: '2026-11-02T10:00:00Z', quantity: '5', vendorUsage: [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 1_234, output_tokens: 567 }] },
    { customerExternalId: 'acme', timestamp: '2026-11-03T10:00:00Z', quantity: '3.5', revenueAmount: '0.20' },
    { customerExternalId: 'globex', timestamp: '2026-11-03T10:00:00Z', quantity: '1' },
  ]);
});

afterAll(async () => {
  await closeTestPrisma();
});

describe('each ingest activity converges when run twice', () => {
  const input = () => ({ batchId: batch.batchId, organizationId });

  it('touches nothing when called with another organization for this batch', async () => {
    const other = await createTestOrganization('ingest-activities-other');
    const before = await snapshot();
    const foreign = { batchId: batch.batchId, organizationId: other.organizationId };
    expect(await run(activities.linkCustomers, foreign)).toEqual({ customersCreated: 0 });
    expect(await run(activities.rateEvents, foreign)).toEqual({ eventsRated: 0, eventsIncomplete: 0 });
    expect(await run(activities.checkQuotas, foreign)).toEqual({ countersUpdated: 0, notificationsCreated: 0, notificationsPending: 0 });
    expect(await run(activities.markBatchProcessed, foreign)).toEqual({ transitioned: false });
    expect(await snapshot()).toEqual(before);
  });

  it('linkCustomers', async () => {
    expect(await run(activities.linkCustomers, input())).toEqual({ customersCreated: 2 });
    await expectSecondRunChangesNothing(() => run(activities.linkCustomers, input()), { customersCreated: 0 });
  });

  it('rateEvents', async () => {
    expect(await run(activities.rateEvents, input())).toEqual({ eventsRated: 3, eventsIncomplete: 0 });
    const first = await testPrisma().usageEvent.findUniqueOrThrow({ where: { id: batch.eventIds[0] }, include: { customer: true } });
    expect(first.cost!.toString()).toBe('0.008755');
    // Linked to its customer in the same write that rated it.
    expect([first.status, first.customer?.externalId]).toEqual(['rated', 'acme']);
    await expectSecondRunChangesNothing(() => run(activities.rateEvents, input()), { eventsRated: 0, eventsIncomplete: 0 });
  });

  it('checkQuotas', async () => {
    // acme: 5 + 3.5 = 8.5 of 10 → past the 80% warning; globex: 1.
    expect(await run(activities.checkQuotas, input())).toEqual({ countersUpdated: 2, notificationsCreated: 1, notificationsPending: 1 });
    const counters = await testPrisma().quotaCounter.findMany({ where: { quotaLimit: { organizationId } }, orderBy: { customerExternalId: 'asc' } });
    expect(counters.map((c) => [c.customerExternalId, c.used.toString(), c.windowStart.toISOString()])).toEqual([
      ['acme', '8.5', '2026-11-01T00:00:00.000Z'],
      ['globex', '1', '2026-11-01T00:00:00.000Z'],
    ]);
    await expectSecondRunChangesNothing(() => run(activities.checkQuotas, input()), { countersUpdated: 2, notificationsCreated: 0, notificationsPending: 1 });
  });

  it('checkQuotas adds a later batch on top, once', async () => {
    const prisma = testPrisma();
    const later = await insertBatch(prisma, organizationId, [{ customerExternalId: 'acme', timestamp: '2026-11-04T10:00:00Z', quantity: '1' }]);
    const runLater = () => new MockActivityEnvironment({ workflowExecution: { workflowId: `ingest:${later.batchId}`, runId: 'run-under-test' } }).run(activities.checkQuotas, { batchId: later.batchId, organizationId });
    await runLater();
    await runLater();
    const acme = await prisma.quotaCounter.findFirstOrThrow({ where: { quotaLimit: { organizationId }, customerExternalId: 'acme' } });
    expect(acme.used.toString()).toBe('9.5');
  });

  it('deliverNotifications', async () => {
    expect(await run(activities.deliverNotifications, { organizationId })).toEqual({ delivered: 1 });
    expect(notifier.sent.map((n) => n.kind)).toEqual(['quota.warning']);
    await expectSecondRunChangesNothing(() => run(activities.deliverNotifications, { organizationId }), { delivered: 0 });
    expect(notifier.sent).toHaveLength(1);
  });

  it('markBatchProcessed', async () => {
    expect(await run(activities.markBatchProcessed, input())).toEqual({ transitioned: true });
    await expectSecondRunChangesNothing(() => run(activities.markBatchProcessed, input()), { transitioned: false });
    const audits = await testPrisma().auditLog.count({ where: { organizationId, action: 'batch.processed' } });
    expect(audits).toBe(1);
  });
});

describe('processBatch (the whole batch in one transaction)', () => {
  it('does what the four steps do, in one go, and converges when run twice', async () => {
    const prisma = testPrisma();
    const fresh = await insertBatch(prisma, organizationId, [
      { customerExternalId: 'newco', timestamp: '2026-11-05T10:00:00Z', quantity: '2', vendorUsage: [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 1_000, output_tokens: 1_000 }] },
      { customerExternalId: 'acme', timestamp: '2026-11-05T11:00:00Z', quantity: '0.5' },
    ]);
    const runFresh = () => new MockActivityEnvironment({ workflowExecution: { workflowId: `ingest:${fresh.batchId}`, runId: 'run-under-test' } }).run(activities.processBatch, { batchId: fresh.batchId, organizationId });
    const first = (await runFresh()) as Awaited<ReturnType<typeof activities.processBatch>>;
    expect(first).toMatchObject({ customersCreated: 1, eventsRated: 2, eventsIncomplete: 0, walletsBurned: 0, countersUpdated: 2, transitioned: true });
    const events = await prisma.usageEvent.findMany({ where: { batchId: fresh.requestId }, include: { customer: true }, orderBy: { timestamp: 'asc' } });
    expect(events.map((e) => [e.status, e.customer?.externalId, e.cost?.toString()])).toEqual([
      ['rated', 'newco', '0.0125'],
      ['rated', 'acme', '0'],
    ]);
    expect((await prisma.processingBatch.findUniqueOrThrow({ where: { id: fresh.batchId } })).status).toBe('processed');
    await expectSecondRunChangesNothing(runFresh, { customersCreated: 0, eventsRated: 0, eventsIncomplete: 0, walletsBurned: 0, countersUpdated: 0, notificationsCreated: 0, notificationsPending: first.notificationsPending, transitioned: false });
  });
});

describe('counting quotas once across the two workflow shapes', () => {
  it('a batch counted by the older checkQuotas activity and then processed by processBatch (a reset onto the new path) is counted once', async () => {
    const prisma = testPrisma();
    const counterOf = async () => (await prisma.quotaCounter.findFirstOrThrow({ where: { quotaLimit: { organizationId }, customerExternalId: 'reset-co' } })).used.toString();
    const b = await insertBatch(prisma, organizationId, [{ customerExternalId: 'reset-co', timestamp: '2026-11-06T10:00:00Z', quantity: '3' }]);
    const as = (fn: (input: { batchId: string; organizationId: string }) => Promise<unknown>) =>
      new MockActivityEnvironment({ workflowExecution: { workflowId: `ingest:${b.batchId}`, runId: randomUUID() } }).run(fn, { batchId: b.batchId, organizationId });
    await as(activities.checkQuotas);
    expect(await counterOf()).toBe('3');
    await as(activities.processBatch);
    expect(await counterOf()).toBe('3');
    expect((await prisma.processingBatch.findUniqueOrThrow({ where: { id: b.batchId } })).status).toBe('processed');
  });

  it('a batch the older steps linked and rated, then reset onto processBatch: nothing rated twice, its quotas counted once, all its events counted as rated', async () => {
    const prisma = testPrisma();
    const b = await insertBatch(prisma, organizationId, [
      { customerExternalId: 'rated-co', timestamp: '2026-11-06T10:00:00Z', quantity: '2', vendorUsage: [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 1_000, output_tokens: 1_000 }] },
      { customerExternalId: 'rated-co', timestamp: '2026-11-06T10:30:00Z', quantity: '1.5' },
    ]);
    const as = (fn: (input: { batchId: string; organizationId: string }) => Promise<unknown>) =>
      new MockActivityEnvironment({ workflowExecution: { workflowId: `ingest:${b.batchId}`, runId: randomUUID() } }).run(fn, { batchId: b.batchId, organizationId });
    await as(activities.linkCustomers);
    expect(await as(activities.rateEvents)).toEqual({ eventsRated: 2, eventsIncomplete: 0 });
    const ratedBefore = await prisma.usageEvent.findMany({ where: { batchId: b.requestId }, select: { id: true, cost: true, ratedAt: true }, orderBy: { id: 'asc' } });

    expect(await as(activities.processBatch)).toMatchObject({ customersCreated: 0, eventsRated: 0, countersUpdated: 1, transitioned: true });
    expect(await prisma.usageEvent.findMany({ where: { batchId: b.requestId }, select: { id: true, cost: true, ratedAt: true }, orderBy: { id: 'asc' } })).toEqual(ratedBefore);
    const counter = await prisma.quotaCounter.findFirstOrThrow({ where: { quotaLimit: { organizationId }, customerExternalId: 'rated-co' } });
    expect(counter.used.toString()).toBe('3.5');
    const processed = await prisma.auditLog.findFirstOrThrow({ where: { organizationId, action: 'batch.processed', entityId: b.batchId } });
    expect(processed.after).toEqual({ status: 'processed', requests: 1, ratedEvents: 2 });
  });

  it('counters hold the largest quantities an event may carry, many times over', async () => {
    const prisma = testPrisma();
    // quantity is DECIMAL(20,6): each event below 10^14; two of them overflowed a DECIMAL(20,6) counter.
    const big = '99999999999999.999999';
    const b = await insertBatch(prisma, organizationId, [
      { customerExternalId: 'huge-co', timestamp: '2026-11-06T10:00:00Z', quantity: big },
      { customerExternalId: 'huge-co', timestamp: '2026-11-06T11:00:00Z', quantity: big },
    ]);
    const result = await new MockActivityEnvironment({ workflowExecution: { workflowId: `ingest:${b.batchId}`, runId: randomUUID() } }).run(activities.processBatch, { batchId: b.batchId, organizationId });
    expect(result).toMatchObject({ eventsRated: 2, transitioned: true });
    const counter = await prisma.quotaCounter.findFirstOrThrow({ where: { quotaLimit: { organizationId }, customerExternalId: 'huge-co' } });
    expect(counter.used.toString()).toBe('199999999999999.999998');
  });
});

describe('linkCustomers under concurrency', () => {
  it('creates a customer shared by two concurrently linked batches exactly once, and rating links both events to it', async () => {
    const prisma = testPrisma();
    const shared = `shared-${Date.now()}`;
    const batches = await Promise.all(
      [1, 2].map(() => insertBatch(prisma, organizationId, [{ customerExternalId: shared, timestamp: '2026-11-04T10:00:00Z' }])),
    );
    const results = await Promise.all(batches.map((b) => run(activities.linkCustomers, { batchId: b.batchId, organizationId })));
    expect(results.map((r) => r.customersCreated).sort()).toEqual([0, 1]);
    const customers = await prisma.customer.findMany({ where: { organizationId, externalId: shared } });
    expect(customers).toHaveLength(1);
    expect(await prisma.auditLog.count({ where: { organizationId, action: 'customer.created', entityId: customers[0]!.id } })).toBe(1);
    await Promise.all(batches.map((b) => run(activities.rateEvents, { batchId: b.batchId, organizationId })));
    const linked = await prisma.usageEvent.findMany({ where: { batchId: { in: batches.map((b) => b.requestId) } } });
    expect(linked.map((e) => [e.status, e.customerId])).toEqual([
      ['rated', customers[0]!.id],
      ['rated', customers[0]!.id],
    ]);
  });

  it('rates an event a workflow from before the change had already linked (status customer_linked)', async () => {
    const prisma = testPrisma();
    const old = await insertBatch(prisma, organizationId, [{ customerExternalId: 'acme', timestamp: '2026-11-04T10:00:00Z' }]);
    const acme = await prisma.customer.findFirstOrThrow({ where: { organizationId, externalId: 'acme' } });
    await prisma.usageEvent.updateMany({ where: { id: { in: old.eventIds } }, data: { status: 'customer_linked', customerId: acme.id } });
    expect(await run(activities.rateEvents, { batchId: old.batchId, organizationId })).toEqual({ eventsRated: 1, eventsIncomplete: 0 });
    const event = await prisma.usageEvent.findUniqueOrThrow({ where: { id: old.eventIds[0] } });
    expect([event.status, event.customerId]).toEqual(['rated', acme.id]);
  });
});

import { snapshotUsage, upsertSnapshots } from '../activities/billing/snapshots';
import { dec } from '../billing/decimal';
import type { Queryable } from '../prisma/pg';
import { pgRawDb } from '../prisma/raw-db';
import type { ActivityDeps } from '../activities/deps';
import { createLogNotifier } from '../activities/notifier';
import { createBillingCatalog, insertUsage } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, testPrisma, testPool } from './harness/fixtures';
import { insertBatch } from './harness/insert-batch';
import { runInWorkflow } from './harness/stripe-invoices';

/** The daily snapshot is an upsert on (customer, meter, day, dimension value): running it again changes nothing, new events change it. */
afterAll(closeTestPrisma);

it('re-running a day’s snapshot changes nothing; a new event of that day updates the one row', async () => {
  const prisma = testPrisma();
  const { organizationId } = await createTestOrganization('snapshots');
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z'), anchorDay: 1 });
  await insertUsage(prisma, organizationId, catalog.customerExternalId, [
    { at: '2024-11-07T01:00:00Z', quantity: '40' },
    { at: '2024-11-07T23:59:59.999Z', quantity: '2' },
    { at: '2024-11-08T00:00:00Z', quantity: '1000' },
  ]);
  const deps: ActivityDeps = { prisma, pool: testPool(), taskQueue: 'unused', notifier: createLogNotifier(() => undefined) };
  const run = { workflowId: `subscription:${catalog.subscriptionId}`, runId: 'run-1' };
  const day = { organizationId, subscriptionId: catalog.subscriptionId, day: '2024-11-07T12:00:00.000Z' };
  const read = () => prisma.usageSnapshot.findMany({ where: { customerId: catalog.customerId }, orderBy: { day: 'asc' } });

  expect(await runInWorkflow(run, snapshotUsage(deps), { ...day, takenAt: '2024-11-08T00:00:00.000Z' })).toEqual({ snapshots: 1 });
  const first = await read();
  expect(first.map((s) => [s.day.toISOString().slice(0, 10), s.quantity.toString(), s.eventCount])).toEqual([['2024-11-07', '42', 2]]);

  await runInWorkflow(run, snapshotUsage(deps), { ...day, takenAt: '2024-11-08T06:00:00.000Z' });
  expect(await read()).toEqual(first);

  await insertUsage(prisma, organizationId, catalog.customerExternalId, [{ at: '2024-11-07T12:00:00Z', quantity: '8' }]);
  await runInWorkflow(run, snapshotUsage(deps), { ...day, takenAt: '2024-11-08T07:00:00.000Z' });
  const updated = await read();
  expect(updated).toHaveLength(1);
  expect(updated[0]).toMatchObject({ id: first[0]!.id, eventCount: 3 });
  expect(updated[0]!.quantity.toString()).toBe('50');
  expect(updated[0]!.takenAt.toISOString()).toBe('2024-11-08T07:00:00.000Z');
});

it('a meter with a dimension is snapshotted per value of it, whatever the plan prices on its own', async () => {
  const prisma = testPrisma();
  const { organizationId } = await createTestOrganization('snapshots-slices');
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z'), anchorDay: 1 });
  // api_calls gets a dimension; Basic prices region "eu" on its own beside its default
  await prisma.meter.update({ where: { id: catalog.meterId }, data: { dimension: 'region' } });
  await prisma.planPrice.create({ data: { organizationId, planId: catalog.basicPlanId, meterId: catalog.meterId, dimensionValue: 'eu', model: 'per_unit', unitAmount: '1' } });
  await insertBatch(
    prisma,
    organizationId,
    [
      ['eu', '40'],
      ['us', '2'],
      [undefined, '5'],
      ['eu', '1'],
    ].map(([region, quantity]) => ({ customerExternalId: catalog.customerExternalId, timestamp: '2024-11-07T10:00:00Z', eventType: 'api_call', quantity, properties: region ? { region } : {} })),
  );
  const deps: ActivityDeps = { prisma, pool: testPool(), taskQueue: 'unused', notifier: createLogNotifier(() => undefined) };
  const run = { workflowId: `subscription:${catalog.subscriptionId}`, runId: 'run-1' };
  const input = { organizationId, subscriptionId: catalog.subscriptionId, day: '2024-11-07T12:00:00.000Z', takenAt: '2024-11-08T00:00:00.000Z' };
  // per value, whichever price bills it ('': events without a region); the meter once, though two prices name it
  expect(await runInWorkflow(run, snapshotUsage(deps), input)).toEqual({ snapshots: 3 });
  const rows = await prisma.usageSnapshot.findMany({ where: { customerId: catalog.customerId }, orderBy: { dimensionValue: 'asc' } });
  expect(rows.map((s) => [s.dimensionValue, s.quantity.toString(), s.eventCount])).toEqual([
    ['', '5', 1],
    ['eu', '41', 2],
    ['us', '2', 1],
  ]);
});

it('an upsert returns each reading its snapshot id, in the readings’ order, whether it inserted, updated or left the row as it was', async () => {
  const prisma = testPrisma();
  const { organizationId } = await createTestOrganization('snapshots-ids');
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-11-01T00:00:00Z'), anchorDay: 1 });
  const scope = { organizationId, customerId: catalog.customerId, meterId: catalog.meterId, takenAt: new Date('2024-11-09T00:00:00Z') };
  const reading = (day: string, quantity: string) => ({ day: new Date(`${day}T00:00:00Z`), quantity: dec(quantity), eventCount: 1, cost: dec('0'), revenue: dec('0'), newestAt: null, newestId: null });
  // Statements run, counted: each upsert is one, whatever it wrote.
  let statements = 0;
  const pool = testPool();
  const db = pgRawDb({ query: (...args: Parameters<typeof pool.query>) => ((statements += 1), pool.query(...args)) } as Queryable);
  const [six, seven] = await upsertSnapshots(db, scope, [reading('2024-11-06', '5'), reading('2024-11-07', '7')]);

  // The 8th is new, the 7th changed, the 6th is as it was (the upsert skips it: its id comes from the table).
  const ids = await upsertSnapshots(db, { ...scope, takenAt: new Date('2024-11-10T00:00:00Z') }, [reading('2024-11-08', '1'), reading('2024-11-07', '9'), reading('2024-11-06', '5')]);
  const rows = await prisma.usageSnapshot.findMany({ where: { customerId: catalog.customerId }, orderBy: { day: 'asc' } });
  expect(rows.map((r) => [r.day.toISOString().slice(0, 10), r.quantity.toString(), r.takenAt.toISOString().slice(0, 10)])).toEqual([
    ['2024-11-06', '5', '2024-11-09'],
    ['2024-11-07', '9', '2024-11-10'],
    ['2024-11-08', '1', '2024-11-10'],
  ]);
  expect(ids).toEqual([rows[2]!.id, seven, six]);
  expect(new Set(ids).size).toBe(3);
  expect(statements).toBe(2);
});

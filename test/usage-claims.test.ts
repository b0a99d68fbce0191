import { assertClaimsMatchDatabase, claimsSql, TransactionIdsBehindClaims } from '../prisma/usage-claims';
import { billingRunStateQuery, BILLING_RUN_WORKFLOW_TYPE, redraftUpdate, rejectUpdate, writeOffUpdate, type BillingRunInput } from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/names';
import { countUnbilledEvents, createBillingCatalog, eventIdsOfLine, insertUsage, lineOfEvent, type BillingCatalog } from './harness/billing-fixtures';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { insertBatch } from './harness/insert-batch';

/*
 * Range claims (issue 12, point 12): a period close claims its usage as a
 * range of one customer's meter with its transaction's snapshot, instead of
 * rewriting every event row. Each event is billed once per meter even when
 * two subscriptions of one customer price the same meter and close at once
 * (an exclusion constraint makes the later close retry and take what is
 * left), and an event stored after a close's snapshot is late usage, not
 * lost and not billed twice.
 */

jest.setTimeout(90_000);

let worker: TestWorker;
beforeAll(async () => {
  worker = await startTestWorker('usage-claims');
});
afterAll(async () => {
  await worker?.close();
});

const november = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };
const december = { periodStart: '2024-12-01T00:00:00.000Z', periodEnd: '2025-01-01T00:00:00.000Z' };

async function startRun(organizationId: string, subscriptionId: string, period: { periodStart: string; periodEnd: string }) {
  const input: BillingRunInput = { organizationId, subscriptionId, ...period, lateEventGraceSeconds: 0 };
  return worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: billingRunWorkflowId(subscriptionId, period.periodStart), taskQueue: worker.taskQueue, args: [input] });
}

async function drafted(handle: Awaited<ReturnType<typeof startRun>>, options: { keepRunning?: boolean } = {}) {
  const state = await waitFor('the draft', async () => {
    const s = await handle.query(billingRunStateQuery);
    return s.status === 'awaiting_approval' ? s : undefined;
  });
  if (!options.keepRunning) await handle.terminate('test over');
  return testPrisma().invoice.findUniqueOrThrow({ where: { id: state.invoiceId! }, include: { lines: { orderBy: { position: 'asc' } } } });
}

async function secondSubscription(catalog: BillingCatalog, organizationId: string): Promise<string> {
  const s = await testPrisma().subscription.create({
    data: { organizationId, customerId: catalog.customerId, planId: catalog.basicPlanId, startDate: new Date(november.periodStart), billingAnchorDay: 1 },
  });
  return s.id;
}

it('two subscriptions of one customer pricing one meter, closing at once: each event is billed by exactly one of them', async () => {
  const { organizationId } = await createTestOrganization('claims-two');
  const catalog = await createBillingCatalog(testPrisma(), organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
  const other = await secondSubscription(catalog, organizationId);
  const events = await insertUsage(testPrisma(), organizationId, catalog.customerExternalId, [
    { at: '2024-11-03T10:00:00Z', quantity: '400' },
    { at: '2024-11-17T10:00:00Z', quantity: '600' },
    { at: '2024-11-29T10:00:00Z', quantity: '500' },
  ]);
  const [a, b] = await Promise.all([drafted(await startRun(organizationId, catalog.subscriptionId, november)), drafted(await startRun(organizationId, other, november))]);
  const usage = [a, b].map((i) => i.lines.find((l) => l.kind === 'usage')!);
  const billed = await Promise.all(usage.map((l) => eventIdsOfLine(organizationId, l.id)));
  // One draft bills all 1,500 units, the other none: never both, never neither.
  expect(billed.map((ids) => ids.length).sort()).toEqual([0, 3]);
  expect(usage.map((l) => l.quantity!.toFixed(0)).sort()).toEqual(['0', '1500']);
  expect(billed.flat().sort()).toEqual([...events].sort());
  expect(await countUnbilledEvents(organizationId)).toBe(0);
});

it('an event stored after a close is late usage of the next close, billed once', async () => {
  const { organizationId } = await createTestOrganization('claims-late');
  const catalog = await createBillingCatalog(testPrisma(), organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
  const [early] = await insertUsage(testPrisma(), organizationId, catalog.customerExternalId, [{ at: '2024-11-10T10:00:00Z', quantity: '1000' }]);
  const nov = await drafted(await startRun(organizationId, catalog.subscriptionId, november));
  const novUsage = nov.lines.find((l) => l.kind === 'usage')!;
  expect(await lineOfEvent(organizationId, early!)).toBe(novUsage.id);

  // Stored after November's close, inside November's claimed range: the claim's snapshot did not see it.
  const [late] = await insertUsage(testPrisma(), organizationId, catalog.customerExternalId, [{ at: '2024-11-20T10:00:00Z', quantity: '500' }]);
  expect(await lineOfEvent(organizationId, late!)).toBeNull();
  expect(await eventIdsOfLine(organizationId, novUsage.id)).toEqual([early]);

  const dec = await drafted(await startRun(organizationId, catalog.subscriptionId, december));
  const lateLine = dec.lines.find((l) => l.kind === 'late_usage')!;
  // 1,500 units now cost 107.00 (graduated), November billed 1,000 for 82.00: 25.00 more.
  expect(lateLine.amount.toFixed(2)).toBe('25.00');
  expect(await lineOfEvent(organizationId, late!)).toBe(lateLine.id);
  expect(await lineOfEvent(organizationId, early!)).toBe(novUsage.id);
  expect(await countUnbilledEvents(organizationId)).toBe(0);
});

it('a late event one close billed, then let go by a write-off, is unbilled again, not taken for billed by a re-draft that saw it held', async () => {
  const { organizationId } = await createTestOrganization('claims-release');
  const catalog = await createBillingCatalog(testPrisma(), organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
  await insertUsage(testPrisma(), organizationId, catalog.customerExternalId, [{ at: '2024-11-10T10:00:00Z', quantity: '1000' }]);
  const novRun = await startRun(organizationId, catalog.subscriptionId, november);
  await drafted(novRun, { keepRunning: true });
  // November's draft waits for finance; an event of November arrives late and December's close bills it.
  const [late] = await insertUsage(testPrisma(), organizationId, catalog.customerExternalId, [{ at: '2024-11-20T10:00:00Z', quantity: '500' }]);
  const decRun = await startRun(organizationId, catalog.subscriptionId, december);
  const dec = await drafted(decRun, { keepRunning: true });
  const lateLine = dec.lines.find((l) => l.kind === 'late_usage')!;
  expect(await lineOfEvent(organizationId, late!)).toBe(lateLine.id);

  // November is rejected and re-drafted: its new claim sees the late event, held by December's line, and leaves it out.
  await novRun.executeUpdate(rejectUpdate, { args: [{ approver: 'fiona@finance', reason: 'check usage' }] });
  const redrafted = await novRun.executeUpdate(redraftUpdate, { args: [{ approver: 'fiona@finance', reason: 'checked' }] });
  expect(redrafted.total).toBe('112.00'); // 30 + 1,000 units (82.00): the late event stays December's
  expect(await lineOfEvent(organizationId, late!)).toBe(lateLine.id);

  // December is rejected and written off: the late event goes back, unbilled, for the next close.
  await decRun.executeUpdate(rejectUpdate, { args: [{ approver: 'fiona@finance', reason: 'wrong' }] });
  await decRun.executeUpdate(writeOffUpdate, { args: [{ approver: 'fiona@finance', reason: 'goodwill' }] });
  expect(await lineOfEvent(organizationId, late!)).toBeNull();
  expect(await countUnbilledEvents(organizationId)).toBe(1);
  await novRun.terminate('test over');
});

it('the API and the worker refuse a database whose transaction ids run behind its claims (a dump restored into a new cluster)', async () => {
  await expect(assertClaimsMatchDatabase(testPrisma())).resolves.toBeUndefined();
  const line = await testPrisma().invoiceLine.findFirstOrThrow({ where: { kind: 'usage', claims: { some: {} } }, include: { claims: true } });
  const claim = line.claims[0]!;
  await expect(
    testPrisma().$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE usage_claims SET snapshot = '900000000000:900000000000:'::pg_snapshot WHERE id = ${claim.id}::uuid`;
      await assertClaimsMatchDatabase(tx as never);
    }),
  ).rejects.toBeInstanceOf(TransactionIdsBehindClaims);
  // (rolled back: the claim keeps its real snapshot)
  await expect(assertClaimsMatchDatabase(testPrisma())).resolves.toBeUndefined();
});

it('a meter priced per model, two subscriptions closing at once: each event billed once; a claim of another invoice on the same instants is refused whatever its slice', async () => {
  const { organizationId } = await createTestOrganization('claims-slices');
  const prisma = testPrisma();
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date(november.periodStart), anchorDay: 1 });
  // api_calls priced by region: Basic prices "eu" on its own beside its default, Pro only the default
  await prisma.meter.update({ where: { id: catalog.meterId }, data: { dimension: 'region' } });
  await prisma.planPrice.create({ data: { organizationId, planId: catalog.basicPlanId, meterId: catalog.meterId, dimensionValue: 'eu', model: 'per_unit', unitAmount: '1' } });
  const other = await testPrisma().subscription.create({
    data: { organizationId, customerId: catalog.customerId, planId: catalog.proPlanId, startDate: new Date(november.periodStart), billingAnchorDay: 1 },
  });
  const batch = await insertBatch(
    prisma,
    organizationId,
    ['eu', 'us', 'eu', undefined].map((region, i) => ({
      customerExternalId: catalog.customerExternalId,
      timestamp: `2024-11-0${i + 2}T10:00:00Z`,
      eventType: 'api_call',
      quantity: '10',
      properties: region ? { region } : {},
    })),
  );
  const invoices = await Promise.all([drafted(await startRun(organizationId, catalog.subscriptionId, november)), drafted(await startRun(organizationId, other.id, november))]);
  const usage = invoices.flatMap((i) => i.lines.filter((l) => l.kind === 'usage'));
  const billed = (await Promise.all(usage.map((l) => eventIdsOfLine(organizationId, l.id)))).flat();
  expect(billed.sort()).toEqual([...batch.eventIds].sort());
  expect(await countUnbilledEvents(organizationId)).toBe(0);

  // The constraint under it: another invoice's claim on those instants of the meter, even of a value no claim names.
  // One close claimed November (its lines' claims), the other found it claimed and holds none.
  const counts = await Promise.all(invoices.map((i) => prisma.usageClaim.count({ where: { invoiceLine: { invoiceId: i.id } } })));
  // (Basic's close makes two claims, one per price; Pro's one)
  expect(counts.filter((n) => n === 0)).toHaveLength(1);
  expect(Math.max(...counts)).toBeGreaterThan(0);
  const otherInvoice = invoices[counts.indexOf(0)]!;
  const otherInvoiceLine = otherInvoice.lines.find((l) => l.kind === 'usage')!;
  const claim = {
    invoiceLineId: otherInvoiceLine.id,
    customerExternalId: catalog.customerExternalId,
    meterId: catalog.meterId,
    eventType: 'api_call',
    start: new Date(november.periodStart),
    end: new Date(november.periodEnd),
    slice: { dimension: 'region', value: 'apac' },
  };
  await expect(prisma.$transaction((tx) => tx.$executeRaw(claimsSql(organizationId, otherInvoice.id, [claim])))).rejects.toThrow(/usage_claims_one_invoice_per_instant/);
});

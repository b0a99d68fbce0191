import { createTestOrganization, testPrisma } from './harness/fixtures';
import { insertBatch, startBatchWorkflow, type InsertedBatch } from './harness/insert-batch';
import { startTestWorker, type TestWorker } from './harness/ingest-worker';
import { ingestWorkflowId } from '../temporal/names';

// A batch posted straight into the database as the API writes it, run through
// the real `ingestBatch` workflow on a real worker, Temporal and PostgreSQL.

const gpt4o = (input: number, output: number) => ({ vendor: 'openai', model: 'gpt-4o', input_tokens: input, output_tokens: output });
const sonnet = (input: number, output: number) => ({ vendor: 'anthropic', model: 'claude-3-5-sonnet', input_tokens: input, output_tokens: output });

let env: TestWorker;
let organizationId: string;
let batch: InsertedBatch;
let result: unknown;

beforeAll(async () => {
  env = await startTestWorker('ingest-batch');
  const prisma = testPrisma();
  ({ organizationId } = await createTestOrganization('ingest-batch'));
  // gpt-4o at $2.50/$10.00 per million tokens through October, $2.00/$8.00 from 1 November.
  await prisma.vendorRate.createMany({
    data: [
      { organizationId, vendor: 'openai', model: 'gpt-4o', inputPerMillionTokens: '2.50', outputPerMillionTokens: '10.00', effectiveFrom: new Date('2026-01-01T00:00:00Z'), effectiveTo: new Date('2026-11-01T00:00:00Z') },
      { organizationId, vendor: 'openai', model: 'gpt-4o', inputPerMillionTokens: '2.00', outputPerMillionTokens: '8.00', effectiveFrom: new Date('2026-11-01T00:00:00Z') },
      { organizationId, vendor: 'anthropic', model: 'claude-3-5-sonnet', inputPerMillionTokens: '3.00', outputPerMillionTokens: '15.00', effectiveFrom: new Date('2026-01-01T00:00:00Z') },
    ],
  });
  // A customer that already exists must be linked, not created again.
  await prisma.customer.create({ data: { organizationId, externalId: 'initech' } });

  batch = await insertBatch(prisma, organizationId, [
    { customerExternalId: 'acme', timestamp: '2026-10-15T09:30:00Z', vendorUsage: [gpt4o(1_234, 567)], revenueAmount: '0.05', currency: 'usd' },
    { customerExternalId: 'acme', timestamp: '2026-10-31T23:59:59.999Z', vendorUsage: [gpt4o(1_000, 1_000)] },
    { customerExternalId: 'globex', timestamp: '2026-11-01T00:00:00.000Z', vendorUsage: [gpt4o(1_000, 1_000)] },
    { customerExternalId: 'globex', timestamp: '2026-11-02T12:00:00Z', vendorUsage: [gpt4o(1_234, 567), sonnet(2_048, 1_000)] },
    { customerExternalId: 'initech', timestamp: '2026-11-02T12:00:00Z', revenueAmount: '1.25', currency: 'usd' },
    { customerExternalId: 'initech', timestamp: '2026-11-03T08:00:00Z', vendorUsage: [gpt4o(1_000, 0), { vendor: 'mistral', model: 'mistral-large', input_tokens: 10, output_tokens: 10 }] },
  ]);
  const workflowId = await startBatchWorkflow(prisma, env.client, batch, env.taskQueue);
  result = await env.client.workflow.getHandle(workflowId).result();
});

afterAll(async () => {
  await env?.close();
});

const eventsOf = (b: InsertedBatch) =>
  testPrisma().usageEvent.findMany({ where: { batchId: b.requestId }, include: { customer: true } }).then((events) => new Map(events.map((e) => [e.id, e])));

describe('ingestBatch workflow', () => {
  it('reports what it did', () => {
    expect(result).toEqual({ customersCreated: 2, eventsRated: 6, eventsIncomplete: 1, notificationsCreated: 0 });
  });

  it('creates each new customer once, with a customer.created audit row by the workflow run', async () => {
    const prisma = testPrisma();
    const customers = await prisma.customer.findMany({ where: { organizationId }, orderBy: { externalId: 'asc' } });
    expect(customers.map((c) => c.externalId)).toEqual(['acme', 'globex', 'initech']);

    const handle = env.client.workflow.getHandle(ingestWorkflowId(batch.batchId));
    const { runId } = await handle.describe();
    const audits = await prisma.auditLog.findMany({ where: { organizationId, action: 'customer.created' } });
    const created = customers.filter((c) => c.externalId !== 'initech');
    expect(audits.map((a) => a.entityId).sort()).toEqual(created.map((c) => c.id).sort());
    for (const audit of audits) {
      expect(audit).toMatchObject({ actorType: 'workflow', actorId: ingestWorkflowId(batch.batchId), runId, entityType: 'customer' });
    }
  });

  it('links every event to its customer and rates it at the rate in effect at its timestamp, exactly', async () => {
    const events = await eventsOf(batch);
    const [octMid, octLast, novFirst, novMixed, noUsage, unknownModel] = batch.eventIds.map((id) => events.get(id)!);
    for (const e of events.values()) {
      expect(e.status).toBe('rated');
      expect(e.ratedAt).not.toBeNull();
      expect(e.customer?.externalId).toBe(e.customerExternalId);
    }
    // 1,234 in + 567 out at $2.50/$10.00 per M.
    expect(octMid!.cost!.toString()).toBe('0.008755');
    // Last millisecond of the October rate, then the first of the November one.
    expect(octLast!.cost!.toString()).toBe('0.0125');
    expect(novFirst!.cost!.toString()).toBe('0.01');
    // Two vendors on one event: 0.007004 (gpt-4o, November) + 0.021144 (Sonnet).
    expect(novMixed!.cost!.toString()).toBe('0.028148');
    expect(noUsage!.cost!.toString()).toBe('0');
    // The priced part only; the unpriced line is recorded (next test).
    expect(unknownModel!.cost!.toString()).toBe('0.002');

    const rates = await testPrisma().vendorRate.findMany({ where: { organizationId } });
    const rateId = (model: string, from: string) => rates.find((r) => r.model === model && r.effectiveFrom.toISOString() === from)!.id;
    expect(octMid!.rateIds).toEqual([rateId('gpt-4o', '2026-01-01T00:00:00.000Z')]);
    expect(novFirst!.rateIds).toEqual([rateId('gpt-4o', '2026-11-01T00:00:00.000Z')]);
    expect([...novMixed!.rateIds].sort()).toEqual([rateId('gpt-4o', '2026-11-01T00:00:00.000Z'), rateId('claude-3-5-sonnet', '2026-01-01T00:00:00.000Z')].sort());
    expect(noUsage!.rateIds).toEqual([]);
  });

  it('takes revenue from revenue_amount and leaves it null when none was reported', async () => {
    const events = await eventsOf(batch);
    const revenue = batch.eventIds.map((id) => events.get(id)!.revenue?.toString() ?? null);
    expect(revenue).toEqual(['0.05', null, null, null, '1.25', null]);
  });

  it('records usage lines without a rate in an event.rating_incomplete audit row instead of pricing them at zero', async () => {
    const audits = await testPrisma().auditLog.findMany({ where: { organizationId, action: 'event.rating_incomplete' } });
    expect(audits).toHaveLength(1);
    expect(audits[0]!.entityId).toBe(batch.eventIds[5]);
    expect(audits[0]!.after).toMatchObject({ pricedCost: '0.002', unpricedLines: [{ vendor: 'mistral', model: 'mistral-large', input_tokens: 10, output_tokens: 10 }] });
  });

  it('marks the processing batch processed with one batch.processed audit row', async () => {
    const prisma = testPrisma();
    const row = await prisma.processingBatch.findUniqueOrThrow({ where: { id: batch.batchId } });
    expect(row.status).toBe('processed');
    expect(row.processedAt).not.toBeNull();
    expect(row.workflowId).toBe(ingestWorkflowId(batch.batchId));
    const audits = await prisma.auditLog.findMany({ where: { organizationId, action: 'batch.processed', entityId: batch.batchId } });
    expect(audits).toHaveLength(1);
    expect(audits[0]!.entityType).toBe('processing_batch');
    expect(audits[0]!.before).toEqual({ status: 'workflow_started' });
    expect(audits[0]!.after).toEqual({ status: 'processed', requests: 1, ratedEvents: 6 });
  });

  it('links a known customer in a later batch without creating it again', async () => {
    const prisma = testPrisma();
    const later = await insertBatch(prisma, organizationId, [
      { customerExternalId: 'acme', timestamp: '2026-11-05T10:00:00Z', vendorUsage: [gpt4o(1_234, 567)] },
      { customerExternalId: 'hooli', timestamp: '2026-11-05T10:00:00Z' },
    ]);
    const workflowId = await startBatchWorkflow(prisma, env.client, later, env.taskQueue);
    expect(await env.client.workflow.getHandle(workflowId).result()).toMatchObject({ customersCreated: 1, eventsRated: 2 });

    const acme = await prisma.customer.findMany({ where: { organizationId, externalId: 'acme' } });
    expect(acme).toHaveLength(1);
    const acmeAudits = await prisma.auditLog.count({ where: { organizationId, action: 'customer.created', entityId: acme[0]!.id } });
    expect(acmeAudits).toBe(1);
    const events = await eventsOf(later);
    expect(events.get(later.eventIds[0]!)!.customerId).toBe(acme[0]!.id);
    // Same tokens as the first event, November prices: 0.002468 + 0.004536.
    expect(events.get(later.eventIds[0]!)!.cost!.toString()).toBe('0.007004');
  });
});

import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../../prisma/client';
import { writeAudit } from '../../prisma/audit';
import { startIngestWorkflow } from '../../temporal/ingest';
import type { TokenUsage } from '../../billing/token-cost';

export interface TestEvent {
  customerExternalId: string;
  timestamp: string;
  eventType?: string;
  quantity?: string;
  idempotencyKey?: string;
  feature?: string;
  vendorUsage?: TokenUsage[] | unknown[];
  revenueAmount?: string;
  currency?: string;
}

export interface InsertedBatch {
  batchId: string;
  organizationId: string;
  eventIds: string[];
}

/**
 * Writes a batch the way the ingest API does — the `ingest_batches` row
 * (`accepted`), its `pending` events without customer, and the
 * `batch.accepted` audit row, in one transaction — so workflow tests do not
 * depend on the API. `createdAt` backdates the batch for sweeper tests.
 */
export async function insertBatch(
  prisma: PrismaClient,
  organizationId: string,
  events: TestEvent[],
  options: { apiKeyId?: string; createdAt?: Date } = {},
): Promise<InsertedBatch> {
  const batchId = randomUUID();
  const eventIds = events.map(() => randomUUID());
  await prisma.$transaction(async (tx) => {
    await tx.ingestBatch.create({
      data: {
        id: batchId,
        organizationId,
        apiKeyId: options.apiKeyId ?? null,
        received: events.length,
        accepted: events.length,
        duplicates: 0,
        rejected: 0,
        status: 'accepted',
        ...(options.createdAt ? { createdAt: options.createdAt } : {}),
      },
    });
    await tx.usageEvent.createMany({
      data: events.map((e, i) => ({
        id: eventIds[i],
        organizationId,
        batchId,
        idempotencyKey: e.idempotencyKey ?? randomUUID(),
        customerExternalId: e.customerExternalId,
        eventType: e.eventType ?? 'llm_call',
        feature: e.feature ?? null,
        quantity: e.quantity ?? '1',
        timestamp: new Date(e.timestamp),
        vendorUsage: (e.vendorUsage ?? []) as object[],
        revenueAmount: e.revenueAmount ?? null,
        currency: e.currency ?? null,
      })),
    });
    await writeAudit(tx, {
      organizationId,
      actor: options.apiKeyId ? { type: 'api_key', id: options.apiKeyId } : { type: 'system', id: 'test' },
      action: 'batch.accepted',
      entityType: 'ingest_batch',
      entityId: batchId,
      after: { accepted: events.length },
    });
  });
  return { batchId, organizationId, eventIds };
}

/** What the API does after its commit: start `ingest:<batchId>` and record it on the batch. */
export async function startBatchWorkflow(prisma: PrismaClient, client: Client, batch: InsertedBatch, taskQueue: string): Promise<string> {
  const started = await startIngestWorkflow(client, { batchId: batch.batchId, organizationId: batch.organizationId }, taskQueue);
  await prisma.ingestBatch.updateMany({
    where: { id: batch.batchId, status: 'accepted' },
    data: { status: 'workflow_started', workflowId: started.workflowId, runId: started.runId },
  });
  return started.workflowId;
}

import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../../prisma/client';
import { startBatch } from '../../activities/batch-formation';
import { testPool } from './fixtures';
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
  properties?: Record<string, unknown>;
  reservationId?: string;
}

export interface InsertedBatch {
  /** the processing batch (what `ingest:<batchId>` gets); equal to nothing else */
  batchId: string;
  /** the request (ingest_batches row) the events belong to */
  requestId: string;
  organizationId: string;
  eventIds: string[];
}

/**
 * Writes a request the way the ingest API does — the `ingest_batches` row
 * and its `pending` events without customer, in one transaction — and,
 * unless `claim: false`, a processing batch
 * holding exactly that request, as the batcher would claim it. Workflow
 * tests so depend on neither the API nor the batcher's timing. `createdAt`
 * backdates both for sweeper tests.
 */
export async function insertBatch(
  prisma: PrismaClient,
  organizationId: string,
  events: TestEvent[],
  options: { apiKeyId?: string; createdAt?: Date; claim?: boolean } = {},
): Promise<InsertedBatch> {
  const requestId = randomUUID();
  const batchId = randomUUID();
  const eventIds = events.map(() => randomUUID());
  const createdAt = options.createdAt ?? new Date();
  await prisma.$transaction(async (tx) => {
    if (options.claim !== false) {
      await tx.processingBatch.create({
        data: { id: batchId, organizationId, requests: 1, events: events.length, requestIds: [requestId], oldestAcceptedAt: createdAt, createdAt },
      });
    }
    await tx.ingestBatch.create({
      data: {
        id: requestId,
        organizationId,
        apiKeyId: options.apiKeyId ?? null,
        received: events.length,
        accepted: events.length,
        duplicates: 0,
        rejected: 0,
        processingBatchId: options.claim !== false ? batchId : null,
        createdAt,
      },
    });
    await tx.usageEvent.createMany({
      data: events.map((e, i) => ({
        id: eventIds[i],
        organizationId,
        batchId: requestId,
        idempotencyKey: e.idempotencyKey ?? randomUUID(),
        customerExternalId: e.customerExternalId,
        eventType: e.eventType ?? 'llm_call',
        feature: e.feature ?? null,
        quantity: e.quantity ?? '1',
        timestamp: new Date(e.timestamp),
        vendorUsage: (e.vendorUsage ?? []) as object[],
        ...(e.properties ? { properties: e.properties as object } : {}),
        revenueAmount: e.revenueAmount ?? null,
        currency: e.currency ?? null,
        reservationId: e.reservationId ?? null,
      })),
    });
    // Tests insert dozens of these at once through a pool of ten: on a busy machine one may wait more than Prisma's
    // default 2 s for a connection (seen in CI), which is setup, not what those tests check.
  }, { maxWait: 60_000, timeout: 60_000 });
  return { batchId, requestId, organizationId, eventIds };
}

/** What the batcher does after its claim: start `ingest:<batchId>` and record it on the processing batch. */
export async function startBatchWorkflow(_prisma: PrismaClient, client: Client, batch: InsertedBatch, taskQueue: string): Promise<string> {
  const started = await startBatch(testPool(), client, batch, taskQueue);
  return started.workflowId;
}

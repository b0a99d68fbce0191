import type { IngestBatchInput } from '../temporal/ingest';
import { auditRow } from '../prisma/audit';
import { TX_OPTIONS, type ActivityDeps } from './deps';
import { workflowActor } from './workflow-actor';

export interface LinkCustomersResult {
  customersCreated: number;
  eventsLinked: number;
}

/**
 * Creates the customers a batch mentions for the first time and links every
 * pending event to its customer: two set-based statements, whatever the batch
 * size. Both only touch `pending` events, so a second run finds nothing to do.
 */
export function linkCustomers({ prisma }: ActivityDeps) {
  return async function linkCustomers({ batchId, organizationId }: IngestBatchInput): Promise<LinkCustomersResult> {
    const actor = workflowActor();
    return prisma.$transaction(async (tx) => {
      // ORDER BY gives concurrent batches the same insertion order, so two
      // batches creating overlapping new customers wait rather than deadlock.
      const created = await tx.$queryRaw<{ id: string; external_id: string }[]>`
        INSERT INTO customers (id, organization_id, external_id)
        SELECT gen_random_uuid(), ${organizationId}::uuid, external_id
        FROM (
          SELECT DISTINCT customer_external_id AS external_id
          FROM usage_events
          WHERE batch_id = ${batchId}::uuid AND organization_id = ${organizationId}::uuid AND status = 'pending'
          ORDER BY 1
        ) AS first_seen
        ON CONFLICT (organization_id, external_id) DO NOTHING
        RETURNING id, external_id`;
      if (created.length > 0) {
        await tx.auditLog.createMany({
          data: created.map((customer) =>
            auditRow({
              organizationId,
              actor,
              action: 'customer.created',
              entityType: 'customer',
              entityId: customer.id,
              after: { externalId: customer.external_id, firstBatchId: batchId },
            }),
          ),
        });
      }
      const eventsLinked = await tx.$executeRaw`
        UPDATE usage_events AS e
        SET customer_id = c.id, status = 'customer_linked'
        FROM customers AS c
        WHERE e.batch_id = ${batchId}::uuid
          AND e.organization_id = ${organizationId}::uuid
          AND e.status = 'pending'
          AND c.organization_id = e.organization_id
          AND c.external_id = e.customer_external_id`;
      return { customersCreated: created.length, eventsLinked };
    }, TX_OPTIONS);
  };
}

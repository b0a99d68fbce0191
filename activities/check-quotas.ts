import type { IngestBatchInput } from '../temporal/ingest';
import { auditRow, type AuditActor } from '../prisma/audit';
import type { Prisma, PrismaClient } from '../prisma/client';
import { toPlainString } from '../billing/decimal';
import type { QuotaLevel } from '../billing/quota';
import { TX_OPTIONS, type ActivityDeps } from './deps';
import { refreshCounters, touchedCounters, type RefreshedCounter } from './quota-counters';
import { workflowActor } from './workflow-actor';

export interface CheckQuotasResult {
  countersUpdated: number;
  notificationsCreated: number;
  /** the organization's notifications still waiting for delivery, from this batch or earlier ones */
  notificationsPending: number;
}

/**
 * Brings every quota counter the batch touched up to date (see
 * refreshCounters) and raises one notification per customer, limit, window
 * and level crossed — for SOFT limits, and for HARD ones nearing or at their
 * limit too. Reaching `exceeded` in one step skips the warning: the higher
 * level says more.
 */
export function checkQuotas({ prisma }: ActivityDeps) {
  return async function checkQuotas({ batchId, organizationId }: IngestBatchInput): Promise<CheckQuotasResult> {
    const actor = workflowActor();
    const touched = await touchedCounters(prisma, batchId, organizationId);
    const notificationsCreated =
      touched.length === 0
        ? 0
        : await prisma.$transaction(async (tx) => {
            const refreshed = await refreshCounters(tx, batchId, touched);
            return raiseNotifications(tx, { organizationId, batchId, actor }, refreshed);
          }, TX_OPTIONS);
    return { countersUpdated: touched.length, notificationsCreated, notificationsPending: await pendingNotifications(prisma, organizationId) };
  };
}

function quotaDedupeKey(limitId: string, customerExternalId: string, windowStart: Date, level: QuotaLevel): string {
  return `quota:${limitId}:${customerExternalId}:${windowStart.toISOString()}:${level}`;
}

/**
 * Inserts the notifications for counters at a level, skipping any already
 * raised: the table's unique dedupe key makes "once" a database fact, also
 * for two batches racing. Only a notification this run inserted gets its
 * `quota.warning` / `quota.exceeded` audit row, in the same transaction.
 */
async function raiseNotifications(
  tx: Prisma.TransactionClient,
  context: { organizationId: string; batchId: string; actor: AuditActor },
  counters: RefreshedCounter[],
): Promise<number> {
  const crossings = counters.flatMap((c) => {
    if (!c.level) return [];
    const payload = {
      limitId: c.limit.id,
      mode: c.limit.mode,
      eventType: c.eventType,
      customerExternalId: c.customerExternalId,
      level: c.level,
      limit: c.limit.limitValue.toString(),
      used: toPlainString(c.used),
      softWarningPercent: c.limit.softWarningPercent,
      windowStart: c.windowStart.toISOString(),
      windowEnd: c.windowEnd?.toISOString() ?? null,
    };
    return [{ counterId: c.counterId, kind: `quota.${c.level}`, dedupeKey: quotaDedupeKey(c.limit.id, c.customerExternalId, c.windowStart, c.level), payload }];
  });
  if (crossings.length === 0) return 0;

  const inserted = await tx.$queryRaw<{ id: string; dedupe_key: string }[]>`
    INSERT INTO notifications (id, organization_id, kind, dedupe_key, payload)
    SELECT gen_random_uuid(), ${context.organizationId}::uuid, n.kind, n.dedupe_key, n.payload::jsonb
    FROM unnest(${crossings.map((c) => c.kind)}::text[], ${crossings.map((c) => c.dedupeKey)}::text[], ${crossings.map((c) => JSON.stringify(c.payload))}::text[])
      AS n(kind, dedupe_key, payload)
    ORDER BY n.dedupe_key
    ON CONFLICT (organization_id, dedupe_key) DO NOTHING
    RETURNING id, dedupe_key`;
  const byKey = new Map(crossings.map((c) => [c.dedupeKey, c]));
  const audits = inserted.flatMap((row) => {
    const crossing = byKey.get(row.dedupe_key);
    if (!crossing) return [];
    return [
      auditRow({
        organizationId: context.organizationId,
        actor: context.actor,
        action: crossing.kind,
        entityType: 'quota_counter',
        entityId: crossing.counterId,
        after: { ...crossing.payload, notificationId: row.id, batchId: context.batchId },
      }),
    ];
  });
  if (audits.length > 0) await tx.auditLog.createMany({ data: audits });
  return inserted.length;
}

async function pendingNotifications(prisma: PrismaClient, organizationId: string): Promise<number> {
  return prisma.notification.count({ where: { organizationId, deliveredAt: null } });
}

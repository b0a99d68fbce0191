import { writeAudit } from '../prisma/audit';
import { TX_OPTIONS, type ActivityDeps } from './deps';
import { workflowActor } from './workflow-actor';

export interface DeliverNotificationsInput {
  organizationId: string;
  /** stop after this many, so one call stays short; the next call picks up the rest */
  max?: number;
}

interface ClaimedNotification {
  id: string;
  kind: string;
  dedupe_key: string;
  payload: unknown;
  created_at: Date;
}

/**
 * Sends the organization's undelivered notifications, oldest first.
 *
 * Each one is claimed with FOR UPDATE SKIP LOCKED inside its own transaction,
 * sent, and marked delivered (with an audit row) before that transaction
 * commits. A concurrent deliverer skips the claimed row and a delivered row
 * is never selected again, so nothing is sent twice by two workers or by a
 * retry after success. If sending throws, the transaction rolls back and the
 * row stays undelivered for the retry — an alert is not lost to a transient
 * channel failure. The one remaining window, a crash after the channel
 * accepted the message but before the commit, is why channels get the
 * dedupe key.
 */
export function deliverNotifications({ prisma, notifier }: ActivityDeps) {
  return async function deliverNotifications({ organizationId, max = 100 }: DeliverNotificationsInput): Promise<{ delivered: number }> {
    const actor = workflowActor();
    let delivered = 0;
    while (delivered < max) {
      const sent = await prisma.$transaction(async (tx) => {
        const [row] = await tx.$queryRaw<ClaimedNotification[]>`
          SELECT id, kind, dedupe_key, payload, created_at FROM notifications
          WHERE organization_id = ${organizationId}::uuid AND delivered_at IS NULL
          ORDER BY created_at, id
          LIMIT 1
          FOR UPDATE SKIP LOCKED`;
        if (!row) return false;
        await notifier.send({ id: row.id, organizationId, kind: row.kind, dedupeKey: row.dedupe_key, payload: row.payload, createdAt: row.created_at });
        await tx.notification.update({ where: { id: row.id }, data: { deliveredAt: new Date() } });
        await writeAudit(tx, {
          organizationId,
          actor,
          action: 'notification.delivered',
          entityType: 'notification',
          entityId: row.id,
          after: { kind: row.kind, dedupeKey: row.dedupe_key },
        });
        return true;
      }, TX_OPTIONS);
      if (!sent) break;
      delivered += 1;
    }
    return { delivered };
  };
}

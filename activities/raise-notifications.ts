import { insertAuditRows, type AuditActor, type AuditEntry } from '../prisma/audit';
import type { Queryable } from '../prisma/pg';
import { pgRawDb } from '../prisma/raw-db';
import { emitWebhookEvents, notificationWebhookEvents } from '../prisma/webhook-events';

/** A notification a step raises (a quota crossed, a wallet running low), with the entity its audit row names. */
export interface RaisedNotification {
  kind: string;
  dedupeKey: string;
  payload: Record<string, unknown>;
  entityType: string;
  entityId: string;
}

/** Who raises notifications, and what raised them (merged into each audit row: the ingest batch, the expired grant). */
export interface RaisingContext {
  organizationId: string;
  actor: AuditActor;
  source: Record<string, unknown>;
}

/**
 * Inserts notifications into the outbox, skipping any already raised: the
 * table's unique dedupe key makes "once" a database fact, also for two
 * steps racing. Only a notification this run inserted gets its webhook
 * event and its audit row (action: its kind), in the same transaction.
 */
export async function raiseNotifications(db: Queryable, ctx: RaisingContext, raised: readonly RaisedNotification[]): Promise<number> {
  if (raised.length === 0) return 0;
  const { rows: inserted } = await db.query<{ id: string; dedupe_key: string }>({
    name: 'ingest-raise-notifications',
    text: `INSERT INTO notifications (id, organization_id, kind, dedupe_key, payload)
           SELECT gen_random_uuid(), $1, n.kind, n.dedupe_key, n.payload::jsonb
             FROM unnest($2::text[], $3::text[], $4::text[]) AS n(kind, dedupe_key, payload)
            ORDER BY n.dedupe_key
           ON CONFLICT (organization_id, dedupe_key) DO NOTHING
           RETURNING id, dedupe_key`,
    values: [ctx.organizationId, raised.map((c) => c.kind), raised.map((c) => c.dedupeKey), raised.map((c) => JSON.stringify(c.payload))],
  });
  const byKey = new Map(raised.map((c) => [c.dedupeKey, c]));
  await emitWebhookEvents(pgRawDb(db), ctx.organizationId, notificationWebhookEvents(inserted.flatMap((row) => byKey.get(row.dedupe_key) ?? [])));
  const audits = inserted.flatMap((row): AuditEntry[] => {
    const n = byKey.get(row.dedupe_key);
    if (!n) return [];
    return [{ organizationId: ctx.organizationId, actor: ctx.actor, action: n.kind, entityType: n.entityType, entityId: n.entityId, after: { ...n.payload, notificationId: row.id, ...ctx.source } }];
  });
  await insertAuditRows(db, audits);
  return inserted.length;
}

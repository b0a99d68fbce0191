import { formatMoney, toStripeAmount } from '../billing/currency';
import { dec } from '../billing/decimal';
import { snakeCaseKeys, webhookTypeOfNotification, type WebhookEventType } from '../billing/webhooks';
import { Prisma } from './generated/client';
import type { RawDb } from './raw-db';

/*
 * Emitting an outbound webhook event: one statement, run inside the
 * transaction of the change the event reports, so an event exists exactly
 * when its change committed. An event no endpoint of the organization takes
 * is not stored at all (most organizations have none, and the period close
 * runs thousands of times). The statement stores the event (once per key:
 * a retried activity or a replayed run adds nothing), creates a delivery for
 * each enabled endpoint of the organization subscribed to its type, and
 * NOTIFYs the worker's dispatcher (worker/webhook-dispatcher.ts), which
 * PostgreSQL delivers only on commit.
 */

export const WEBHOOK_CHANNEL = 'ledgerflow_webhooks';

/** Where an endpoint's signing secret is sealed (prisma/secret-box.ts): bound to the endpoint's row. */
export const endpointSecretPlace = (endpointId: string) => `webhook_endpoints.secret_enc:${endpointId}`;

/** An enabled endpoint of the organization takes events of `type` (a column or a value). */
const subscribed = (organizationId: string, type: Prisma.Sql) => Prisma.sql`
  SELECT 1 FROM webhook_endpoints w
   WHERE w.organization_id = ${organizationId}::uuid AND w.enabled AND (cardinality(w.event_types) = 0 OR ${type}::text = ANY (w.event_types))`;

/** Whether an enabled endpoint of the organization takes events of `type`, as a SQL boolean (a column of a larger read). */
export const eventWantedSql = (organizationId: string, type: WebhookEventType): Prisma.Sql => Prisma.sql`EXISTS (${subscribed(organizationId, Prisma.sql`${type}`)})`;

const EMIT_SQL = (organizationId: string, types: string[], keys: string[], payloads: string[]) => Prisma.sql`
  WITH event AS (
    INSERT INTO webhook_events (id, organization_id, type, event_key, payload)
    SELECT gen_random_uuid(), ${organizationId}::uuid, e.type, e.event_key, e.payload::jsonb
      FROM unnest(${types}::text[], ${keys}::text[], ${payloads}::text[]) AS e(type, event_key, payload)
     WHERE EXISTS (${subscribed(organizationId, Prisma.sql`e.type`)})
    ON CONFLICT (organization_id, event_key) DO NOTHING
    RETURNING id, organization_id, type
  ), deliveries AS (
    INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_id)
    SELECT gen_random_uuid(), e.organization_id, w.id, e.id
      FROM event e JOIN webhook_endpoints w
        ON w.organization_id = e.organization_id AND w.enabled
       AND (cardinality(w.event_types) = 0 OR e.type = ANY (w.event_types))
    RETURNING organization_id
  )
  SELECT count(*)::int AS notified
    FROM (SELECT pg_notify(${WEBHOOK_CHANNEL}, organization_id::text) FROM (SELECT DISTINCT organization_id FROM deliveries) d) n`;

export interface WebhookEventInput {
  type: WebhookEventType;
  /** unique per organization: the change the event reports, e.g. `invoice.paid:<invoiceId>` */
  key: string;
  payload: unknown;
}

/**
 * Emits events inside the caller's transaction: a Prisma transaction client,
 * or a pg connection through pgRawDb (the ingest path and the period close).
 */
export async function emitWebhookEvents(db: RawDb, organizationId: string, events: readonly WebhookEventInput[]): Promise<void> {
  if (events.length === 0) return;
  await db.$queryRaw(EMIT_SQL(organizationId, events.map((e) => e.type), events.map((e) => e.key), events.map((e) => JSON.stringify(e.payload))));
}

/**
 * The webhook events of notifications just queued (quota, margin, leak kinds;
 * other kinds are staff-only), without the link to the Temporal UI run: that
 * is the deployment's operators' address, not the organization's.
 */
export function notificationWebhookEvents(notifications: readonly { kind: string; dedupeKey: string; payload: unknown }[]): WebhookEventInput[] {
  return notifications.flatMap((n) => {
    const type = webhookTypeOfNotification(n.kind);
    if (!type) return [];
    const { workflowUrl: _operators, ...payload } = (n.payload ?? {}) as Record<string, unknown>;
    return [{ type, key: `${type}:${n.dedupeKey}`, payload: snakeCaseKeys(payload) }];
  });
}

type InvoiceEventType = Extract<WebhookEventType, `invoice.${string}`>;

interface InvoiceEventRow {
  id: string;
  number: string | null;
  kind: string;
  revision: number;
  status: string;
  customer_external_id: string;
  subscription_id: string;
  currency: string;
  total: string;
  period_start: Date;
  period_end: Date;
  collection_method: string | null;
  due_at: Date | null;
  hosted_invoice_url: string | null;
  stripe_invoice_id: string | null;
  finalized_at: Date | null;
  paid_at: Date | null;
  uncollectible_at: Date | null;
}

/**
 * Emits an invoice event with the invoice as this transaction sees it (so a
 * `paid` event carries `paid_at`). Keyed by type and invoice: one of each per
 * invoice, whichever path made the change. A caller that already asked
 * (eventWantedSql in a statement of its own) says so with `known.wanted`.
 */
export async function emitInvoiceEvent(db: RawDb, organizationId: string, invoiceId: string, type: InvoiceEventType, known: { wanted?: boolean } = {}): Promise<void> {
  if (!known.wanted) {
    const [wanted] = await db.$queryRaw<{ any: boolean }[]>`SELECT ${eventWantedSql(organizationId, type)} AS any`;
    if (!wanted?.any) return;
  }
  const [i] = await db.$queryRaw<InvoiceEventRow[]>`
    SELECT i.id::text, i.number, i.kind, i.revision, i.status::text AS status, c.external_id AS customer_external_id, i.subscription_id::text,
           i.currency, i.total::text AS total, i.period_start, i.period_end, i.collection_method, i.due_at, i.hosted_invoice_url,
           i.stripe_invoice_id, i.finalized_at, i.paid_at, i.uncollectible_at
      FROM invoices i JOIN customers c ON c.id = i.customer_id
     WHERE i.id = ${invoiceId}::uuid AND i.organization_id = ${organizationId}::uuid`;
  if (!i) throw new Error(`invoice ${invoiceId} not found in organization ${organizationId}`);
  const total = dec(i.total);
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  const payload = {
    invoice_id: i.id,
    number: i.number,
    kind: i.kind,
    revision: i.revision,
    status: i.status,
    customer_external_id: i.customer_external_id,
    subscription_id: i.subscription_id,
    currency: i.currency,
    total: formatMoney(total, i.currency),
    total_minor: toStripeAmount(total, i.currency),
    period_start: i.period_start.toISOString(),
    period_end: i.period_end.toISOString(),
    collection_method: i.collection_method,
    due_at: iso(i.due_at),
    hosted_invoice_url: i.hosted_invoice_url,
    stripe_invoice_id: i.stripe_invoice_id,
    finalized_at: iso(i.finalized_at),
    paid_at: iso(i.paid_at),
    uncollectible_at: iso(i.uncollectible_at),
  };
  await emitWebhookEvents(db, organizationId, [{ type, key: `${type}:${i.id}`, payload }]);
}

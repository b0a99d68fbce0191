import { randomUUID } from 'node:crypto';
import { dec, toPlainString, type Dec } from '../billing/decimal';
import { writeAudit, type AuditActor } from './audit';
import { ensureWallet, insertGrant } from './credit-ledger';
import { Prisma } from './generated/client';
import type { RawDb } from './raw-db';
import { STRIPE_UNREACHABLE } from '../temporal/top-up-failure';

/*
 * Credit top-ups (issue 15, point 6): credits bought through a Stripe
 * invoice. A top-up row is written first (by the API, or by the ingest batch
 * whose burn left a wallet below its automatic top-up threshold); its
 * workflow, credit-top-up:<id>, charges it; the grant is made once, when the
 * payment succeeds (grantTopUp: grant key top-up:<id>, under the top-up's row
 * lock), whether the workflow or a later invoice.paid webhook sees it first.
 */

export type TopUpStatus = 'pending' | 'paid' | 'failed';

export interface TopUpRow {
  id: string;
  walletId: string;
  customerId: string;
  customerExternalId: string;
  automatic: boolean;
  credits: Dec;
  pricePerCredit: Dec;
  currency: string;
  status: TopUpStatus;
  stripeInvoiceId: string | null;
  /** paid by invoice: the customer pays Stripe's page (hostedInvoiceUrl) by then; null: charged to the card on file */
  payBy: Date | null;
  hostedInvoiceUrl: string | null;
  grantId: string | null;
  failure: string | null;
  idempotencyKey: string;
  createdAt: Date;
  settledAt: Date | null;
}

type TopUpColumns = {
  id: string;
  wallet_id: string;
  customer_id: string;
  external_id: string;
  automatic: boolean;
  credits: string;
  price_per_credit: string;
  currency: string;
  status: TopUpStatus;
  stripe_invoice_id: string | null;
  pay_by: Date | null;
  hosted_invoice_url: string | null;
  grant_id: string | null;
  failure: string | null;
  idempotency_key: string;
  created_at: Date;
  settled_at: Date | null;
};

const topUpRow = (r: TopUpColumns): TopUpRow => ({
  id: r.id,
  walletId: r.wallet_id,
  customerId: r.customer_id,
  customerExternalId: r.external_id,
  automatic: r.automatic,
  credits: dec(r.credits),
  pricePerCredit: dec(r.price_per_credit),
  currency: r.currency,
  status: r.status,
  stripeInvoiceId: r.stripe_invoice_id,
  payBy: r.pay_by,
  hostedInvoiceUrl: r.hosted_invoice_url,
  grantId: r.grant_id,
  failure: r.failure,
  idempotencyKey: r.idempotency_key,
  createdAt: r.created_at,
  settledAt: r.settled_at,
});

const TOP_UP_SELECT = Prisma.sql`
  SELECT t.id, t.wallet_id, w.customer_id, c.external_id, t.automatic, t.credits::text AS credits, t.price_per_credit::text AS price_per_credit, t.currency,
         t.status::text AS status, t.stripe_invoice_id, t.pay_by, t.hosted_invoice_url, t.grant_id, t.failure, t.idempotency_key, t.created_at, t.settled_at
  FROM credit_top_ups t JOIN credit_wallets w ON w.id = t.wallet_id JOIN customers c ON c.id = w.customer_id`;

/** A wallet's latest top-ups, newest first. */
export async function recentTopUps(db: RawDb, organizationId: string, walletId: string, limit: number): Promise<TopUpRow[]> {
  const rows = await db.$queryRaw<TopUpColumns[]>`${TOP_UP_SELECT} WHERE t.organization_id = ${organizationId}::uuid AND t.wallet_id = ${walletId}::uuid ORDER BY t.created_at DESC, t.id LIMIT ${limit}`;
  return rows.map(topUpRow);
}

/** One of the organization's top-ups, or null; `lock` takes its row lock for the rest of the transaction. */
export async function readTopUp(db: RawDb, organizationId: string, id: string, lock = false): Promise<TopUpRow | null> {
  const [row] = await db.$queryRaw<TopUpColumns[]>`${TOP_UP_SELECT} WHERE t.organization_id = ${organizationId}::uuid AND t.id = ${id}::uuid ${lock ? Prisma.sql`FOR UPDATE OF t` : Prisma.empty}`;
  return row ? topUpRow(row) : null;
}

/** A top-up asked for (idempotent on its key: a repeat answers the first one). */
export async function insertTopUp(
  db: RawDb,
  q: { organizationId: string; customerId: string; credits: Dec; pricePerCredit: Dec; currency: string; payBy?: Date | null; idempotencyKey: string; createdBy: string },
): Promise<{ topUp: TopUpRow; created: boolean }> {
  const walletId = await ensureWallet(db, q.organizationId, q.customerId);
  const [inserted] = await db.$queryRaw<{ id: string }[]>`
    INSERT INTO credit_top_ups (id, organization_id, wallet_id, credits, price_per_credit, currency, pay_by, idempotency_key, created_by)
    VALUES (${randomUUID()}::uuid, ${q.organizationId}::uuid, ${walletId}::uuid, ${toPlainString(q.credits)}::numeric, ${toPlainString(q.pricePerCredit)}::numeric,
            ${q.currency}, ${q.payBy ?? null}::timestamptz, ${q.idempotencyKey}, ${q.createdBy})
    ON CONFLICT (organization_id, idempotency_key) DO NOTHING RETURNING id`;
  const id = inserted?.id ?? (await db.$queryRaw<{ id: string }[]>`SELECT id FROM credit_top_ups WHERE organization_id = ${q.organizationId}::uuid AND idempotency_key = ${q.idempotencyKey}`)[0]!.id;
  return { topUp: (await readTopUp(db, q.organizationId, id))!, created: inserted !== undefined };
}

/** An automatic top-up a wallet's settings ask for. */
export interface AutoTopUp {
  walletId: string;
  credits: Dec;
  pricePerCredit: Dec;
  currency: string;
}

/**
 * Queues automatic top-ups (in the ingest batch's transaction): one per
 * wallet that has none unfinished, which a partial unique index makes a
 * database fact, and none for a wallet whose automatic top-up is paused
 * (its last one failed: charging the same card again on every batch would
 * repeat the decline and the alert). Returns the ids queued now (their workflows are started
 * after the commit, or by the sweeper).
 */
export async function queueAutoTopUps(db: RawDb, organizationId: string, createdBy: string, topUps: readonly AutoTopUp[]): Promise<string[]> {
  if (topUps.length === 0) return [];
  const ids = topUps.map(() => randomUUID());
  const rows = await db.$queryRaw<{ id: string }[]>`
    INSERT INTO credit_top_ups (id, organization_id, wallet_id, automatic, credits, price_per_credit, currency, idempotency_key, created_by)
    SELECT n.id, ${organizationId}::uuid, n.wallet_id, true, n.credits, n.price_per_credit, n.currency, 'auto:' || n.id::text, ${createdBy}
    FROM unnest(${ids}::uuid[], ${topUps.map((t) => t.walletId)}::uuid[], ${topUps.map((t) => toPlainString(t.credits))}::numeric[],
                ${topUps.map((t) => toPlainString(t.pricePerCredit))}::numeric[], ${topUps.map((t) => t.currency)}::text[])
         AS n(id, wallet_id, credits, price_per_credit, currency)
    JOIN credit_wallets w ON w.id = n.wallet_id
    WHERE w.auto_top_up_paused_at IS NULL
    ORDER BY n.wallet_id
    ON CONFLICT (wallet_id) WHERE automatic AND status = 'pending' DO NOTHING
    RETURNING id`;
  return rows.map((r) => r.id);
}

/** Stores the Stripe invoice a top-up is charged through (the first one only). */
export async function storeTopUpInvoice(db: RawDb, topUpId: string, stripeInvoiceId: string): Promise<void> {
  await db.$executeRaw`UPDATE credit_top_ups SET stripe_invoice_id = ${stripeInvoiceId} WHERE id = ${topUpId}::uuid AND stripe_invoice_id IS NULL`;
}

/** A top-up paid by invoice: the page of Stripe's where the customer pays it, once the invoice is sent. */
export async function storeTopUpPayPage(db: RawDb, topUpId: string, hostedInvoiceUrl: string): Promise<void> {
  await db.$executeRaw`UPDATE credit_top_ups SET hosted_invoice_url = ${hostedInvoiceUrl} WHERE id = ${topUpId}::uuid`;
}

/**
 * The top-up is paid: grants its credits, once (grant key top-up:<id>), and
 * marks it paid. A top-up marked failed that is paid after all (the customer
 * paid the Stripe invoice later) is granted too: the money came in.
 * `granted` is false when it was granted before. With `stripeInvoiceId`
 * (a webhook's paid invoice), nothing is granted unless it is the invoice
 * the top-up is charged through: `granted: 'other_invoice'`.
 * A paid top-up shows the wallet's card works: a paused automatic top-up
 * resumes.
 */
export async function grantTopUp(
  db: RawDb,
  q: { organizationId: string; topUpId: string; createdBy: string; now: Date; stripeInvoiceId?: string },
): Promise<{ topUp: TopUpRow; granted: boolean | 'other_invoice' } | null> {
  await lockTopUpWallet(db, q.organizationId, q.topUpId);
  const topUp = await readTopUp(db, q.organizationId, q.topUpId, true);
  if (!topUp) return null;
  if (q.stripeInvoiceId !== undefined && topUp.stripeInvoiceId !== q.stripeInvoiceId) return { topUp, granted: 'other_invoice' };
  if (topUp.status === 'paid') return { topUp, granted: false };
  const { grantId } = await insertGrant(db, {
    organizationId: q.organizationId,
    walletId: topUp.walletId,
    kind: 'purchased',
    credits: topUp.credits,
    priority: 100,
    expiresAt: null,
    pricePerCredit: topUp.pricePerCredit,
    currency: topUp.currency,
    description: `${topUp.automatic ? 'Automatic top-up' : 'Top-up'} ${topUp.id}`,
    idempotencyKey: `top-up:${topUp.id}`,
    createdBy: q.createdBy,
  });
  await db.$executeRaw`UPDATE credit_top_ups SET status = 'paid', grant_id = ${grantId}::uuid, failure = NULL, settled_at = ${q.now} WHERE id = ${q.topUpId}::uuid`;
  await db.$executeRaw`UPDATE credit_wallets SET auto_top_up_paused_at = NULL, auto_top_up_paused_reason = NULL WHERE id = ${topUp.walletId}::uuid AND auto_top_up_paused_at IS NOT NULL`;
  return { topUp: (await readTopUp(db, q.organizationId, q.topUpId))!, granted: true };
}

/**
 * Takes the row lock of the top-up's wallet, before the top-up's own: the
 * order an ingest batch takes them in (its burn locks the wallet, then
 * queueing an automatic top-up meets the top-up's row), so the two never wait
 * on each other in a circle.
 */
async function lockTopUpWallet(db: RawDb, organizationId: string, topUpId: string): Promise<void> {
  await db.$queryRaw`SELECT w.id FROM credit_wallets w JOIN credit_top_ups t ON t.wallet_id = w.id WHERE t.id = ${topUpId}::uuid AND t.organization_id = ${organizationId}::uuid FOR UPDATE OF w`;
}

/**
 * The top-up could not be charged: marked failed with the reason (only from
 * pending); an automatic top-up the card failed (declined, none on file) pauses the wallet's automatic top-up.
 * `failed` is false when it was settled before.
 */
export async function failTopUp(db: RawDb, q: { organizationId: string; topUpId: string; reason: string; now: Date }): Promise<{ topUp: TopUpRow; failed: boolean } | null> {
  await lockTopUpWallet(db, q.organizationId, q.topUpId);
  const topUp = await readTopUp(db, q.organizationId, q.topUpId, true);
  if (!topUp) return null;
  if (topUp.status !== 'pending') return { topUp, failed: false };
  await db.$executeRaw`UPDATE credit_top_ups SET status = 'failed', failure = ${q.reason}, settled_at = ${q.now} WHERE id = ${q.topUpId}::uuid`;
  // (only a card's problem pauses it: Stripe unreachable for an hour is not the customer's, and would otherwise
  // leave every wallet that topped up during an incident paused until someone steps in)
  if (topUp.automatic && !q.reason.startsWith(STRIPE_UNREACHABLE)) await db.$executeRaw`UPDATE credit_wallets SET auto_top_up_paused_at = ${q.now}, auto_top_up_paused_reason = ${q.reason} WHERE id = ${topUp.walletId}::uuid`;
  return { topUp: (await readTopUp(db, q.organizationId, q.topUpId))!, failed: true };
}

/** Pending top-ups asked for more than `olderThanMs` ago (the sweeper starts their workflows, which may never have been started). */
export async function pendingTopUps(db: RawDb, olderThanMs: number, limit: number): Promise<{ id: string; organizationId: string }[]> {
  const rows = await db.$queryRaw<{ id: string; organization_id: string }[]>`
    SELECT id, organization_id FROM credit_top_ups WHERE status = 'pending' AND created_at < now() - ${olderThanMs} * interval '1 millisecond' ORDER BY created_at LIMIT ${limit}`;
  return rows.map((r) => ({ id: r.id, organizationId: r.organization_id }));
}

/** Audits a top-up's grant (the workflow's, or a late webhook's). */
export async function auditGranted(
  db: Parameters<typeof writeAudit>[0],
  organizationId: string,
  actor: AuditActor,
  topUp: TopUpRow,
): Promise<void> {
  await writeAudit(db, {
    organizationId,
    actor,
    action: 'credits.top_up_paid',
    entityType: 'credit_top_up',
    entityId: topUp.id,
    after: { customer: topUp.customerExternalId, credits: topUp.credits.toFixed(), grantId: topUp.grantId, stripeInvoiceId: topUp.stripeInvoiceId },
  });
}

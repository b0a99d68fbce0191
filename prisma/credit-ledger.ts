import { randomUUID } from 'node:crypto';
import { planBurn, type Draw, type GrantBalance, type GrantKind } from '../billing/credit-burn';
import { dec, toPlainString, type Dec } from '../billing/decimal';
import { Prisma } from './generated/client';
import type { RawDb } from './raw-db';

/*
 * The prepaid-credit ledger (issue 15). Every step is a credit_transactions
 * row under a natural key (running it twice writes it once) with entries
 * that each move credits between a grant's account and one of the
 * organization's (issuance, usage, breakage). A grant's balance is derived
 * from its entries: each entry carries the grant's balance after it, written
 * once with the entry (under the wallet's lock, so in seq order), and the
 * latest one is the balance; no row is ever updated, so nothing can drift
 * from the entries (test/credits-ledger.test.ts sums them to check). Rows
 * are append-only (a trigger refuses UPDATE and DELETE).
 *
 * Every write takes the wallet's row lock first, so the steps on one wallet
 * (grants, burns, expiries) take turns and a burn plans against balances no
 * one else is changing. Callers run these inside a database transaction.
 */

/** A grant with its balance as the ledger derives it. */
export interface GrantRow extends GrantBalance {
  kind: GrantKind;
  credits: Dec;
  pricePerCredit: Dec;
  currency: string;
  description: string | null;
  idempotencyKey: string;
}

/** The wallet of a customer, made on first use. */
export async function ensureWallet(db: RawDb, organizationId: string, customerId: string): Promise<string> {
  await db.$executeRaw`
    INSERT INTO credit_wallets (id, organization_id, customer_id) VALUES (${randomUUID()}::uuid, ${organizationId}::uuid, ${customerId}::uuid)
    ON CONFLICT (customer_id) DO NOTHING`;
  const [row] = await db.$queryRaw<{ id: string }[]>`SELECT id FROM credit_wallets WHERE customer_id = ${customerId}::uuid AND organization_id = ${organizationId}::uuid`;
  if (!row) throw new Error(`customer ${customerId} is not in organization ${organizationId}`);
  return row.id;
}

async function lockWallet(db: RawDb, walletId: string): Promise<void> {
  await db.$queryRaw`SELECT id FROM credit_wallets WHERE id = ${walletId}::uuid FOR UPDATE`;
}

/** A grant's account (what it received minus what it gave): the balance its latest entry left, one index probe. */
const GRANT_BALANCE = Prisma.sql`COALESCE((SELECT x.balance_after FROM credit_ledger_entries x WHERE x.grant_id = g.id ORDER BY x.seq DESC LIMIT 1), 0)`;

/** A wallet's grants, oldest first, each with its balance. */
export async function readGrants(db: RawDb, walletId: string): Promise<GrantRow[]> {
  const rows = await db.$queryRaw<
    { id: string; kind: GrantKind; credits: string; priority: number; expires_at: Date | null; price_per_credit: string; currency: string; description: string | null; idempotency_key: string; created_at: Date; balance: string }[]
  >`
    SELECT g.id, g.kind::text AS kind, g.credits::text AS credits, g.priority, g.expires_at, g.price_per_credit::text AS price_per_credit, g.currency, g.description,
           g.idempotency_key, g.created_at, ${GRANT_BALANCE}::text AS balance
    FROM credit_grants g WHERE g.wallet_id = ${walletId}::uuid
    ORDER BY g.created_at, g.id`;
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    credits: dec(r.credits),
    priority: r.priority,
    expiresAt: r.expires_at,
    pricePerCredit: dec(r.price_per_credit),
    currency: r.currency,
    description: r.description,
    idempotencyKey: r.idempotency_key,
    createdAt: r.created_at,
    balance: dec(r.balance),
  }));
}

async function insertTransaction(
  db: RawDb,
  t: { organizationId: string; walletId: string; kind: 'grant' | 'burn' | 'expiry'; key: string; credits: Dec; uncovered?: Dec; eventId?: string | null; batchId?: string | null; createdBy: string },
): Promise<string | null> {
  const [row] = await db.$queryRaw<{ id: string }[]>`
    INSERT INTO credit_transactions (id, organization_id, wallet_id, kind, key, credits, uncovered, event_id, batch_id, created_by)
    VALUES (${randomUUID()}::uuid, ${t.organizationId}::uuid, ${t.walletId}::uuid, ${t.kind}::credit_transaction_kind, ${t.key}, ${toPlainString(t.credits)}::numeric,
            ${toPlainString(t.uncovered ?? dec(0))}::numeric, ${t.eventId ?? null}::uuid, ${t.batchId ?? null}::uuid, ${t.createdBy})
    ON CONFLICT (organization_id, key) DO NOTHING
    RETURNING id`;
  return row?.id ?? null;
}

/** An entry to write: credits moved to or from a grant, and the grant's balance after it. */
interface Posting extends Draw {
  balanceAfter: Dec;
}

async function insertEntries(
  db: RawDb,
  e: { organizationId: string; walletId: string; transactionId: string; debit: string; credit: string; postings: readonly Posting[] },
): Promise<void> {
  if (e.postings.length === 0) return;
  await db.$executeRaw`
    INSERT INTO credit_ledger_entries (id, organization_id, transaction_id, wallet_id, grant_id, position, debit, credit, amount, balance_after)
    SELECT id, ${e.organizationId}::uuid, ${e.transactionId}::uuid, ${e.walletId}::uuid, grant_id, position::int, ${e.debit}::credit_account, ${e.credit}::credit_account, amount, balance_after
    FROM unnest(${e.postings.map(() => randomUUID())}::uuid[], ${e.postings.map((d) => d.grantId)}::uuid[], ${e.postings.map((d) => toPlainString(d.credits))}::numeric[],
                ${e.postings.map((d) => toPlainString(d.balanceAfter))}::numeric[])
         WITH ORDINALITY AS n(id, grant_id, amount, balance_after, position)
    ORDER BY position`;
}

export interface NewGrant {
  organizationId: string;
  walletId: string;
  kind: GrantKind;
  credits: Dec;
  priority: number;
  expiresAt: Date | null;
  pricePerCredit: Dec;
  currency: string;
  description: string | null;
  idempotencyKey: string;
  createdBy: string;
}

/**
 * Gives a wallet a grant: the grant row and its ledger transaction (issuance
 * → the grant's account). Idempotent on the organization's idempotency key:
 * a repeat returns the grant made the first time (created: false), which
 * may be another wallet's: the caller checks it is the same grant.
 */
export async function insertGrant(db: RawDb, g: NewGrant): Promise<{ grantId: string; walletId: string; created: boolean }> {
  await lockWallet(db, g.walletId);
  const [row] = await db.$queryRaw<{ id: string }[]>`
    INSERT INTO credit_grants (id, organization_id, wallet_id, kind, credits, priority, expires_at, price_per_credit, currency, description, idempotency_key, created_by)
    VALUES (${randomUUID()}::uuid, ${g.organizationId}::uuid, ${g.walletId}::uuid, ${g.kind}::credit_grant_kind, ${toPlainString(g.credits)}::numeric, ${g.priority}, ${g.expiresAt},
            ${toPlainString(g.pricePerCredit)}::numeric, ${g.currency}, ${g.description}, ${g.idempotencyKey}, ${g.createdBy})
    ON CONFLICT (organization_id, idempotency_key) DO NOTHING
    RETURNING id`;
  if (!row) {
    const [existing] = await db.$queryRaw<{ id: string; wallet_id: string }[]>`
      SELECT id, wallet_id FROM credit_grants WHERE organization_id = ${g.organizationId}::uuid AND idempotency_key = ${g.idempotencyKey}`;
    return { grantId: existing!.id, walletId: existing!.wallet_id, created: false };
  }
  const transactionId = await insertTransaction(db, { organizationId: g.organizationId, walletId: g.walletId, kind: 'grant', key: `grant:${row.id}`, credits: g.credits, createdBy: g.createdBy });
  await insertEntries(db, {
    organizationId: g.organizationId,
    walletId: g.walletId,
    transactionId: transactionId!,
    debit: 'issuance',
    credit: 'grant',
    postings: [{ grantId: row.id, credits: g.credits, balanceAfter: g.credits }],
  });
  return { grantId: row.id, walletId: g.walletId, created: true };
}

export interface BurnResult {
  transactionId: string;
  draws: Draw[];
  /** what the wallet's spendable grants did not cover */
  uncovered: Dec;
  /** false: this key was burned before; the result is that burn's */
  burned: boolean;
}

/**
 * Burns credits from a wallet under `key` (one transaction: grant accounts
 * → usage), in burn order (billing/credit-burn.ts) at `now`. The same key
 * again burns nothing and returns the first burn.
 */
export async function burnCredits(
  db: RawDb,
  b: { organizationId: string; walletId: string; credits: Dec; key: string; eventId?: string | null; batchId?: string | null; createdBy: string; now: Date },
): Promise<BurnResult> {
  await lockWallet(db, b.walletId);
  const done = await readTransaction(db, b.organizationId, b.key);
  if (done) return { ...done, burned: false };
  const grants = await readGrants(db, b.walletId);
  const plan = planBurn(grants, b.credits, b.now);
  const balanceOf = new Map(grants.map((g) => [g.id, g.balance]));
  const transactionId = await insertTransaction(db, { ...b, kind: 'burn', uncovered: plan.uncovered });
  await insertEntries(db, {
    organizationId: b.organizationId,
    walletId: b.walletId,
    transactionId: transactionId!,
    debit: 'grant',
    credit: 'usage',
    postings: plan.draws.map((d) => ({ ...d, balanceAfter: balanceOf.get(d.grantId)!.minus(d.credits) })),
  });
  return { transactionId: transactionId!, ...plan, burned: true };
}

/** A transaction written before under `key`, with its draws. */
async function readTransaction(db: RawDb, organizationId: string, key: string): Promise<Omit<BurnResult, 'burned'> | null> {
  const [t] = await db.$queryRaw<{ id: string; uncovered: string }[]>`SELECT id, uncovered::text AS uncovered FROM credit_transactions WHERE organization_id = ${organizationId}::uuid AND key = ${key}`;
  if (!t) return null;
  const entries = await db.$queryRaw<{ grant_id: string; amount: string }[]>`SELECT grant_id, amount::text AS amount FROM credit_ledger_entries WHERE transaction_id = ${t.id}::uuid ORDER BY position`;
  return { transactionId: t.id, draws: entries.map((e) => ({ grantId: e.grant_id, credits: dec(e.amount) })), uncovered: dec(t.uncovered) };
}

/**
 * Expires a grant at its expiry: what is left of it moves to breakage (one
 * transaction, key expire:<grant id>; written once, with no entry when
 * nothing was left). Refused before the grant's expires_at.
 */
export async function expireGrant(db: RawDb, q: { organizationId: string; grantId: string; now: Date; createdBy: string }): Promise<{ expired: Dec; repeated: boolean }> {
  const [grant] = await db.$queryRaw<{ wallet_id: string; expires_at: Date | null }[]>`
    SELECT wallet_id, expires_at FROM credit_grants WHERE id = ${q.grantId}::uuid AND organization_id = ${q.organizationId}::uuid`;
  if (!grant) throw new Error(`no credit grant ${q.grantId} in organization ${q.organizationId}`);
  if (grant.expires_at === null || grant.expires_at.getTime() > q.now.getTime()) {
    throw new RangeError(`credit grant ${q.grantId} does not expire before ${grant.expires_at?.toISOString() ?? 'never'}`);
  }
  await lockWallet(db, grant.wallet_id);
  const key = `expire:${q.grantId}`;
  const done = await readTransaction(db, q.organizationId, key);
  if (done) return { expired: done.draws.reduce((s, d) => s.plus(d.credits), dec(0)), repeated: true };
  const [left] = await db.$queryRaw<{ balance: string }[]>`SELECT ${GRANT_BALANCE}::text AS balance FROM credit_grants g WHERE g.id = ${q.grantId}::uuid`;
  const remainder = dec(left!.balance);
  const transactionId = await insertTransaction(db, { organizationId: q.organizationId, walletId: grant.wallet_id, kind: 'expiry', key, credits: remainder, createdBy: q.createdBy });
  const postings = remainder.gt(0) ? [{ grantId: q.grantId, credits: remainder, balanceAfter: dec(0) }] : [];
  await insertEntries(db, { organizationId: q.organizationId, walletId: grant.wallet_id, transactionId: transactionId!, debit: 'grant', credit: 'breakage', postings });
  return { expired: remainder, repeated: false };
}

/** A ledger entry as the API lists it. */
export interface LedgerEntryRow {
  id: string;
  transaction_id: string;
  kind: 'grant' | 'burn' | 'expiry';
  key: string;
  event_id: string | null;
  grant_id: string;
  debit: string;
  credit: string;
  amount: string;
  created_at: Date;
}

/** A wallet's ledger entries, oldest first (a transaction's in their order), after the cursor (an entry id), at most `limit`. */
export async function readLedgerEntries(db: RawDb, q: { walletId: string; after?: string; limit: number; kind?: string; grantId?: string }): Promise<LedgerEntryRow[]> {
  const after = q.after
    ? Prisma.sql`AND (x.created_at, x.transaction_id, x.position) > (SELECT created_at, transaction_id, position FROM credit_ledger_entries WHERE id = ${q.after}::uuid AND wallet_id = ${q.walletId}::uuid)`
    : Prisma.empty;
  const kind = q.kind ? Prisma.sql`AND t.kind = ${q.kind}::credit_transaction_kind` : Prisma.empty;
  const grant = q.grantId ? Prisma.sql`AND x.grant_id = ${q.grantId}::uuid` : Prisma.empty;
  return db.$queryRaw<LedgerEntryRow[]>`
    SELECT x.id, x.transaction_id, t.kind::text AS kind, t.key, t.event_id, x.grant_id, x.debit::text AS debit, x.credit::text AS credit, x.amount::text AS amount, x.created_at
    FROM credit_ledger_entries x JOIN credit_transactions t ON t.id = x.transaction_id
    WHERE x.wallet_id = ${q.walletId}::uuid ${after} ${kind} ${grant}
    ORDER BY x.created_at, x.transaction_id, x.position LIMIT ${q.limit}`;
}

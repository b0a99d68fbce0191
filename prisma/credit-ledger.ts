import { randomUUID } from 'node:crypto';
import { planBurn, walletBalance, type Draw, type GrantBalance, type GrantKind } from '../billing/credit-burn';
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

/** Sets a wallet's low-balance threshold (null: none); returns the one it had. */
export async function setLowBalanceThreshold(db: RawDb, walletId: string, threshold: Dec | null): Promise<Dec | null> {
  const [row] = await db.$queryRaw<{ before: string | null }[]>`
    UPDATE credit_wallets AS w SET low_balance_threshold = ${threshold === null ? null : toPlainString(threshold)}::numeric
      FROM (SELECT id, low_balance_threshold FROM credit_wallets WHERE id = ${walletId}::uuid FOR UPDATE) AS old
     WHERE w.id = old.id RETURNING old.low_balance_threshold::text AS before`;
  return row?.before == null ? null : dec(row.before);
}

/** Takes the wallets' row locks, in id order (two callers locking overlapping wallets never wait on each other in a circle). */
async function lockWallets(db: RawDb, walletIds: readonly string[]): Promise<void> {
  await db.$queryRaw`SELECT id FROM credit_wallets WHERE id = ANY(${[...new Set(walletIds)].sort()}::uuid[]) ORDER BY id FOR UPDATE`;
}

const lockWallet = (db: RawDb, walletId: string): Promise<void> => lockWallets(db, [walletId]);

/** A grant's account (what it received minus what it gave): the balance its latest entry left, one index probe. */
const GRANT_BALANCE = Prisma.sql`COALESCE((SELECT x.balance_after FROM credit_ledger_entries x WHERE x.grant_id = g.id ORDER BY x.seq DESC LIMIT 1), 0)`;

/** A wallet's grants, oldest first, each with its balance. */
export async function readGrants(db: RawDb, walletId: string): Promise<GrantRow[]> {
  return (await readWalletsGrants(db, [walletId])).get(walletId) ?? [];
}

type GrantColumns = { id: string; kind: GrantKind; credits: string; priority: number; expires_at: Date | null; price_per_credit: string; currency: string; description: string | null; idempotency_key: string; created_at: Date; balance: string };

/** A grant's columns as grantRow reads them (alias g). */
const GRANT_COLUMNS = Prisma.sql`g.id, g.kind::text AS kind, g.credits::text AS credits, g.priority, g.expires_at, g.price_per_credit::text AS price_per_credit, g.currency, g.description,
           g.idempotency_key, g.created_at, ${GRANT_BALANCE}::text AS balance`;

/**
 * A customer's grants by its external id (or, when no customer has that
 * external id, its id): one statement, the balance read path. Null when the
 * organization has no such customer; no grants when it has no wallet.
 */
export async function readCustomerGrants(
  db: RawDb,
  organizationId: string,
  customer: string,
  customerId: string | null,
): Promise<{ externalId: string; grants: GrantRow[]; lowBalanceThreshold: Dec | null } | null> {
  const rows = await db.$queryRaw<({ external_id: string; low_balance_threshold: string | null } & { [K in keyof GrantColumns]: GrantColumns[K] | null })[]>`
    WITH cust AS (
      SELECT id, external_id FROM customers WHERE organization_id = ${organizationId}::uuid AND external_id = ${customer}
      UNION ALL
      SELECT id, external_id FROM customers WHERE organization_id = ${organizationId}::uuid AND id = ${customerId}::uuid
        AND NOT EXISTS (SELECT 1 FROM customers WHERE organization_id = ${organizationId}::uuid AND external_id = ${customer})
      LIMIT 1)
    SELECT cust.external_id, w.low_balance_threshold::text AS low_balance_threshold, ${GRANT_COLUMNS}
    FROM cust LEFT JOIN credit_wallets w ON w.customer_id = cust.id LEFT JOIN credit_grants g ON g.wallet_id = w.id
    ORDER BY g.created_at, g.id`;
  if (rows.length === 0) return null;
  const threshold = rows[0]!.low_balance_threshold;
  return { externalId: rows[0]!.external_id, grants: rows.filter((r) => r.id !== null).map((r) => grantRow(r as GrantColumns)), lowBalanceThreshold: threshold === null ? null : dec(threshold) };
}

/** Several wallets' grants (by wallet id), oldest first, each with its balance: one statement. */
export async function readWalletsGrants(db: RawDb, walletIds: readonly string[]): Promise<Map<string, GrantRow[]>> {
  const rows = await db.$queryRaw<({ wallet_id: string } & GrantColumns)[]>`
    SELECT g.wallet_id, ${GRANT_COLUMNS}
    FROM credit_grants g WHERE g.wallet_id = ANY(${[...walletIds]}::uuid[])
    ORDER BY g.created_at, g.id`;
  const byWallet = new Map<string, GrantRow[]>(walletIds.map((id) => [id, []]));
  for (const r of rows) byWallet.get(r.wallet_id)!.push(grantRow(r));
  return byWallet;
}

function grantRow(r: GrantColumns): GrantRow {
  return {
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
  };
}

/** A grant's or an expiry's transaction (burns write theirs in bulk, burnCreditsMany). */
async function insertTransaction(
  db: RawDb,
  t: { organizationId: string; walletId: string; kind: 'grant' | 'expiry'; key: string; credits: Dec; createdBy: string },
): Promise<string | null> {
  const [row] = await db.$queryRaw<{ id: string }[]>`
    INSERT INTO credit_transactions (id, organization_id, wallet_id, kind, key, credits, created_by)
    VALUES (${randomUUID()}::uuid, ${t.organizationId}::uuid, ${t.walletId}::uuid, ${t.kind}::credit_transaction_kind, ${t.key}, ${toPlainString(t.credits)}::numeric, ${t.createdBy})
    ON CONFLICT (organization_id, key) DO NOTHING
    RETURNING id`;
  return row?.id ?? null;
}

/** An entry to write: credits moved to or from a grant, the grant's balance after it, and its place in its transaction. */
interface Posting extends Draw {
  balanceAfter: Dec;
  transactionId: string;
  walletId: string;
  position: number;
}

/** Writes entries between a grant's account and another, in the order given (their seq follows it). */
async function insertEntries(db: RawDb, e: { organizationId: string; debit: string; credit: string; postings: readonly Posting[] }): Promise<void> {
  if (e.postings.length === 0) return;
  await db.$executeRaw`
    INSERT INTO credit_ledger_entries (id, organization_id, transaction_id, wallet_id, grant_id, position, debit, credit, amount, balance_after)
    SELECT id, ${e.organizationId}::uuid, transaction_id, wallet_id, grant_id, position, ${e.debit}::credit_account, ${e.credit}::credit_account, amount, balance_after
    FROM unnest(${e.postings.map(() => randomUUID())}::uuid[], ${e.postings.map((p) => p.transactionId)}::uuid[], ${e.postings.map((p) => p.walletId)}::uuid[],
                ${e.postings.map((p) => p.grantId)}::uuid[], ${e.postings.map((p) => p.position)}::int[], ${e.postings.map((p) => toPlainString(p.credits))}::numeric[],
                ${e.postings.map((p) => toPlainString(p.balanceAfter))}::numeric[])
         WITH ORDINALITY AS n(id, transaction_id, wallet_id, grant_id, position, amount, balance_after, ord)
    ORDER BY ord`;
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
    debit: 'issuance',
    credit: 'grant',
    postings: [{ grantId: row.id, credits: g.credits, balanceAfter: g.credits, transactionId: transactionId!, walletId: g.walletId, position: 1 }],
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
  /** a burn made now: the wallet's spendable balance after it, and its newest grant (what alerts read: billing/credit-alerts.ts) */
  wallet?: { balanceAfter: Dec; newestGrantId: string | null };
}

/** One burn: credits from a wallet under a key that makes it happen once. */
export interface BurnRequest {
  walletId: string;
  credits: Dec;
  key: string;
  eventId?: string | null;
  batchId?: string | null;
}

/**
 * Burns credits from a wallet under `key` (one transaction: grant accounts
 * → usage), in burn order (billing/credit-burn.ts) at `now`. The same key
 * again burns nothing and returns the first burn.
 */
export async function burnCredits(db: RawDb, b: BurnRequest & { organizationId: string; createdBy: string; now: Date }): Promise<BurnResult> {
  const results = await burnCreditsMany(db, { organizationId: b.organizationId, createdBy: b.createdBy, now: b.now, burns: [b] });
  return results.get(b.key)!;
}

/**
 * Several burns (an ingest batch's, one per wallet) in a fixed number of
 * statements whatever their count: the wallets' locks in id order, the keys
 * burned before, every grant's balance, then one INSERT of the transactions
 * and one of their entries. Burns of one wallet plan one after the other.
 * Results by key.
 */
export async function burnCreditsMany(db: RawDb, q: BurnsRequest): Promise<Map<string, BurnResult>> {
  const prepared = await prepareBurns(db, q);
  await prepared.write();
  return prepared.results;
}

export interface BurnsRequest {
  organizationId: string;
  createdBy: string;
  now: Date;
  burns: readonly BurnRequest[];
}

/**
 * burnCreditsMany in two halves, so the caller learns each burn's uncovered
 * credits before anything is written (the ingest batch writes them onto its
 * events in rating's own UPDATE): locks the wallets and plans the burns;
 * `write` then inserts them, in the same database transaction.
 */
export async function prepareBurns(db: RawDb, q: BurnsRequest): Promise<{ results: Map<string, BurnResult>; write: () => Promise<void> }> {
  const results = new Map<string, BurnResult>();
  const nothing = { results, write: async () => {} };
  if (q.burns.length === 0) return nothing;
  await lockWallets(db, q.burns.map((b) => b.walletId));
  for (const [key, done] of await readTransactions(db, q.organizationId, q.burns.map((b) => b.key))) results.set(key, { ...done, burned: false });
  const todo = q.burns.filter((b) => !results.has(b.key));
  if (todo.length === 0) return nothing;
  const grantsOf = await readWalletsGrants(db, [...new Set(todo.map((b) => b.walletId))]);
  const planned = todo.map((b) => {
    const grants = grantsOf.get(b.walletId)!;
    const plan = planBurn(grants, b.credits, q.now);
    const postings = plan.draws.map((d) => {
      const grant = grants.find((g) => g.id === d.grantId)!;
      grant.balance = grant.balance.minus(d.credits);
      return { ...d, balanceAfter: grant.balance };
    });
    // (grants are read oldest first)
    const wallet = { balanceAfter: walletBalance(grants, q.now), newestGrantId: grants.at(-1)?.id ?? null };
    return { burn: b, plan, postings, wallet, transactionId: randomUUID() };
  });
  for (const p of planned) results.set(p.burn.key, { transactionId: p.transactionId, draws: p.plan.draws, uncovered: p.plan.uncovered, burned: true, wallet: p.wallet });
  const write = async () => {
    await db.$executeRaw`
      INSERT INTO credit_transactions (id, organization_id, wallet_id, kind, key, credits, uncovered, event_id, batch_id, created_by)
      SELECT id, ${q.organizationId}::uuid, wallet_id, 'burn', key, credits, uncovered, event_id, batch_id, ${q.createdBy}
      FROM unnest(${planned.map((p) => p.transactionId)}::uuid[], ${planned.map((p) => p.burn.walletId)}::uuid[], ${planned.map((p) => p.burn.key)}::text[],
                  ${planned.map((p) => toPlainString(p.burn.credits))}::numeric[], ${planned.map((p) => toPlainString(p.plan.uncovered))}::numeric[],
                  ${planned.map((p) => p.burn.eventId ?? null)}::uuid[], ${planned.map((p) => p.burn.batchId ?? null)}::uuid[])
           AS n(id, wallet_id, key, credits, uncovered, event_id, batch_id)`;
    const postings = planned.flatMap((p) => p.postings.map((posting, i) => ({ ...posting, transactionId: p.transactionId, walletId: p.burn.walletId, position: i + 1 })));
    await insertEntries(db, { organizationId: q.organizationId, debit: 'grant', credit: 'usage', postings });
  };
  return { results, write };
}

/** Transactions written before under these keys, with their draws, by key. */
async function readTransactions(db: RawDb, organizationId: string, keys: readonly string[]): Promise<Map<string, Omit<BurnResult, 'burned'>>> {
  const rows = await db.$queryRaw<{ key: string; id: string; uncovered: string; grant_id: string | null; amount: string | null }[]>`
    SELECT t.key, t.id, t.uncovered::text AS uncovered, x.grant_id, x.amount::text AS amount
    FROM credit_transactions t LEFT JOIN credit_ledger_entries x ON x.transaction_id = t.id
    WHERE t.organization_id = ${organizationId}::uuid AND t.key = ANY(${[...keys]}::text[])
    ORDER BY t.key, x.position`;
  const found = new Map<string, Omit<BurnResult, 'burned'>>();
  for (const r of rows) {
    const t = found.get(r.key) ?? { transactionId: r.id, draws: [], uncovered: dec(r.uncovered) };
    if (r.grant_id !== null) t.draws.push({ grantId: r.grant_id, credits: dec(r.amount!) });
    found.set(r.key, t);
  }
  return found;
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
  const done = (await readTransactions(db, q.organizationId, [key])).get(key);
  if (done) return { expired: done.draws.reduce((s, d) => s.plus(d.credits), dec(0)), repeated: true };
  const [left] = await db.$queryRaw<{ balance: string }[]>`SELECT ${GRANT_BALANCE}::text AS balance FROM credit_grants g WHERE g.id = ${q.grantId}::uuid`;
  const remainder = dec(left!.balance);
  const transactionId = await insertTransaction(db, { organizationId: q.organizationId, walletId: grant.wallet_id, kind: 'expiry', key, credits: remainder, createdBy: q.createdBy });
  const postings = remainder.gt(0) ? [{ grantId: q.grantId, credits: remainder, balanceAfter: dec(0), transactionId: transactionId!, walletId: grant.wallet_id, position: 1 }] : [];
  await insertEntries(db, { organizationId: q.organizationId, debit: 'grant', credit: 'breakage', postings });
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

/** A wallet customer's events a close must wait for (eventsAwaitingBurn). */
export interface AwaitingBurn {
  /** events ingest has not processed yet (waiting for a batch, or in one that is running) */
  events: number;
  /** of those, the ones in processing batches whose workflow ended without processing them (the sweeper marked them failed): they wait for ops */
  failed: { batchId: string; events: number }[];
}

/**
 * A wallet customer's events stored before `before` that no ingest batch has
 * processed yet: they have not burned their credits, so a close that billed
 * them now would bill in full what credits may cover a moment later (and a
 * burn after the invoice would charge them twice). Read from the
 * organization's open requests and batches (few, bounded by the ingest
 * backlog's limit), not the customer's history. Events of a failed batch
 * count too, named apart: nothing processes them until an operator runs
 * their `ingest:<id>` again. None for a customer without a wallet.
 */
export async function eventsAwaitingBurn(db: RawDb, q: { organizationId: string; customerId: string; customerExternalId: string; before: Date }): Promise<AwaitingBurn> {
  const rows = await db.$queryRaw<{ batch_id: string | null; failed: boolean; n: number }[]>`
    WITH open AS (
      SELECT b.id AS request_id, NULL::uuid AS batch_id, false AS failed FROM ingest_batches b
       WHERE b.organization_id = ${q.organizationId}::uuid AND b.processing_batch_id IS NULL AND b.accepted > 0
      UNION ALL
      SELECT unnest(p.request_ids), p.id, p.status = 'failed' FROM processing_batches p
       WHERE p.organization_id = ${q.organizationId}::uuid AND p.status <> 'processed')
    SELECT o.batch_id, o.failed, count(*)::int AS n FROM usage_events e JOIN open o ON o.request_id = e.batch_id
    WHERE EXISTS (SELECT 1 FROM credit_wallets w WHERE w.customer_id = ${q.customerId}::uuid)
      AND e.organization_id = ${q.organizationId}::uuid AND e.customer_external_id = ${q.customerExternalId}
      AND e.status <> 'rated' AND e."timestamp" < ${q.before}
    GROUP BY 1, 2 ORDER BY 1`;
  return {
    events: rows.reduce((n, r) => n + r.n, 0),
    failed: rows.filter((r) => r.failed).map((r) => ({ batchId: r.batch_id!, events: r.n })),
  };
}

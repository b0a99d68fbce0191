import { randomUUID } from 'node:crypto';
import { v7 } from './uuid-v7';
import { planBurn, walletBalance, type Draw, type GrantBalance, type GrantKind } from '../billing/credit-burn';
import { settleHold } from '../billing/credit-reservations';
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

/**
 * The wallet a customer draws on, made on first use: its own, or in a team
 * pool its parent's (customers.parent_customer_id). The customer's row stays
 * locked shared until the caller commits, so it cannot join a pool meanwhile
 * (services/customers.ts setCreditPool).
 */
export async function ensureWallet(db: RawDb, organizationId: string, customerId: string): Promise<string> {
  const [customer] = await db.$queryRaw<{ owner_id: string }[]>`
    SELECT COALESCE(parent_customer_id, id) AS owner_id FROM customers WHERE id = ${customerId}::uuid AND organization_id = ${organizationId}::uuid FOR SHARE`;
  if (!customer) throw new Error(`customer ${customerId} is not in organization ${organizationId}`);
  await db.$executeRaw`
    INSERT INTO credit_wallets (id, organization_id, customer_id) VALUES (${randomUUID()}::uuid, ${organizationId}::uuid, ${customer.owner_id}::uuid)
    ON CONFLICT (customer_id) DO NOTHING`;
  const [row] = await db.$queryRaw<{ id: string }[]>`SELECT id FROM credit_wallets WHERE customer_id = ${customer.owner_id}::uuid`;
  return row!.id;
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

/** A wallet shared by a team pool: the customer it belongs to, and the customers drawing on it (the first 100 by external id, and how many). */
export interface WalletPool {
  ownerExternalId: string;
  members: string[];
  memberCount: number;
}

/**
 * A customer's grants by its external id (or, when no customer has that
 * external id, its id): those of the wallet it draws on (its own, or its
 * team pool's), in one statement, the balance read path. Null when the
 * organization has no such customer; no grants when it has no wallet.
 */
export async function readCustomerGrants(
  db: RawDb,
  organizationId: string,
  customer: string,
  customerId: string | null,
): Promise<{
  externalId: string;
  grants: GrantRow[];
  lowBalanceThreshold: Dec | null;
  reserved: Dec;
  autoTopUp: AutoTopUpSettings | null;
  autoTopUpPaused: { since: Date; reason: string } | null;
  pool: WalletPool | null;
} | null> {
  const rows = await db.$queryRaw<
    ({
      external_id: string;
      owner_external_id: string;
      members: string[] | null;
      member_count: number;
      low_balance_threshold: string | null;
      reserved: string;
      auto_below: string | null;
      auto_credits: string | null;
      auto_price: string | null;
      auto_currency: string | null;
      paused_at: Date | null;
      paused_reason: string | null;
    } & {
      [K in keyof GrantColumns]: GrantColumns[K] | null;
    })[]
  >`
    WITH found AS (
      SELECT id, external_id, parent_customer_id FROM customers WHERE organization_id = ${organizationId}::uuid AND external_id = ${customer}
      UNION ALL
      SELECT id, external_id, parent_customer_id FROM customers WHERE organization_id = ${organizationId}::uuid AND id = ${customerId}::uuid
        AND NOT EXISTS (SELECT 1 FROM customers WHERE organization_id = ${organizationId}::uuid AND external_id = ${customer})
      LIMIT 1),
    cust AS (
      SELECT found.external_id, o.id AS owner_id, o.external_id AS owner_external_id,
             (SELECT count(*)::int FROM customers m WHERE m.parent_customer_id = o.id) AS member_count,
             ARRAY(SELECT m.external_id FROM customers m WHERE m.parent_customer_id = o.id ORDER BY m.external_id LIMIT 100) AS members
        FROM found JOIN customers o ON o.id = COALESCE(found.parent_customer_id, found.id))
    SELECT cust.external_id, cust.owner_external_id, cust.members, cust.member_count,
           w.low_balance_threshold::text AS low_balance_threshold, w.auto_top_up_below::text AS auto_below, w.auto_top_up_credits::text AS auto_credits,
           w.auto_top_up_price_per_credit::text AS auto_price, w.auto_top_up_currency AS auto_currency, w.auto_top_up_paused_at AS paused_at, w.auto_top_up_paused_reason AS paused_reason,
           (SELECT COALESCE(sum(r.credits), 0) FROM credit_reservations r WHERE r.wallet_id = w.id AND r.status = 'held')::text AS reserved, ${GRANT_COLUMNS}
    FROM cust LEFT JOIN credit_wallets w ON w.customer_id = cust.owner_id LEFT JOIN credit_grants g ON g.wallet_id = w.id
    ORDER BY g.created_at, g.id`;
  if (rows.length === 0) return null;
  const first = rows[0]!;
  const threshold = first.low_balance_threshold;
  return {
    externalId: first.external_id,
    grants: rows.filter((r) => r.id !== null).map((r) => grantRow(r as GrantColumns)),
    lowBalanceThreshold: threshold === null ? null : dec(threshold),
    reserved: dec(first.reserved),
    autoTopUp: autoTopUpOf(first),
    autoTopUpPaused: first.paused_at === null ? null : { since: first.paused_at, reason: first.paused_reason ?? '' },
    pool: first.member_count === 0 ? null : { ownerExternalId: first.owner_external_id, members: first.members ?? [], memberCount: first.member_count },
  };
}

/** A wallet's automatic top-up (credit_wallets.auto_top_up_*): buy `credits` when a burn leaves the balance below `below`. */
export interface AutoTopUpSettings {
  below: Dec;
  credits: Dec;
  pricePerCredit: Dec;
  currency: string;
}

/** The settings from a row's auto_below, auto_credits, auto_price and auto_currency columns (all null: none). */
export function autoTopUpOf(r: { auto_below: string | null; auto_credits: string | null; auto_price: string | null; auto_currency: string | null }): AutoTopUpSettings | null {
  if (r.auto_below === null || r.auto_credits === null || r.auto_price === null || r.auto_currency === null) return null;
  return { below: dec(r.auto_below), credits: dec(r.auto_credits), pricePerCredit: dec(r.auto_price), currency: r.auto_currency };
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
  t: { organizationId: string; walletId: string; kind: 'grant' | 'expiry' | 'reserve' | 'settle'; key: string; credits: Dec; createdBy: string; eventId?: string | null },
): Promise<string | null> {
  const [row] = await db.$queryRaw<{ id: string }[]>`
    INSERT INTO credit_transactions (id, organization_id, wallet_id, kind, key, credits, event_id, created_by)
    VALUES (${v7()}::uuid, ${t.organizationId}::uuid, ${t.walletId}::uuid, ${t.kind}::credit_transaction_kind, ${t.key}, ${toPlainString(t.credits)}::numeric,
            ${t.eventId ?? null}::uuid, ${t.createdBy})
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

/** The organization's accounts a grant's account trades with. */
type OtherAccount = 'issuance' | 'usage' | 'breakage' | 'reserved';

/** An entry with its accounts: credits into the grant (`from` another account) or out of it (`to` one). */
type AccountPosting = Posting & ({ from: OtherAccount } | { to: OtherAccount });

/** Writes entries between a grant's account and another, in the order given (their seq follows it). */
async function insertEntries(db: RawDb, e: { organizationId: string; debit: string; credit: string; postings: readonly Posting[] }): Promise<void> {
  const account = (name: string) => name as OtherAccount;
  await insertPostings(
    db,
    e.organizationId,
    e.postings.map((p) => (e.debit === 'grant' ? { ...p, to: account(e.credit) } : { ...p, from: account(e.debit) })),
  );
}

/** Writes entries, each between a grant's account and another, in the order given (their seq follows it). */
async function insertPostings(db: RawDb, organizationId: string, postings: readonly AccountPosting[]): Promise<void> {
  if (postings.length === 0) return;
  await db.$executeRaw`
    INSERT INTO credit_ledger_entries (id, organization_id, transaction_id, wallet_id, grant_id, position, debit, credit, amount, balance_after)
    SELECT id, ${organizationId}::uuid, transaction_id, wallet_id, grant_id, position, debit::credit_account, credit::credit_account, amount, balance_after
    FROM unnest(${postings.map(() => v7())}::uuid[], ${postings.map((p) => p.transactionId)}::uuid[], ${postings.map((p) => p.walletId)}::uuid[],
                ${postings.map((p) => p.grantId)}::uuid[], ${postings.map((p) => p.position)}::int[], ${postings.map((p) => toPlainString(p.credits))}::numeric[],
                ${postings.map((p) => toPlainString(p.balanceAfter))}::numeric[], ${postings.map((p) => ('from' in p ? p.from : 'grant'))}::text[],
                ${postings.map((p) => ('to' in p ? p.to : 'grant'))}::text[])
         WITH ORDINALITY AS n(id, transaction_id, wallet_id, grant_id, position, amount, balance_after, debit, credit, ord)
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
    VALUES (${v7()}::uuid, ${g.organizationId}::uuid, ${g.walletId}::uuid, ${g.kind}::credit_grant_kind, ${toPlainString(g.credits)}::numeric, ${g.priority}, ${g.expiresAt},
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
  /** a burn made now: the credits each committing event's reservation covered, by event id (the rest is in this burn) */
  fromReservations?: Map<string, Dec>;
}

/** One burn: credits from a wallet under a key that makes it happen once. */
export interface BurnRequest {
  walletId: string;
  credits: Dec;
  key: string;
  eventId?: string | null;
  batchId?: string | null;
  /**
   * Events among `credits` that commit a reservation: each draws its credits from its reservation's hold first
   * (billing/credit-reservations.ts settleHold), and only what the hold did not cover from the wallet. A
   * reservation that is not held (settled, expired, unknown, another wallet's) covers nothing.
   */
  commits?: readonly { reservationId: string; eventId: string; credits: Dec }[];
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

/** A ledger transaction planned with its entries (written in this order, so each balance_after follows the one before). */
interface PlannedTransaction {
  id: string;
  walletId: string;
  kind: 'burn' | 'settle';
  key: string;
  credits: Dec;
  uncovered: Dec;
  eventId: string | null;
  batchId: string | null;
  postings: AccountPosting[];
}

/**
 * burnCreditsMany in two halves, so the caller learns each burn's uncovered
 * credits before anything is written (the ingest batch writes them onto its
 * events in rating's own UPDATE): locks the wallets and plans the burns;
 * `write` then inserts them, in the same database transaction. A burn's
 * commits settle their reservations first (settle:<reservation id>), and the
 * burn takes the rest from the wallet.
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
  const holds = await readHolds(db, q.organizationId, todo.flatMap((b) => (b.commits ?? []).map((c) => c.reservationId)));
  const transactions: PlannedTransaction[] = [];
  const settled: { id: string; committed: Dec; eventId: string }[] = [];
  for (const b of todo) {
    const grants = grantsOf.get(b.walletId)!;
    const move = grantMover(grants, b.walletId);
    const fromReservations = new Map<string, Dec>();
    for (const c of b.commits ?? []) {
      const hold = holds.get(c.reservationId);
      if (!hold || hold.walletId !== b.walletId) continue;
      holds.delete(c.reservationId); // (one event commits a reservation)
      const { commits } = settleHold(hold.draws, c.credits);
      const committed = commits.reduce((sum, d) => sum.plus(d.credits), dec(0));
      const id = v7();
      const postings = settlePostings(hold.draws, commits, grants, q.now, (grantId, credits, account, position) => move(grantId, credits, account, id, position));
      transactions.push({ id, walletId: b.walletId, kind: 'settle', key: `settle:${c.reservationId}`, credits: committed, uncovered: dec(0), eventId: c.eventId, batchId: b.batchId ?? null, postings });
      settled.push({ id: c.reservationId, committed, eventId: c.eventId });
      fromReservations.set(c.eventId, committed);
    }
    const reserved = [...fromReservations.values()].reduce((sum, c) => sum.plus(c), dec(0));
    const plan = planBurn(grants, b.credits.minus(reserved), q.now);
    const id = v7();
    const postings = plan.draws.map((d, i) => move(d.grantId, d.credits, { to: 'usage' }, id, i + 1));
    transactions.push({ id, walletId: b.walletId, kind: 'burn', key: b.key, credits: b.credits.minus(reserved), uncovered: plan.uncovered, eventId: b.eventId ?? null, batchId: b.batchId ?? null, postings });
    const wallet = { balanceAfter: walletBalance(grants, q.now), newestGrantId: grants.at(-1)?.id ?? null };
    results.set(b.key, { transactionId: id, draws: plan.draws, uncovered: plan.uncovered, burned: true, wallet, fromReservations });
  }
  const write = async () => {
    await db.$executeRaw`
      INSERT INTO credit_transactions (id, organization_id, wallet_id, kind, key, credits, uncovered, event_id, batch_id, created_by)
      SELECT id, ${q.organizationId}::uuid, wallet_id, kind::credit_transaction_kind, key, credits, uncovered, event_id, batch_id, ${q.createdBy}
      FROM unnest(${transactions.map((t) => t.id)}::uuid[], ${transactions.map((t) => t.walletId)}::uuid[], ${transactions.map((t) => t.kind)}::text[],
                  ${transactions.map((t) => t.key)}::text[], ${transactions.map((t) => toPlainString(t.credits))}::numeric[],
                  ${transactions.map((t) => toPlainString(t.uncovered))}::numeric[], ${transactions.map((t) => t.eventId)}::uuid[], ${transactions.map((t) => t.batchId)}::uuid[])
           AS n(id, wallet_id, kind, key, credits, uncovered, event_id, batch_id)`;
    await insertPostings(db, q.organizationId, transactions.flatMap((t) => t.postings));
    if (settled.length > 0) {
      await db.$executeRaw`
        UPDATE credit_reservations AS r SET status = 'committed', committed = s.committed, event_id = s.event_id, settled_at = ${q.now}
          FROM unnest(${settled.map((s) => s.id)}::uuid[], ${settled.map((s) => toPlainString(s.committed))}::numeric[], ${settled.map((s) => s.eventId)}::uuid[])
               AS s(id, committed, event_id)
         WHERE r.id = s.id AND r.status = 'held'`;
    }
  };
  return { results, write };
}

/** Moves credits into or out of one of the wallet's grants, keeping its balance (the entry's balance_after) as it goes. */
const grantMover =
  (grants: readonly GrantRow[], walletId: string) =>
  (grantId: string, credits: Dec, account: { from: OtherAccount } | { to: OtherAccount }, transactionId: string, position: number): AccountPosting => {
    const grant = grants.find((g) => g.id === grantId)!;
    grant.balance = 'from' in account ? grant.balance.plus(credits) : grant.balance.minus(credits);
    return { grantId, credits, balanceAfter: grant.balance, transactionId, walletId, position, ...account };
  };

/**
 * A hold's settlement as entries: every held credit back to its grant (reserved → grant), then what the event
 * used from the same grants (grant → usage), then, for a grant that expired while it was held, what came back
 * to it and was not used (grant → breakage: its expiry, which ran before, could not move held credits).
 */
function settlePostings(
  hold: readonly Draw[],
  commits: readonly Draw[],
  grants: readonly GrantRow[],
  now: Date,
  move: (grantId: string, credits: Dec, account: { from: OtherAccount } | { to: OtherAccount }, position: number) => AccountPosting,
): AccountPosting[] {
  const postings: AccountPosting[] = [];
  for (const d of hold) postings.push(move(d.grantId, d.credits, { from: 'reserved' }, postings.length + 1));
  for (const c of commits) postings.push(move(c.grantId, c.credits, { to: 'usage' }, postings.length + 1));
  for (const d of hold) {
    const grant = grants.find((g) => g.id === d.grantId)!;
    if (grant.expiresAt === null || grant.expiresAt.getTime() > now.getTime()) continue;
    const back = d.credits.minus(commits.find((c) => c.grantId === d.grantId)?.credits ?? dec(0));
    if (back.gt(0)) postings.push(move(d.grantId, back, { to: 'breakage' }, postings.length + 1));
  }
  return postings;
}

/** The held reservations among `ids`, each with its wallet and its hold's draws (in the order they were held). */
async function readHolds(db: RawDb, organizationId: string, ids: readonly string[]): Promise<Map<string, { walletId: string; draws: Draw[] }>> {
  const holds = new Map<string, { walletId: string; draws: Draw[] }>();
  if (ids.length === 0) return holds;
  const rows = await db.$queryRaw<{ id: string; wallet_id: string; grant_id: string; amount: string }[]>`
    SELECT r.id, r.wallet_id, x.grant_id, x.amount::text AS amount
    FROM credit_reservations r
    JOIN credit_transactions t ON t.organization_id = r.organization_id AND t.key = 'reserve:' || r.id::text
    JOIN credit_ledger_entries x ON x.transaction_id = t.id
    WHERE r.organization_id = ${organizationId}::uuid AND r.id = ANY(${[...new Set(ids)]}::uuid[]) AND r.status = 'held'
    ORDER BY r.id, x.position`;
  for (const r of rows) {
    const hold = holds.get(r.id) ?? { walletId: r.wallet_id, draws: [] };
    hold.draws.push({ grantId: r.grant_id, credits: dec(r.amount) });
    holds.set(r.id, hold);
  }
  return holds;
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
  kind: 'grant' | 'burn' | 'expiry' | 'reserve' | 'settle';
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
 * their `ingest:<id>` again. None for a customer without a wallet (its own or its pool's).
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
    WHERE EXISTS (SELECT 1 FROM customers c JOIN credit_wallets w ON w.customer_id = COALESCE(c.parent_customer_id, c.id) WHERE c.id = ${q.customerId}::uuid)
      AND e.organization_id = ${q.organizationId}::uuid AND e.customer_external_id = ${q.customerExternalId}
      AND e.status <> 'rated' AND e."timestamp" < ${q.before}
    GROUP BY 1, 2 ORDER BY 1`;
  return {
    events: rows.reduce((n, r) => n + r.n, 0),
    failed: rows.filter((r) => r.failed).map((r) => ({ batchId: r.batch_id!, events: r.n })),
  };
}

export type ReservationStatus = 'held' | 'committed' | 'released' | 'expired';

/** A credit reservation as its API shows it. */
export interface ReservationRow {
  id: string;
  walletId: string;
  customerExternalId: string;
  credits: Dec;
  status: ReservationStatus;
  expiresAt: Date;
  committed: Dec | null;
  eventId: string | null;
  settledAt: Date | null;
  idempotencyKey: string;
  requestHash: string | null;
  createdAt: Date;
}

type ReservationColumns = {
  id: string;
  wallet_id: string;
  external_id: string;
  credits: string;
  status: ReservationStatus;
  expires_at: Date;
  committed: string | null;
  event_id: string | null;
  settled_at: Date | null;
  idempotency_key: string;
  request_hash: string | null;
  created_at: Date;
};

const RESERVATION_SELECT = Prisma.sql`
  SELECT r.id, r.wallet_id, c.external_id, r.credits::text AS credits, r.status::text AS status, r.expires_at, r.committed::text AS committed,
         r.event_id, r.settled_at, r.idempotency_key, r.request_hash, r.created_at
  FROM credit_reservations r JOIN credit_wallets w ON w.id = r.wallet_id JOIN customers c ON c.id = w.customer_id`;

const reservationRow = (r: ReservationColumns): ReservationRow => ({
  id: r.id,
  walletId: r.wallet_id,
  customerExternalId: r.external_id,
  credits: dec(r.credits),
  status: r.status,
  expiresAt: r.expires_at,
  committed: r.committed === null ? null : dec(r.committed),
  eventId: r.event_id,
  settledAt: r.settled_at,
  idempotencyKey: r.idempotency_key,
  requestHash: r.request_hash,
  createdAt: r.created_at,
});

/** Reservations still held more than `graceMs` past their expiry (their timer never started: the sweeper starts it). */
export async function overdueHolds(db: RawDb, graceMs: number, limit: number, organizationId: string | null = null): Promise<{ id: string; organizationId: string; expiresAt: Date }[]> {
  const rows = await db.$queryRaw<{ id: string; organization_id: string; expires_at: Date }[]>`
    SELECT id, organization_id, expires_at FROM credit_reservations
    WHERE status = 'held' AND expires_at < now() - ${graceMs} * interval '1 millisecond' AND (${organizationId}::uuid IS NULL OR organization_id = ${organizationId}::uuid)
    ORDER BY expires_at LIMIT ${limit}`;
  return rows.map((r) => ({ id: r.id, organizationId: r.organization_id, expiresAt: r.expires_at }));
}

/** One of the organization's reservations, or null. */
export async function readReservation(db: RawDb, organizationId: string, id: string): Promise<ReservationRow | null> {
  const [row] = await db.$queryRaw<ReservationColumns[]>`${RESERVATION_SELECT} WHERE r.organization_id = ${organizationId}::uuid AND r.id = ${id}::uuid`;
  return row ? reservationRow(row) : null;
}

/**
 * Holds `credits` of a wallet (issue 15, point 5) under the wallet's lock:
 * drawn from its grants in burn order into the reserved account (one
 * transaction, key reserve:<id>), so no burn or other hold can spend them.
 * All or nothing: a wallet whose spendable balance is short holds nothing
 * and says what it has. Idempotent on the idempotency key: a repeat answers
 * the first reservation, whatever its state now; the key on other terms
 * (another wallet, other credits) answers `otherTerms`.
 */
/** The organization's reservation made under an idempotency key, if any. */
export async function reservationByKey(db: RawDb, organizationId: string, idempotencyKey: string): Promise<ReservationRow | null> {
  const [row] = await db.$queryRaw<ReservationColumns[]>`${RESERVATION_SELECT} WHERE r.organization_id = ${organizationId}::uuid AND r.idempotency_key = ${idempotencyKey}`;
  return row ? reservationRow(row) : null;
}

/**
 * Whether a request under a reservation's key is the one that made it: the same request as sent (its hash), or, for
 * a reservation from before hashes were kept, the same wallet and credits.
 */
function sameReservationRequest(first: ReservationRow, q: { walletId: string; credits: Dec; requestHash: string }): boolean {
  return first.requestHash !== null ? first.requestHash === q.requestHash : first.walletId === q.walletId && first.credits.eq(q.credits);
}

export async function reserveCredits(
  db: RawDb,
  q: { organizationId: string; walletId: string; id: string; credits: Dec; expiresAt: Date; idempotencyKey: string; requestHash: string; createdBy: string; now: Date },
): Promise<{ reservation: ReservationRow; created: boolean } | { insufficient: Dec } | { otherTerms: ReservationRow }> {
  // The key's lock first (two wallets' holds racing on one key: the second finds the first), then the wallet's.
  await db.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`credit-reservation-key:${q.organizationId}:${q.idempotencyKey}`}, 0))`;
  await lockWallet(db, q.walletId);
  const existing = await reservationByKey(db, q.organizationId, q.idempotencyKey);
  if (existing) return sameReservationRequest(existing, q) ? { reservation: existing, created: false } : { otherTerms: existing };
  const grants = await readGrants(db, q.walletId);
  const plan = planBurn(grants, q.credits, q.now);
  if (plan.uncovered.gt(0)) return { insufficient: walletBalance(grants, q.now) };
  await db.$executeRaw`
    INSERT INTO credit_reservations (id, organization_id, wallet_id, credits, expires_at, idempotency_key, request_hash, created_by)
    VALUES (${q.id}::uuid, ${q.organizationId}::uuid, ${q.walletId}::uuid, ${toPlainString(q.credits)}::numeric, ${q.expiresAt}, ${q.idempotencyKey}, ${q.requestHash}, ${q.createdBy})`;
  const transactionId = (await insertTransaction(db, { organizationId: q.organizationId, walletId: q.walletId, kind: 'reserve', key: `reserve:${q.id}`, credits: q.credits, createdBy: q.createdBy }))!;
  const move = grantMover(grants, q.walletId);
  await insertPostings(db, q.organizationId, plan.draws.map((d, i) => move(d.grantId, d.credits, { to: 'reserved' }, transactionId, i + 1)));
  return { reservation: (await readReservation(db, q.organizationId, q.id))!, created: true };
}

/**
 * Releases a held reservation (`released`: asked for; `expired`: its timer
 * fired) under the wallet's lock: every held credit back to its grant, and
 * to breakage for a grant that expired meanwhile (one transaction, key
 * settle:<id>). A reservation no longer held is left as it is (settled: false).
 * Null when the organization has no such reservation.
 */
export async function releaseReservation(
  db: RawDb,
  q: { organizationId: string; reservationId: string; outcome: 'released' | 'expired'; now: Date; createdBy: string },
): Promise<{ reservation: ReservationRow; settled: boolean } | null> {
  const found = await readReservation(db, q.organizationId, q.reservationId);
  if (!found) return null;
  if (q.outcome === 'expired' && found.expiresAt.getTime() > q.now.getTime()) throw new Error(`reservation ${q.reservationId} expires at ${found.expiresAt.toISOString()}, not before`);
  await lockWallet(db, found.walletId);
  const hold = (await readHolds(db, q.organizationId, [q.reservationId])).get(q.reservationId);
  if (!hold) return { reservation: (await readReservation(db, q.organizationId, q.reservationId))!, settled: false };
  const grants = await readGrants(db, found.walletId);
  const transactionId = (await insertTransaction(db, { organizationId: q.organizationId, walletId: found.walletId, kind: 'settle', key: `settle:${q.reservationId}`, credits: dec(0), createdBy: q.createdBy }))!;
  const move = grantMover(grants, found.walletId);
  const postings = settlePostings(hold.draws, [], grants, q.now, (grantId, credits, account, position) => move(grantId, credits, account, transactionId, position));
  await insertPostings(db, q.organizationId, postings);
  await db.$executeRaw`UPDATE credit_reservations SET status = ${q.outcome}::credit_reservation_status, settled_at = ${q.now} WHERE id = ${q.reservationId}::uuid AND status = 'held'`;
  return { reservation: (await readReservation(db, q.organizationId, q.reservationId))!, settled: true };
}

/**
 * A wallet's balance at the end of each UTC day from `from` to `to` (inclusive): the sum of its grant accounts
 * (credits on hold and burned ones are out of it; an expired grant's unburned credits stay in until its expiry moves
 * them to breakage). One grouped read of the wallet's entries.
 */
export async function walletDailyBalances(db: RawDb, walletId: string, from: Date, to: Date): Promise<{ day: string; balance: Dec }[]> {
  const rows = await db.$queryRaw<{ day: Date; delta: string }[]>`
    SELECT date_trunc('day', x.created_at AT TIME ZONE 'UTC') AS day, sum(CASE WHEN x.credit = 'grant' THEN x.amount ELSE -x.amount END)::text AS delta
    FROM credit_ledger_entries x WHERE x.wallet_id = ${walletId}::uuid
    GROUP BY 1 ORDER BY 1`;
  const key = (d: Date) => d.toISOString().slice(0, 10);
  const deltas = new Map(rows.map((r) => [key(r.day), dec(r.delta)]));
  let balance = rows.filter((r) => key(r.day) < key(from)).reduce((sum, r) => sum.plus(dec(r.delta)), dec(0));
  const days: { day: string; balance: Dec }[] = [];
  for (let d = new Date(`${key(from)}T00:00:00Z`); key(d) <= key(to); d = new Date(d.getTime() + 86_400_000)) {
    balance = balance.plus(deltas.get(key(d)) ?? dec(0));
    days.push({ day: key(d), balance });
  }
  return days;
}

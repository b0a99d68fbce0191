import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import 'zod-openapi';
import { GRANT_KINDS, spendable, walletBalance, type GrantKind } from '../billing/credit-burn';
import { dec, toPlainString } from '../billing/decimal';
import { writeAudit, type AuditActor } from '../prisma/audit';
import type { PrismaClient } from '../prisma/client';
import { autoTopUpOf, ensureWallet, insertGrant, readCustomerGrants, readGrants, readLedgerEntries, type AutoTopUpSettings, type GrantRow, type LedgerEntryRow } from '../prisma/credit-ledger';
import { AutoTopUpSchema } from './credit-top-ups';
import type { RawDb } from '../prisma/raw-db';
import { isUuid } from './ids';
import { findCustomerByAnyId } from '../prisma/billing-reads';
import { DomainError } from './errors';
import { startCreditExpiry } from '../temporal/credit-expiry';
import type { Client } from '@temporalio/client';
import { currencyCode } from './schemas/currency';
import { decimalInput } from './schemas/decimal';
import { instantInput } from './schemas/instant';
import { storableName } from './schemas/name';

/*
 * Prepaid credits (issue 15): a customer's wallet, the grants it holds and
 * the ledger behind every balance (prisma/credit-ledger.ts). The API
 * (api/routes/credits.ts) calls these; each grant writes an audit row in its
 * transaction.
 */

export const CreditGrantCreateSchema = z.strictObject({
  credits: decimalInput('Credits granted (more than 0)').refine((c) => dec(c).gt(0), { message: 'must be more than 0' }),
  kind: z.enum(['purchased', 'promotional']).default('purchased').meta({ description: 'purchased (paid for: price_per_credit is its cost basis) or promotional (given away)' }),
  priority: z.int().min(0).max(1_000_000).default(100).meta({ description: 'Lower burns first; then the soonest expiry, then the oldest grant', example: 100 }),
  expires_at: instantInput('When what is left of the grant expires (moved to breakage); absent: never', '2027-01-01T00:00:00Z').optional(),
  price_per_credit: decimalInput('What one credit was sold for, in currency: revenue is recognized at this price as credits burn (0 for promotional credits)').default('0'),
  currency: currencyCode.default('usd'),
  description: storableName('What the grant is for, as finance reads it', '10,000 credits, order 4711').optional(),
  idempotency_key: storableName('A repeat with the same key returns the grant made the first time', 'order-4711').optional(),
});
/** A grant as asked for: through the API (purchased or promotional), or a plan's recurring period credits (activities/period-credits.ts). */
export type CreditGrantCreate = Omit<z.output<typeof CreditGrantCreateSchema>, 'kind'> & { kind: GrantKind };

export const CreditGrantSchema = z
  .object({
    id: z.uuid(),
    kind: z.enum(GRANT_KINDS),
    credits: z.string().meta({ description: 'Credits granted (decimal string)' }),
    balance: z.string().meta({ description: 'Credits left, from the ledger (decimal string)' }),
    status: z.enum(['active', 'used', 'expired']).meta({ description: 'active: credits left to burn; used: none left; expired: past expires_at' }),
    priority: z.int(),
    expires_at: z.string().nullable(),
    price_per_credit: z.string(),
    currency: z.string(),
    description: z.string().nullable(),
    idempotency_key: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'CreditGrant' });
export type CreditGrantJson = z.output<typeof CreditGrantSchema>;

export const WalletSchema = z
  .object({
    customer_external_id: z.string(),
    balance: z.string().meta({ description: 'Credits that can be burned now: the sum of the unexpired grants\' balances (decimal string); credits on hold are not in it' }),
    reserved: z.string().meta({ description: 'Credits on hold by reservations not yet committed, released or expired (decimal string)' }),
    low_balance_threshold: z
      .string()
      .nullable()
      .meta({ description: 'A burn that leaves the balance at or below this many credits raises a credits.low_balance alert (once until the next grant); null: none. Running out always raises credits.exhausted' }),
    auto_top_up: AutoTopUpSchema.nullable(),
    auto_top_up_paused: z
      .object({ since: z.string(), reason: z.string() })
      .nullable()
      .meta({ description: "Automatic top-ups stopped because the last one failed (why, and since when); they resume when auto_top_up is set again (PATCH) or a top-up of the wallet is paid. null: not paused" }),
    pool: z
      .object({
        parent_external_id: z.string().meta({ description: 'The customer the wallet belongs to' }),
        members: z.array(z.string()).meta({ description: 'Customers drawing on it besides its own (external ids, the first 100 in order)' }),
        member_count: z.int(),
      })
      .nullable()
      .meta({ description: 'A team pool: the wallet is shared by the parent and its member customers (PATCH /customers/{id} with parent_external_id); null: not shared' }),
    grants: z.array(CreditGrantSchema).meta({ description: 'Every grant, oldest first' }),
  })
  .meta({ id: 'Wallet' });

export const WalletUpdateSchema = z
  .strictObject({
    low_balance_threshold: decimalInput('Credits at or below which a burn raises a credits.low_balance alert (Slack, email, webhook); null: no low-balance alert').nullable().optional(),
    auto_top_up: AutoTopUpSchema.nullable()
      .optional()
      .meta({ description: 'Buy credits automatically when a burn leaves the balance below `below` (charged to the card on file); null: never. Setting it resumes automatic top-ups paused by a failure' }),
  })
  .refine((b) => b.low_balance_threshold !== undefined || b.auto_top_up !== undefined, { message: 'name at least one field to change: low_balance_threshold or auto_top_up' });
export type WalletUpdate = z.output<typeof WalletUpdateSchema>;

export const LedgerEntrySchema = z
  .object({
    id: z.uuid(),
    transaction_id: z.uuid(),
    kind: z.enum(['grant', 'burn', 'expiry', 'reserve', 'settle']).meta({ description: 'The step that wrote it' }),
    key: z.string().meta({ description: 'The step\'s natural key: grant:<grant id>, a burn\'s key, expire:<grant id>, reserve:<reservation id>, settle:<reservation id>' }),
    event_id: z.uuid().nullable().meta({ description: 'The usage event a burn was for' }),
    grant_id: z.uuid(),
    debit: z.enum(['grant', 'issuance', 'usage', 'breakage', 'reserved']).meta({ description: 'The account the credits left' }),
    credit: z.enum(['grant', 'issuance', 'usage', 'breakage', 'reserved']).meta({ description: 'The account the credits went to' }),
    amount: z.string().meta({ description: 'Credits moved (decimal string, more than 0)' }),
    created_at: z.string(),
  })
  .meta({ id: 'CreditLedgerEntry' });

export const LedgerEntryListQuerySchema = z.strictObject({
  kind: z.enum(['grant', 'burn', 'expiry', 'reserve', 'settle']).optional().meta({ description: 'Only entries written by this kind of step' }),
  grant_id: z.uuid().optional().meta({ description: 'Only entries of this grant' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).meta({ description: 'Page size' }),
  after: z.uuid().optional().meta({ description: 'Return entries after this one (the last id of the previous page)' }),
});
export type LedgerEntryListQuery = z.output<typeof LedgerEntryListQuerySchema>;

export function grantJson(g: GrantRow, now: Date): CreditGrantJson {
  const expired = g.expiresAt !== null && g.expiresAt.getTime() <= now.getTime();
  return {
    id: g.id,
    kind: g.kind,
    credits: toPlainString(g.credits),
    balance: toPlainString(g.balance),
    status: expired ? 'expired' : spendable(g, now) ? 'active' : 'used',
    priority: g.priority,
    expires_at: g.expiresAt?.toISOString() ?? null,
    price_per_credit: toPlainString(g.pricePerCredit),
    currency: g.currency,
    description: g.description,
    idempotency_key: g.idempotencyKey,
    created_at: g.createdAt.toISOString(),
  };
}

const entryJson = (e: LedgerEntryRow) => ({ ...e, debit: e.debit as 'grant', credit: e.credit as 'grant', amount: toPlainString(dec(e.amount)), created_at: e.created_at.toISOString() });

async function customerOf(prisma: PrismaClient, organizationId: string, customer: string) {
  const found = await findCustomerByAnyId(prisma, organizationId, customer);
  if (!found) throw new DomainError('not_found', 'NOT_FOUND', `No customer ${customer}`, 'customer');
  return found;
}

/**
 * Grants credits to a customer's wallet (made on first use). Idempotent on
 * idempotency_key; a grant that would expire at once is refused. A grant
 * with an expiry gets its timer workflow after the commit (and again on a
 * repeat, so a repeat after Temporal was away starts the one it lacks).
 */
export async function grantCredits(
  deps: { prisma: PrismaClient; temporal: Client; taskQueue: string },
  organizationId: string,
  customer: string,
  body: CreditGrantCreate,
  actor: AuditActor,
  now = new Date(),
) {
  const { prisma } = deps;
  const found = await customerOf(prisma, organizationId, customer);
  const granted = await prisma.$transaction(async (tx) => {
    const walletId = await ensureWallet(tx, organizationId, found.id);
    const { grantId, walletId: grantWallet, created } = await insertGrant(tx, {
      organizationId,
      walletId,
      kind: body.kind,
      credits: dec(body.credits),
      priority: body.priority,
      expiresAt: body.expires_at ?? null,
      pricePerCredit: dec(body.price_per_credit),
      currency: body.currency,
      description: body.description ?? null,
      idempotencyKey: body.idempotency_key ?? randomUUID(),
      createdBy: `${actor.type}:${actor.id}`,
    });
    const grant = (await readGrants(tx, grantWallet)).find((g) => g.id === grantId)!;
    if (!created) refuseOtherGrant(grant, grantWallet === walletId, body);
    // (a repeat of a grant made before its expiry is answered with it, expired or not)
    if (created && body.expires_at && body.expires_at.getTime() <= now.getTime()) throw new DomainError('invalid', 'VALIDATION_ERROR', 'expires_at: must be in the future', 'expires_at');
    if (created) {
      await writeAudit(tx, {
        organizationId,
        actor,
        action: 'credits.granted',
        entityType: 'credit_grant',
        entityId: grantId,
        after: { customer: found.externalId, kind: grant.kind, credits: toPlainString(grant.credits), priority: grant.priority, expiresAt: grant.expiresAt?.toISOString() ?? null, pricePerCredit: toPlainString(grant.pricePerCredit), currency: grant.currency },
      });
    }
    return { grant: grantJson(grant, now), created };
  });
  if (granted.grant.expires_at !== null) {
    try {
      await startCreditExpiry(deps.temporal, deps.taskQueue, { organizationId, grantId: granted.grant.id, expiresAt: granted.grant.expires_at });
    } catch (err) {
      throw new DomainError('unavailable', 'TEMPORAL_UNAVAILABLE', `grant ${granted.grant.id} is recorded, but its expiry timer could not be started (${(err as Error).message}); send the request again with the same idempotency_key`, undefined, { grant_id: granted.grant.id });
    }
  }
  return granted;
}

/** A repeated idempotency key must name the same grant: to the same customer, with the same terms. */
function refuseOtherGrant(grant: GrantRow, sameWallet: boolean, body: CreditGrantCreate): void {
  const same =
    sameWallet &&
    grant.kind === body.kind &&
    grant.credits.eq(dec(body.credits)) &&
    grant.priority === body.priority &&
    (grant.expiresAt?.getTime() ?? null) === (body.expires_at?.getTime() ?? null) &&
    grant.pricePerCredit.eq(dec(body.price_per_credit)) &&
    grant.currency === body.currency &&
    grant.description === (body.description ?? null);
  if (!same) {
    throw new DomainError('conflict', 'IDEMPOTENCY_KEY_REUSED', `idempotency_key: grant ${grant.id} was made with this key ${sameWallet ? 'on other terms' : 'for another customer'}; use a new key for a new grant`, 'idempotency_key', { grant_id: grant.id });
  }
}

/**
 * A customer's wallet: its spendable balance and every grant with its own
 * balance (an empty wallet when it has none yet). One statement on a plain
 * connection: the read an app makes before every expensive call.
 */
export async function readWallet(db: RawDb, organizationId: string, customer: string, now = new Date()) {
  const found = await readCustomerGrants(db, organizationId, customer, isUuid(customer) ? customer : null);
  if (!found) throw new DomainError('not_found', 'NOT_FOUND', `No customer ${customer}`, 'customer');
  return {
    customer_external_id: found.externalId,
    balance: toPlainString(walletBalance(found.grants, now)),
    reserved: toPlainString(found.reserved),
    low_balance_threshold: found.lowBalanceThreshold === null ? null : toPlainString(found.lowBalanceThreshold),
    auto_top_up: autoTopUpJson(found.autoTopUp),
    auto_top_up_paused: found.autoTopUpPaused && { since: found.autoTopUpPaused.since.toISOString(), reason: found.autoTopUpPaused.reason },
    pool: found.pool && { parent_external_id: found.pool.ownerExternalId, members: found.pool.members, member_count: found.pool.memberCount },
    grants: found.grants.map((g) => grantJson(g, now)),
  };
}

const autoTopUpJson = (a: AutoTopUpSettings | null) =>
  a === null ? null : { below: toPlainString(a.below), credits: toPlainString(a.credits), price_per_credit: toPlainString(a.pricePerCredit), currency: a.currency };

/** Changes a customer's wallet settings (the wallet is made on first use), with an audit row when something changed; answers the wallet. */
export async function updateWallet(prisma: PrismaClient, organizationId: string, customer: string, body: WalletUpdate, actor: AuditActor) {
  const found = await customerOf(prisma, organizationId, customer);
  await prisma.$transaction(async (tx) => {
    const walletId = await ensureWallet(tx, organizationId, found.id);
    const settings = { lowBalanceThreshold: true, autoTopUpBelow: true, autoTopUpCredits: true, autoTopUpPricePerCredit: true, autoTopUpCurrency: true, autoTopUpPausedAt: true } as const;
    const stored = await tx.creditWallet.findUniqueOrThrow({ where: { id: walletId }, select: settings });
    const view = (w: typeof stored) => ({
      lowBalanceThreshold: w.lowBalanceThreshold === null ? null : toPlainString(dec(w.lowBalanceThreshold)),
      autoTopUp: autoTopUpJson(autoTopUpOf({ auto_below: w.autoTopUpBelow?.toString() ?? null, auto_credits: w.autoTopUpCredits?.toString() ?? null, auto_price: w.autoTopUpPricePerCredit?.toString() ?? null, auto_currency: w.autoTopUpCurrency })),
      autoTopUpPaused: w.autoTopUpPausedAt !== null,
    });
    const auto = body.auto_top_up;
    const changed = await tx.creditWallet.update({
      where: { id: walletId },
      select: settings,
      data: {
        ...(body.low_balance_threshold !== undefined && { lowBalanceThreshold: body.low_balance_threshold }),
        ...(auto !== undefined && {
          autoTopUpBelow: auto?.below ?? null,
          autoTopUpCredits: auto?.credits ?? null,
          autoTopUpPricePerCredit: auto?.price_per_credit ?? null,
          autoTopUpCurrency: auto?.currency ?? null,
          // (setting it again, after a failure, is how it resumes)
          autoTopUpPausedAt: null,
          autoTopUpPausedReason: null,
        }),
      },
    });
    const before = view(stored);
    const after = view(changed);
    if (JSON.stringify(before) !== JSON.stringify(after)) {
      await writeAudit(tx, { organizationId, actor, action: 'credits.wallet_updated', entityType: 'credit_wallet', entityId: walletId, before, after: { customer: found.externalId, ...after } });
    }
  });
  return readWallet(prisma, organizationId, found.externalId);
}

/** One page of a customer's ledger entries, oldest first. */
export async function listLedgerEntries(prisma: PrismaClient, organizationId: string, customer: string, query: LedgerEntryListQuery) {
  const found = await customerOf(prisma, organizationId, customer);
  const wallet = await prisma.creditWallet.findUnique({ where: { customerId: found.parentCustomerId ?? found.id } });
  if (!wallet) return { data: [], has_more: false };
  const rows = await readLedgerEntries(prisma, { walletId: wallet.id, after: query.after, limit: query.limit + 1, kind: query.kind, grantId: query.grant_id });
  return { data: rows.slice(0, query.limit).map(entryJson), has_more: rows.length > query.limit };
}

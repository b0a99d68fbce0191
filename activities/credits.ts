import { creditAlertKey, creditAlertLevel } from '../billing/credit-alerts';
import { walletBalance } from '../billing/credit-burn';
import { dec, toPlainString, type Dec } from '../billing/decimal';
import { insertAuditRows, writeAudit } from '../prisma/audit';
import { expireGrant, readGrants, releaseReservation } from '../prisma/credit-ledger';
import { inTransaction } from '../prisma/pg';
import { pgRawDb, type RawDb } from '../prisma/raw-db';
import { raiseNotifications, type RaisedNotification } from './raise-notifications';
import type { CreditReservationInput } from '../temporal/credit-reservation';
import type { CreditExpiryInput } from '../temporal/credit-expiry';
import type { ActivityDeps } from './deps';
import { workflowActor } from './workflow-actor';

/**
 * Expires a grant (prisma/credit-ledger.ts expireGrant) with an audit row,
 * once. The workflow's timer fired at expires_at, so the expiry is dated no
 * earlier than that even when this worker's clock runs behind. Credits that
 * expire can leave the wallet low or empty as a burn can: the same balance
 * alerts, under the same dedupe keys (one per level and episode), in the
 * same transaction.
 */
export function expireCreditGrant({ pool }: ActivityDeps) {
  return async function expireCreditGrant(input: CreditExpiryInput): Promise<{ expired: string }> {
    const actor = workflowActor();
    const now = new Date(Math.max(Date.now(), Date.parse(input.expiresAt)));
    return inTransaction(pool, async (db) => {
      const raw = pgRawDb(db);
      const { expired, repeated } = await expireGrant(raw, { organizationId: input.organizationId, grantId: input.grantId, now, createdBy: `${actor.type}:${actor.id}` });
      if (!repeated) {
        await insertAuditRows(db, [
          { organizationId: input.organizationId, actor, action: 'credits.expired', entityType: 'credit_grant', entityId: input.grantId, after: { expired: toPlainString(expired), expiresAt: input.expiresAt } },
        ]);
        if (expired.gt(0)) await raiseNotifications(db, { organizationId: input.organizationId, actor, source: { grantId: input.grantId } }, await expiryAlerts(raw, input.grantId, expired, now));
      }
      return { expired: toPlainString(expired) };
    });
  };
}

/** The balance alert (billing/credit-alerts.ts) a grant's expiry leaves its wallet at, if any. */
async function expiryAlerts(db: RawDb, grantId: string, expired: Dec, now: Date): Promise<RaisedNotification[]> {
  const [wallet] = await db.$queryRaw<{ id: string; external_id: string; low_balance_threshold: string | null }[]>`
    SELECT w.id, c.external_id, w.low_balance_threshold::text AS low_balance_threshold
      FROM credit_grants g JOIN credit_wallets w ON w.id = g.wallet_id JOIN customers c ON c.id = w.customer_id WHERE g.id = ${grantId}::uuid`;
  const grants = await readGrants(db, wallet!.id);
  const balance = walletBalance(grants, now);
  const threshold = wallet!.low_balance_threshold === null ? null : dec(wallet!.low_balance_threshold);
  const level = creditAlertLevel({ after: balance, threshold });
  if (!level) return [];
  const payload = {
    customerExternalId: wallet!.external_id,
    walletId: wallet!.id,
    level,
    balance: toPlainString(balance),
    threshold: threshold === null ? null : toPlainString(threshold),
    expired: toPlainString(expired),
    expiredGrantId: grantId,
  };
  return [{ kind: `credits.${level}`, dedupeKey: creditAlertKey(level, wallet!.id, grants.at(-1)?.id ?? null), payload, entityType: 'credit_wallet', entityId: wallet!.id }];
}

/**
 * Expires a reservation its timer says is due (prisma/credit-ledger.ts
 * releaseReservation): what it still holds goes back to the wallet, once,
 * with an audit row. One an event committed or an app released is left as
 * it is. Dated no earlier than expires_at.
 */
export function expireCreditReservation({ prisma }: ActivityDeps) {
  return async function expireCreditReservation(input: CreditReservationInput): Promise<{ status: string }> {
    const actor = workflowActor();
    const now = new Date(Math.max(Date.now(), Date.parse(input.expiresAt)));
    return prisma.$transaction(async (tx) => {
      const released = await releaseReservation(tx, { organizationId: input.organizationId, reservationId: input.reservationId, outcome: 'expired', now, createdBy: `${actor.type}:${actor.id}` });
      // (a hold whose transaction never committed: nothing to give back)
      if (!released) return { status: 'not_found' };
      if (released.settled) {
        await writeAudit(tx, {
          organizationId: input.organizationId,
          actor,
          action: 'credits.reservation_expired',
          entityType: 'credit_reservation',
          entityId: input.reservationId,
          after: { customer: released.reservation.customerExternalId, credits: toPlainString(released.reservation.credits), expiresAt: input.expiresAt },
        });
      }
      return { status: released.reservation.status };
    });
  };
}

import { toPlainString } from '../billing/decimal';
import { writeAudit } from '../prisma/audit';
import { expireGrant, releaseReservation } from '../prisma/credit-ledger';
import type { CreditReservationInput } from '../temporal/credit-reservation';
import type { CreditExpiryInput } from '../temporal/credit-expiry';
import type { ActivityDeps } from './deps';
import { workflowActor } from './workflow-actor';

/**
 * Expires a grant (prisma/credit-ledger.ts expireGrant) with an audit row,
 * once. The workflow's timer fired at expires_at, so the expiry is dated no
 * earlier than that even when this worker's clock runs behind.
 */
export function expireCreditGrant({ prisma }: ActivityDeps) {
  return async function expireCreditGrant(input: CreditExpiryInput): Promise<{ expired: string }> {
    const actor = workflowActor();
    const now = new Date(Math.max(Date.now(), Date.parse(input.expiresAt)));
    return prisma.$transaction(async (tx) => {
      const { expired, repeated } = await expireGrant(tx, { organizationId: input.organizationId, grantId: input.grantId, now, createdBy: `${actor.type}:${actor.id}` });
      if (!repeated) {
        await writeAudit(tx, {
          organizationId: input.organizationId,
          actor,
          action: 'credits.expired',
          entityType: 'credit_grant',
          entityId: input.grantId,
          after: { expired: toPlainString(expired), expiresAt: input.expiresAt },
        });
      }
      return { expired: toPlainString(expired) };
    });
  };
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

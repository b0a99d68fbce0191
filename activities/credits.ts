import { toPlainString } from '../billing/decimal';
import { writeAudit } from '../prisma/audit';
import { expireGrant } from '../prisma/credit-ledger';
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

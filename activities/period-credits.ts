import { dec, toPlainString } from '../billing/decimal';
import { grantCredits } from '../services/credits';
import { DomainError } from '../services/errors';
import type { ActivityDeps } from './deps';
import { workflowActor } from './workflow-actor';

export interface PeriodCreditsInput {
  organizationId: string;
  subscriptionId: string;
  /** ISO 8601 */
  periodStart: string;
  /** ISO 8601 */
  periodEnd: string;
}

export type PeriodCreditsResult = { granted: false; reason: string } | { granted: true; grantId: string; credits: string; expiresAt: string | null };

/**
 * A billing period's credits from the subscription's plan (issue 15, point
 * 2): a `recurring` grant of `period_credits` to the customer's wallet at
 * price 0 (the base fee pays for them), expiring at the period end unless the
 * plan rolls them over, with its expiry timer. Once per subscription and
 * period (grant key period-credits:<subscription>:<period start>), however
 * often the period's workflow runs or is reset. A period already over grants
 * no credits that would expire with it.
 */
export function grantPeriodCredits(deps: ActivityDeps) {
  return async function grantPeriodCredits(input: PeriodCreditsInput): Promise<PeriodCreditsResult> {
    const { prisma, temporal, taskQueue } = deps;
    const subscription = await prisma.subscription.findFirst({
      where: { id: input.subscriptionId, organizationId: input.organizationId },
      include: { plan: true, customer: { select: { externalId: true } } },
    });
    if (!subscription) return { granted: false, reason: `no subscription ${input.subscriptionId}` };
    const { plan } = subscription;
    if (plan.periodCredits === null) return { granted: false, reason: `plan ${plan.key} v${plan.version} grants no period credits` };
    const periodEnd = new Date(input.periodEnd);
    if (!plan.periodCreditsRollover && periodEnd.getTime() <= Date.now()) return { granted: false, reason: `the period ended at ${input.periodEnd}: its credits would have expired` };
    if (!temporal) throw new Error('grantPeriodCredits needs a Temporal client in the activity deps (the grant\'s expiry timer)');
    const asked = {
      kind: 'recurring' as const,
      credits: toPlainString(dec(plan.periodCredits)),
      priority: 100,
      expires_at: plan.periodCreditsRollover ? undefined : periodEnd,
      price_per_credit: '0',
      currency: plan.currency,
      description: `Plan ${plan.key} (version ${plan.version}): credits for ${input.periodStart.slice(0, 10)} to ${input.periodEnd.slice(0, 10)}`,
      idempotency_key: `period-credits:${input.subscriptionId}:${input.periodStart}`,
    };
    try {
      const { grant } = await grantCredits({ prisma, temporal, taskQueue }, input.organizationId, subscription.customer.externalId, asked, workflowActor());
      return { granted: true, grantId: grant.id, credits: grant.credits, expiresAt: grant.expires_at };
    } catch (err) {
      // The period's grant was made before on other terms (the plan changed, then the period's workflow was reset): it stands.
      if (err instanceof DomainError && err.code === 'IDEMPOTENCY_KEY_REUSED') return { granted: false, reason: `granted before: ${err.message}` };
      throw err;
    }
  };
}

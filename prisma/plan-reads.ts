import type { PlanModel, PrismaClient } from './client';

/** The newest version of the organization's plan `key` (what a plan key names when no version is given), or null. */
export async function latestPlan(db: Pick<PrismaClient, 'plan'>, organizationId: string, key: string): Promise<PlanModel | null> {
  return db.plan.findFirst({ where: { organizationId, key }, orderBy: { version: 'desc' } });
}

/**
 * SQL for the plan in effect at `at` for the subscription aliased `s` (a
 * recorded change moves subscriptions.plan_id at once, even when it takes
 * effect later): the newest change in effect, else the first change's old
 * plan, else its plan (billing/draft-inputs.ts planTimeline, in SQL).
 * `s` and `at` are SQL text written by us (an alias, a parameter or now()), never input.
 */
export function planInEffectSql(s: string, at: string): string {
  return `COALESCE(
    (SELECT ch.to_plan_id FROM subscription_plan_changes AS ch WHERE ch.subscription_id = ${s}.id AND ch.effective_at <= ${at} ORDER BY ch.effective_at DESC, ch.created_at DESC LIMIT 1),
    (SELECT ch.from_plan_id FROM subscription_plan_changes AS ch WHERE ch.subscription_id = ${s}.id ORDER BY ch.effective_at ASC, ch.created_at ASC LIMIT 1),
    ${s}.plan_id)`;
}

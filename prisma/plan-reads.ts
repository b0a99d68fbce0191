import type { PlanModel, PrismaClient } from './client';

/** The newest version of the organization's plan `key` (what a plan key names when no version is given), or null. */
export async function latestPlan(db: Pick<PrismaClient, 'plan'>, organizationId: string, key: string): Promise<PlanModel | null> {
  return db.plan.findFirst({ where: { organizationId, key }, orderBy: { version: 'desc' } });
}

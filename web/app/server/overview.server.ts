import type { AppLoadContext } from 'react-router';
import { formatMoney } from '../../../billing/currency';
import { dec } from '../../../billing/decimal';
import { summarizeRevenue, type PlanInterval } from '../../../billing/revenue';
import { OrganizationId } from '../../../temporal/search-attribute-keys';

export interface Overview {
  invoicesByStatus: { status: string; count: number }[];
  draftsAwaitingApproval: number;
  /** per currency, from active subscriptions' base fees (billing/revenue.ts) */
  recurring: { currency: string; mrr: string; arr: string; activeCustomers: number }[];
  /** from Temporal visibility (workflows tagged with the organization); null with the reason when Temporal did not answer */
  workflows: { running: number; failed: number } | { unavailable: string };
}

/** Running and failed workflows of the organization, by its search attribute. */
async function countWorkflows(context: AppLoadContext, organizationId: string): Promise<Overview['workflows']> {
  const scope = `${OrganizationId.name} = "${organizationId}"`;
  try {
    const [running, failed] = await Promise.all([
      context.temporal.workflow.count(`${scope} AND ExecutionStatus = "Running"`),
      context.temporal.workflow.count(`${scope} AND ExecutionStatus = "Failed"`),
    ]);
    return { running: running.count, failed: failed.count };
  } catch (err) {
    return { unavailable: `Temporal did not answer: ${(err as Error).message}` };
  }
}

/** The organization's headline numbers, all from the database. */
export async function readOverview(context: AppLoadContext, organizationId: string): Promise<Overview> {
  const { prisma } = context;
  const [byStatus, subscriptions, workflows] = await Promise.all([
    prisma.invoice.groupBy({ by: ['status'], where: { organizationId }, _count: { _all: true }, orderBy: { status: 'asc' } }),
    prisma.subscription.findMany({
      where: { organizationId, status: 'active', startDate: { lte: new Date() } },
      select: { customerId: true, plan: { select: { currency: true, interval: true, baseFee: true } } },
    }),
    countWorkflows(context, organizationId),
  ]);
  const customers = new Map<string, Set<string>>();
  for (const s of subscriptions) {
    const set = customers.get(s.plan.currency) ?? new Set<string>();
    set.add(s.customerId);
    customers.set(s.plan.currency, set);
  }
  const figures = summarizeRevenue({
    baseFees: subscriptions.map((s) => ({ currency: s.plan.currency, interval: s.plan.interval as PlanInterval, baseFees: dec(s.plan.baseFee.toString()) })),
    activeCustomers: [...customers].map(([currency, set]) => ({ currency, customers: set.size })),
    paidInvoices: [],
    otherChargesMinor: [],
    refundsMinor: [],
  });
  const invoicesByStatus = byStatus.map((row) => ({ status: row.status, count: row._count._all }));
  return {
    invoicesByStatus,
    draftsAwaitingApproval: invoicesByStatus.find((r) => r.status === 'draft')?.count ?? 0,
    workflows,
    recurring: figures.map((f) => ({ currency: f.currency, mrr: formatMoney(f.mrr, f.currency), arr: formatMoney(f.arr, f.currency), activeCustomers: f.activeCustomers })),
  };
}

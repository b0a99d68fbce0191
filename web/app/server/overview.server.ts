import type { AppLoadContext } from 'react-router';
import { formatMoney } from '../../../billing/currency';
import { dec } from '../../../billing/decimal';
import { summarizeRevenue, type PlanInterval } from '../../../billing/revenue';
import { readMargins } from '../../../services/margins';
import { bpsPercent, computeMargin, formatMarginAmount, marginWindow } from '../../../billing/margins';
import { OrganizationId } from '../../../temporal/search-attribute-keys';
import { readIngestBacklog } from '../../../services/ingest-backlog';
import { temporalUiLink } from './runs.server';

export interface Overview {
  invoicesByStatus: { status: string; count: number }[];
  draftsAwaitingApproval: number;
  /** per currency, from active subscriptions' base fees (billing/revenue.ts) */
  recurring: { currency: string; mrr: string; arr: string; activeCustomers: number }[];
  /** from Temporal visibility (workflows tagged with the organization); null with the reason when Temporal did not answer */
  workflows: { running: number; failed: number } | { unavailable: string };
  /** events put into processing batches per minute over the last hour, oldest first, every minute present */
  eventsPerMinute: { minute: string; events: number }[];
  /** processing batches of the last 24 hours by status */
  batchesByStatus: { status: string; count: number }[];
  /** accepted events not rated yet, and how long the oldest has waited */
  backlog: { pendingEvents: number; atLeast: boolean; oldestPendingAgeSeconds: number | null };
  /** the newest processing batches, each with its workflow in the Temporal UI */
  recentBatches: ProcessingBatchRow[];
  /** this calendar month so far, per currency: the margins computation (GET /api/v1/margins) summed over customers */
  thisPeriod: { currency: string; revenue: string; cost: string; margin: string; marginPercent: string }[];
}

export interface ProcessingBatchRow {
  id: string;
  status: string;
  events: number;
  requests: number;
  createdAt: string;
  workflowId: string | null;
  temporalUrl: string | null;
}

/** A request (the batch_id its POST got back) and the processing batch that took its events. */
export interface RequestLookup {
  id: string;
  found: boolean;
  accepted?: number;
  rated?: number;
  batch?: ProcessingBatchRow | null;
}

const MINUTE_MS = 60_000;

/** Batched events per minute for the 60 minutes up to `now`, zero-filled, from processing_batches (indexed by organization and time). */
async function eventsPerMinute(context: AppLoadContext, organizationId: string, now: Date): Promise<Overview['eventsPerMinute']> {
  const end = Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const start = end - 60 * MINUTE_MS;
  const rows = await context.prisma.$queryRaw<{ minute: Date; events: bigint }[]>`
    SELECT date_trunc('minute', created_at) AS minute, SUM(events)::bigint AS events
      FROM processing_batches
     WHERE organization_id = ${organizationId}::uuid AND created_at >= ${new Date(start)} AND created_at < ${new Date(end)}
     GROUP BY 1`;
  const byMinute = new Map(rows.map((r) => [r.minute.getTime(), Number(r.events)]));
  return Array.from({ length: 60 }, (_, i) => {
    const at = start + i * MINUTE_MS;
    return { minute: new Date(at).toISOString().slice(11, 16), events: byMinute.get(at) ?? 0 };
  });
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

function batchRow(context: AppLoadContext, b: { id: string; status: string; events: number; requests: number; createdAt: Date; workflowId: string | null }): ProcessingBatchRow {
  return {
    id: b.id,
    status: b.status,
    events: b.events,
    requests: b.requests,
    createdAt: b.createdAt.toISOString(),
    workflowId: b.workflowId,
    temporalUrl: b.workflowId ? temporalUiLink(context, b.workflowId) : null,
  };
}

async function recentBatches(context: AppLoadContext, organizationId: string): Promise<ProcessingBatchRow[]> {
  const rows = await context.prisma.processingBatch.findMany({
    where: { organizationId },
    orderBy: { createdAt: 'desc' },
    take: 10,
    select: { id: true, status: true, events: true, requests: true, createdAt: true, workflowId: true },
  });
  return rows.map((b) => batchRow(context, b));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Where a request's events went: its processing batch and that batch's workflow. Another organization's request is not found. */
export async function lookUpRequest(context: AppLoadContext, organizationId: string, requestId: string): Promise<RequestLookup> {
  const id = requestId.trim();
  if (!UUID.test(id)) return { id, found: false };
  const request = await context.prisma.ingestBatch.findFirst({
    where: { id, organizationId },
    select: { accepted: true, processingBatch: { select: { id: true, status: true, events: true, requests: true, createdAt: true, workflowId: true } } },
  });
  if (!request) return { id, found: false };
  const rated = await context.prisma.usageEvent.count({ where: { organizationId, batchId: id, status: 'rated' } });
  return { id, found: true, accepted: request.accepted, rated, batch: request.processingBatch ? batchRow(context, request.processingBatch) : null };
}

/** The organization's headline numbers, all from the database. */
export async function readOverview(context: AppLoadContext, organizationId: string): Promise<Overview> {
  const { prisma } = context;
  const now = new Date();
  const [byStatus, subscriptions, workflows, perMinute, batches, margins, backlog, recent] = await Promise.all([
    prisma.invoice.groupBy({ by: ['status'], where: { organizationId }, _count: { _all: true }, orderBy: { status: 'asc' } }),
    prisma.subscription.findMany({
      where: { organizationId, status: 'active', startDate: { lte: new Date() } },
      select: { customerId: true, plan: { select: { currency: true, interval: true, baseFee: true } } },
    }),
    countWorkflows(context, organizationId),
    eventsPerMinute(context, organizationId, now),
    prisma.processingBatch.groupBy({
      by: ['status'],
      where: { organizationId, createdAt: { gte: new Date(now.getTime() - 24 * 60 * MINUTE_MS) } },
      _count: { _all: true },
      orderBy: { status: 'asc' },
    }),
    readMargins(prisma, organizationId, marginWindow('current_period', now), 'customer'),
    readIngestBacklog(context.pool, organizationId),
    recentBatches(context, organizationId),
  ]);
  const byCurrency = new Map<string, { revenue: ReturnType<typeof dec>; cost: ReturnType<typeof dec> }>();
  for (const r of margins) {
    const sum = byCurrency.get(r.currency) ?? { revenue: dec(0), cost: dec(0) };
    byCurrency.set(r.currency, { revenue: sum.revenue.plus(r.revenue), cost: sum.cost.plus(r.cost) });
  }
  const thisPeriod = [...byCurrency].map(([currency, sum]) => {
    const m = computeMargin(sum.revenue, sum.cost);
    const amount = (d: typeof m.revenue) => `${formatMarginAmount(d, currency)} ${currency.toUpperCase()}`;
    return { currency, revenue: amount(m.revenue), cost: amount(m.cost), margin: amount(m.margin), marginPercent: bpsPercent(m.marginBps) ?? 'n/a' };
  });
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
    eventsPerMinute: perMinute,
    batchesByStatus: batches.map((b) => ({ status: b.status, count: b._count._all })),
    backlog: {
      pendingEvents: backlog.pendingEvents,
      atLeast: backlog.pendingEventsAtLeast,
      oldestPendingAgeSeconds: backlog.oldestPendingAt ? Math.max(0, Math.round((now.getTime() - backlog.oldestPendingAt.getTime()) / 1000)) : null,
    },
    recentBatches: recent,
    thisPeriod,
    recurring: figures.map((f) => ({ currency: f.currency, mrr: formatMoney(f.mrr, f.currency), arr: formatMoney(f.arr, f.currency), activeCustomers: f.activeCustomers })),
  };
}

import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '../../prisma/client';
import { billingLinesOf, readLineEvents, UNBILLED } from '../../prisma/usage-claims';
import { billingRunStateQuery, BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from '../../temporal/billing-messages';
import { billingRunWorkflowId } from '../../temporal/names';
import { startReconcileWorkflow } from '../../temporal/reconciliations';
import { testPrisma } from './fixtures';
import { waitFor, type TestWorker } from './ingest-worker';
import { insertBatch } from './insert-batch';

/** Graduated tiers of the public example: ≤100 @ 0.10, ≤1000 @ 0.08, rest @ 0.05. */
export const GRADUATED_TIERS = [
  { up_to: 100, unit_amount: '0.10', flat_amount: '0' },
  { up_to: 1000, unit_amount: '0.08', flat_amount: '0' },
  { up_to: null, unit_amount: '0.05', flat_amount: '0' },
];

export interface BillingCatalog {
  meterId: string;
  basicPlanId: string;
  proPlanId: string;
  customerId: string;
  customerExternalId: string;
  subscriptionId: string;
}

/**
 * A catalog for billing tests, written straight to the database: an
 * `api_calls` meter (sum of `api_call` events), plans Basic (30/month) and
 * Pro (60/month) pricing it graduated, and one customer subscribed to Basic.
 */
export async function createBillingCatalog(
  prisma: PrismaClient,
  organizationId: string,
  options: { startDate: Date; anchorDay?: number; currency?: string; basicFee?: string; proFee?: string },
): Promise<BillingCatalog> {
  const currency = options.currency ?? 'usd';
  const meter = await prisma.meter.create({ data: { organizationId, key: 'api_calls', name: 'API calls', eventType: 'api_call', aggregation: 'sum' } });
  const plan = (key: string, name: string, fee: string) =>
    prisma.plan.create({
      data: {
        organizationId,
        key,
        name,
        currency,
        interval: 'month',
        baseFee: fee,
        prices: { create: [{ organizationId, meterId: meter.id, model: 'graduated', tiers: GRADUATED_TIERS }] },
      },
    });
  const basic = await plan('basic', 'Basic', options.basicFee ?? '30');
  const pro = await plan('pro', 'Pro', options.proFee ?? '60');
  const externalId = `cust-${randomUUID().slice(0, 8)}`;
  const customer = await prisma.customer.create({ data: { organizationId, externalId, name: 'Acme' } });
  const subscription = await prisma.subscription.create({
    data: { organizationId, customerId: customer.id, planId: basic.id, startDate: options.startDate, billingAnchorDay: options.anchorDay ?? options.startDate.getUTCDate() },
  });
  return { meterId: meter.id, basicPlanId: basic.id, proPlanId: pro.id, customerId: customer.id, customerExternalId: externalId, subscriptionId: subscription.id };
}

/** `count` api_call events of `quantity` each, spread over the given UTC days, stored as the ingest API stores them. */
export async function insertUsage(
  prisma: PrismaClient,
  organizationId: string,
  customerExternalId: string,
  events: { at: string; quantity: string }[],
): Promise<string[]> {
  const batch = await insertBatch(
    prisma,
    organizationId,
    events.map((e) => ({ customerExternalId, timestamp: e.at, eventType: 'api_call', quantity: e.quantity })),
  );
  return batch.eventIds;
}

/** The ids of the events an invoice line bills (one by one or through its range claims), oldest first. */
export async function eventIdsOfLine(organizationId: string, lineId: string): Promise<string[]> {
  return (await readLineEvents(testPrisma(), { organizationId, lineId, limit: 100_000 })).map((e) => e.id);
}

/** The invoice lines that bill an event (one per meter of its type that billed it), oldest first. */
export async function linesOfEvent(organizationId: string, eventId: string): Promise<string[]> {
  return billingLinesOf(testPrisma(), organizationId, eventId);
}

/** The invoice line that bills an event of a type one meter reads, or null; fails when several lines bill it. */
export async function lineOfEvent(organizationId: string, eventId: string): Promise<string | null> {
  const lines = await linesOfEvent(organizationId, eventId);
  if (lines.length > 1) throw new Error(`event ${eventId} is billed by ${lines.length} lines: ${lines.join(', ')}`);
  return lines[0] ?? null;
}

/** How many of the organization's events no invoice line bills. */
export async function countUnbilledEvents(organizationId: string): Promise<number> {
  const [row] = await testPrisma().$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM usage_events e WHERE e.organization_id = ${organizationId}::uuid AND ${UNBILLED}`;
  return row!.n;
}

/** The quantities of the events an invoice line bills, sorted as text. */
export async function quantitiesOfLine(organizationId: string, lineId: string): Promise<string[]> {
  return (await readLineEvents(testPrisma(), { organizationId, lineId, limit: 100_000 })).map((e) => Number(e.quantity).toFixed(0)).sort();
}

/** A billing run for the period, up to its draft (then terminated): the draft's lines, in order. */
export async function closeToDraft(worker: TestWorker, organizationId: string, subscriptionId: string, period: { periodStart: string; periodEnd: string }) {
  const input: BillingRunInput = { organizationId, subscriptionId, ...period, lateEventGraceSeconds: 0 };
  const handle = await worker.client.workflow.start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: billingRunWorkflowId(subscriptionId, period.periodStart), taskQueue: worker.taskQueue, args: [input] });
  const state = await waitFor('the draft', async () => {
    const s = await handle.query(billingRunStateQuery);
    return s.status === 'awaiting_approval' ? s : undefined;
  });
  await handle.terminate('test over');
  return testPrisma().invoiceLine.findMany({ where: { invoiceId: state.invoiceId! }, orderBy: { position: 'asc' } });
}

/** A reconcile (leak detection) run over the period, to its result. */
export async function reconcilePeriod(worker: TestWorker, organizationId: string, period: { periodStart: string; periodEnd: string }, options: { rerunFinished?: boolean } = {}) {
  const started = await startReconcileWorkflow(worker.client, { organizationId, ...period }, { taskQueue: worker.taskQueue, ...options });
  return worker.client.workflow.getHandle(started.workflowId).result();
}

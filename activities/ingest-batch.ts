import type { IngestBatchInput } from '../temporal/ingest';
import { inTransaction } from '../prisma/pg';
import type { ActivityDeps } from './deps';
import { holdBurnRates, loadBurnRates } from '../prisma/burn-rates';
import { startCreditTopUp } from '../temporal/credit-top-up';
import { batchRequestIds, countQuotas, createCustomers, linkBatchCustomers, lockUnprocessed, markProcessed, pendingNotifications, rateBatchEvents, readBatchEvents, type BatchContext, type RateEventsResult } from './ingest-steps';
import { workflowActor } from './workflow-actor';

export type { RateEventsResult } from './ingest-steps';

export interface ProcessBatchResult extends RateEventsResult {
  customersCreated: number;
  /** wallets this batch burned prepaid credits from */
  walletsBurned: number;
  countersUpdated: number;
  notificationsCreated: number;
  /** the organization's notifications waiting for delivery, from this batch or earlier ones */
  notificationsPending: number;
  /** false when the batch had been processed already (a retry or a reset) */
  transitioned: boolean;
}

/** Runs `step` in one transaction with the batch's context; a batch of another organization has no requests and does nothing. */
function step<R>({ pool }: ActivityDeps, input: IngestBatchInput, idle: R, work: (db: Parameters<Parameters<typeof inTransaction>[1]>[0], ctx: BatchContext) => Promise<R>): Promise<R> {
  const actor = workflowActor();
  return inTransaction(pool, async (db) => {
    const requestIds = await batchRequestIds(db, input.batchId, input.organizationId);
    if (requestIds.length === 0) return idle;
    return work(db, { ...input, actor, requestIds });
  });
}

/**
 * The whole batch in one transaction: customers, linking and rating, prepaid
 * credits burned, quota counters and notifications, `processed` — one commit for up to 1,000
 * events, and all of it or none of it. What the `ingest:<batchId>` workflow
 * runs since the one-transaction patch.
 */
export function processBatch(deps: ActivityDeps) {
  return async function processBatch(input: IngestBatchInput): Promise<ProcessBatchResult> {
    const idle = { customersCreated: 0, eventsRated: 0, eventsIncomplete: 0, walletsBurned: 0, countersUpdated: 0, notificationsCreated: 0, notificationsPending: 0, transitioned: false };
    let topUps: string[] = [];
    const result = await step(deps, input, idle, async (db, ctx) => {
      // Under the batch's row lock: a retry or a reset of a processed batch does nothing.
      if (!(await lockUnprocessed(db, ctx))) return idle;
      await holdBurnRates(db, ctx.organizationId);
      const burning = await loadBurnRates(db, ctx.organizationId);
      // One read of the batch's events serves every step.
      const events = await readBatchEvents(db, ctx, burning?.dimensions);
      const customers = await linkBatchCustomers(db, ctx, events);
      const { creditAlerts, topUpsQueued, ...rated } = await rateBatchEvents(db, ctx, burning, { events, customerIds: customers.ids });
      const quotas = await countQuotas(db, ctx, events);
      const transitioned = await markProcessed(db, ctx, events.filter((e) => e.rated).length + rated.eventsRated);
      topUps = topUpsQueued;
      return { ...idle, customersCreated: customers.created, ...rated, ...quotas, notificationsCreated: creditAlerts + quotas.notificationsCreated, transitioned };
    });
    await startTopUps(deps, input.organizationId, topUps);
    return { ...result, notificationsPending: await pendingNotifications(deps.pool, input.organizationId) };
  };
}

/**
 * Starts the workflows of the automatic top-ups the batch queued, after its commit. One that does not start (Temporal
 * away, the process gone) is started by the sweeper: the top-up row is the record, the start only a wake-up.
 */
async function startTopUps(deps: ActivityDeps, organizationId: string, topUpIds: readonly string[]): Promise<void> {
  if (!deps.temporal) return;
  for (const topUpId of topUpIds) {
    try {
      await startCreditTopUp(deps.temporal, deps.taskQueue, { organizationId, topUpId });
    } catch {
      // (the sweeper starts it)
    }
  }
}

// The four steps as activities of their own, as workflows started before the
// one-transaction patch schedule them (and the tests run them one by one).

export function linkCustomers(deps: ActivityDeps) {
  return async function linkCustomers(input: IngestBatchInput): Promise<{ customersCreated: number }> {
    return { customersCreated: await step(deps, input, 0, createCustomers) };
  };
}

export function rateEvents(deps: ActivityDeps) {
  return async function rateEvents(input: IngestBatchInput): Promise<RateEventsResult> {
    // (workflows from before the one-transaction patch: prepaid credits did not exist yet)
    return step(deps, input, { eventsRated: 0, eventsIncomplete: 0 }, async (db, ctx) => {
      const { eventsRated, eventsIncomplete } = await rateBatchEvents(db, ctx);
      return { eventsRated, eventsIncomplete };
    });
  };
}

export interface CheckQuotasResult {
  countersUpdated: number;
  notificationsCreated: number;
  /** the organization's notifications still waiting for delivery, from this batch or earlier ones */
  notificationsPending: number;
}

export function checkQuotas(deps: ActivityDeps) {
  return async function checkQuotas(input: IngestBatchInput): Promise<CheckQuotasResult> {
    const quotas = await step(deps, input, { countersUpdated: 0, notificationsCreated: 0 }, countQuotas);
    return { ...quotas, notificationsPending: await pendingNotifications(deps.pool, input.organizationId) };
  };
}

export function markBatchProcessed(deps: ActivityDeps) {
  return async function markBatchProcessed(input: IngestBatchInput): Promise<{ transitioned: boolean }> {
    const actor = workflowActor();
    return { transitioned: await inTransaction(deps.pool, (db) => markProcessed(db, { ...input, actor })) };
  };
}

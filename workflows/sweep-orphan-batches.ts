import { patched, proxyActivities } from '@temporalio/workflow';
import type { FindOrphanBatchesInput, LedgerflowActivities } from '../activities';

/**
 * The schedule runs this again every interval, so a few quick attempts are
 * enough; anything left over is found on the next sweep.
 */
const sweeper = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
});

/** Since 2026-12-02 the sweep also starts subscriptions' workflows and margin-watch schedules; earlier runs keep replaying. */
export const SWEEP_ENTITIES_PATCH = 'sweep-subscriptions-and-margin-watches';

/** Since 2026-12-05 the sweep also starts credit top-ups' workflows; earlier runs keep replaying. */
export const SWEEP_TOP_UPS_PATCH = 'sweep-credit-top-ups';

/** Since 2026-12-05 (later) the sweep also starts the expiry timers of credit holds held past their expiry. */
export const SWEEP_HOLDS_PATCH = 'sweep-overdue-credit-holds';

export interface SweepOrphanBatchesResult {
  found: number;
  started: number;
  subscriptionsStarted?: number;
  marginWatchesScheduled?: number;
  topUpsStarted?: number;
  holdTimersStarted?: number;
}

/**
 * The sweeper schedule's run: whatever should have been started and was
 * not — processing batches (claiming requests no batcher took), the
 * workflows of subscriptions committed without one, margin-watch
 * schedules of organizations created after the worker started (or whose
 * interval changed), credit top-ups whose workflow never started, and the
 * expiry timers of credit holds still held past their expiry.
 */
export async function sweepOrphanBatches(input: FindOrphanBatchesInput = {}): Promise<SweepOrphanBatchesResult> {
  const orphans = await sweeper.findOrphanBatches(input);
  const results = await Promise.all(orphans.map((batch) => sweeper.startOrphanBatch(batch)));
  const swept: SweepOrphanBatchesResult = { found: orphans.length, started: results.filter((r) => r.recorded).length };
  if (!patched(SWEEP_ENTITIES_PATCH)) return swept;
  const subscriptions = await sweeper.startOrphanSubscriptions(input);
  const marginWatches = await sweeper.ensureMarginWatches(input);
  const entities = { ...swept, subscriptionsStarted: subscriptions.started, marginWatchesScheduled: marginWatches.scheduled };
  if (!patched(SWEEP_TOP_UPS_PATCH)) return entities;
  const withTopUps = { ...entities, topUpsStarted: (await sweeper.startOrphanTopUps(input)).started };
  if (!patched(SWEEP_HOLDS_PATCH)) return withTopUps;
  return { ...withTopUps, holdTimersStarted: (await sweeper.startOverdueHoldTimers(input)).started };
}

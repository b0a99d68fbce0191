import { proxyActivities } from '@temporalio/workflow';
import type { FindOrphanBatchesInput, LedgerflowActivities } from '../activities';

/**
 * The schedule runs this again every interval, so a few quick attempts are
 * enough; anything left over is found on the next sweep.
 */
const sweeper = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
});

export interface SweepOrphanBatchesResult {
  found: number;
  started: number;
}

/** Starts the ingest workflow of every batch the API accepted but never started. */
export async function sweepOrphanBatches(input: FindOrphanBatchesInput = {}): Promise<SweepOrphanBatchesResult> {
  const orphans = await sweeper.findOrphanBatches(input);
  const results = await Promise.all(orphans.map((batch) => sweeper.startOrphanBatch(batch)));
  return { found: orphans.length, started: results.filter((r) => r.recorded).length };
}

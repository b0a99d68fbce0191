// Workflows for bench/temporal-ceiling.ts: the least a per-subscription
// billing run can do on Temporal — record one step (as a local or a regular
// activity), then wait for a decision the way billingRun waits for approval.
import { condition, defineSignal, proxyActivities, proxyLocalActivities, setHandler, sleep } from '@temporalio/workflow';

export interface CeilingActivities {
  draft(id: string): Promise<void>;
}

const local = proxyLocalActivities<CeilingActivities>({ startToCloseTimeout: '1 minute' });
const remote = proxyActivities<CeilingActivities>({ startToCloseTimeout: '1 minute' });
export const releaseSignal = defineSignal('release');

export async function ceilingProbe(id: string, mode: 'local' | 'remote' | 'none'): Promise<void> {
  let released = false;
  setHandler(releaseSignal, () => {
    released = true;
  });
  if (mode === 'local') await local.draft(id);
  else if (mode === 'remote') await remote.draft(id);
  // A reminder timer races the decision, as in billingRun's approval loop.
  await Promise.race([condition(() => released), sleep('24 hours')]);
}

import { sleep } from '@temporalio/workflow';

// Test-only workflow (bundled by test/time-skipping-env.test.ts, not part of
// workflows/index.ts). Date.now() inside a workflow is workflow time, which
// the time-skipping server moves forward instead of waiting.

export interface SleptFor {
  before: number;
  after: number;
}

export async function sleepy(days: number): Promise<SleptFor> {
  const before = Date.now();
  await sleep(`${days} days`);
  return { before, after: Date.now() };
}

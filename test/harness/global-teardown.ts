import fs from 'node:fs';

interface Harness {
  postgres: { stop(): Promise<void> };
  temporal: { stop(): Promise<void> };
  root: string;
}

export default async function globalTeardown(): Promise<void> {
  const harness = (globalThis as Record<string, unknown>).__ledgerflowHarness as Harness | undefined;
  if (!harness) return;
  await Promise.allSettled([harness.temporal.stop(), harness.postgres.stop()]);
  fs.rmSync(harness.root, { recursive: true, force: true });
}

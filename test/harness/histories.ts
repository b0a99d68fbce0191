import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';

/** Where recorded histories live; test/workflow-replay.test.ts replays every one. */
export const HISTORIES_DIR = path.join(__dirname, 'histories');

/**
 * With RECORD_HISTORIES=1, saves the finished run's history as
 * `<name>.history.pb` (binary protobuf, see test/workflow-replay.test.ts).
 * Re-record only after a deliberate, patched() change to workflow code:
 *   RECORD_HISTORIES=1 npx jest test/billing-run test/billing-reset test/billing-month --selectProjects integration
 */
export async function recordHistory(name: string, handle: WorkflowHandle, options: { ifMissing?: boolean } = {}): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  // A history kept for the code before a patch (its run is recorded under a newer name too): never overwritten by today's code.
  if (options.ifMissing && fs.existsSync(path.join(HISTORIES_DIR, `${name}.history.pb`))) return;
  const history = await handle.fetchHistory();
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.history.pb`), temporal.api.history.v1.History.encode(history).finish());
}

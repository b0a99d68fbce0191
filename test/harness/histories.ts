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

/** What a local activity's marker says: its type, when it completed (the SDK counts it from its task's start), and whether it failed. */
export interface LocalActivityMarker {
  activityType: string;
  completeTimeMs: number;
  failed: boolean;
}

/** The local activity an event's marker records, or null for any other event. */
export function localActivityMarker(event: temporal.api.history.v1.IHistoryEvent): LocalActivityMarker | null {
  const attributes = event.markerRecordedEventAttributes;
  const data = attributes?.details?.data?.payloads?.[0]?.data;
  if (!attributes || !data) return null;
  const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string; complete_time?: { seconds?: number; nanos?: number } };
  if (!parsed.activity_type) return null;
  const completeTimeMs = Number(parsed.complete_time?.seconds ?? 0) * 1000 + (parsed.complete_time?.nanos ?? 0) / 1e6;
  return { activityType: parsed.activity_type, completeTimeMs, failed: Boolean(attributes.failure) };
}

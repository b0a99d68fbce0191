import { v7 as uuidv7 } from '../../prisma/uuid-v7';
import type { Caller } from '../auth';
import { ApiError } from '../errors';
import type { IngestOutcome } from '../metrics';
import type { BacklogGate } from './backlog-gate';
import type { GroupCommitter } from './group-commit';
import { validateEvents } from './validate-events';

export interface Ingest {
  writer: GroupCommitter;
  backlog: BacklogGate;
  counted: (outcome: IngestOutcome, events: number) => void;
}

export interface IngestAnswer {
  batch_id: string;
  accepted: number;
  duplicates: number;
  duplicate_keys: string[];
  rejected: ReturnType<typeof validateEvents>['rejected'];
}

/**
 * POST /api/v1/events after admission: backpressure, validation, storing in
 * one (group) transaction — no Temporal call on the request path. The
 * worker's batcher forms processing batches from what was stored and runs
 * their workflows; GET /api/v1/batches/:id follows a request there. Throws
 * an ApiError for a 400, 403 or 503. Shared by the Express route and the
 * fast lane (api/ingest/fast-lane.ts).
 */
export async function ingestRequest(ingest: Ingest, caller: Caller, body: unknown, proxied = false): Promise<IngestAnswer> {
  try {
    ingest.backlog.admit(caller.organizationId);
  } catch (refused) {
    const events = (body as { events?: unknown } | null)?.events;
    ingest.counted('refused', Array.isArray(events) ? events.length : 1);
    throw refused;
  }
  const request = validateEvents(body, new Date(), proxied);
  if (request.events.length === 0 && request.inRequestDuplicates.length === 0) {
    ingest.counted('rejected', request.rejected.length);
    throw new ApiError(400, 'VALIDATION_ERROR', `All ${request.received} event(s) were rejected`, { batch_id: null, rejected: request.rejected });
  }

  // Time-ordered, like the event ids: the request rows' primary key grows at its right-hand end.
  const batchId = uuidv7();
  // The AI proxy's events are calls already served: a HARD limit counts them and refuses the next call instead.
  const stored = await ingest.writer.store({ ...request, organizationId: caller.organizationId, apiKeyId: caller.apiKeyId, batchId, served: proxied });
  ingest.counted('accepted', stored.accepted);
  ingest.counted('duplicate', stored.duplicateKeys.length);
  ingest.counted('rejected', stored.rejected.length);

  const firstQuota = stored.rejected.find((r) => r.code === 'QUOTA_EXCEEDED');
  if (stored.accepted === 0 && stored.duplicateKeys.length === 0 && firstQuota?.details) {
    throw new ApiError(403, 'QUOTA_EXCEEDED', 'Every event of the request is over a HARD quota', {
      ...firstQuota.details,
      batch_id: batchId,
      rejected: stored.rejected,
    });
  }
  return { batch_id: batchId, accepted: stored.accepted, duplicates: stored.duplicateKeys.length, duplicate_keys: stored.duplicateKeys, rejected: stored.rejected };
}

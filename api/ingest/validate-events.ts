import { ApiError } from '../errors';
import { EventSchema, MAX_EVENTS_PER_REQUEST, type EventInput, type RejectedEvent } from '../schemas/events';
import { findUnstorableText } from '../../billing/storable-text';
import { describeIssue } from '../validation';
import { PROXY_KEY_PREFIX } from '../../services/proxy-upstreams';

const MAX_FUTURE_MS = 5 * 60_000;
const MAX_AGE_MS = 35 * 24 * 3_600_000;

export interface ValidEvent extends EventInput {
  /** position in the request */
  index: number;
}

export interface ValidatedRequest {
  received: number;
  /** valid events, first occurrence of each idempotency key, in request order */
  events: ValidEvent[];
  rejected: RejectedEvent[];
  /** keys repeated inside the request (each later occurrence counts as one duplicate) */
  inRequestDuplicates: string[];
}

/** The request is one event or { events: [...] }; anything else is not a batch at all. */
function rawEvents(body: unknown): unknown[] {
  if (Array.isArray(body)) {
    throw new ApiError(400, 'VALIDATION_ERROR', 'Send one event object or { "events": [...] }, not a bare array', { field: null });
  }
  if (typeof body !== 'object' || body === null) {
    throw new ApiError(400, 'VALIDATION_ERROR', 'Request body must be a JSON object', { field: null });
  }
  if (!('events' in body)) return [body];
  const { events, ...rest } = body as { events: unknown };
  const extra = Object.keys(rest);
  if (extra.length > 0) {
    throw new ApiError(400, 'UNKNOWN_FIELD', `Unknown field next to events: ${extra.join(', ')}`, { field: extra[0] });
  }
  if (!Array.isArray(events)) throw new ApiError(400, 'INVALID_TYPE', 'events must be an array of events', { field: 'events' });
  if (events.length === 0) throw new ApiError(400, 'VALIDATION_ERROR', 'events must contain at least one event', { field: 'events' });
  if (events.length > MAX_EVENTS_PER_REQUEST) {
    throw new ApiError(400, 'TOO_MANY_EVENTS', `events holds ${events.length} events; send at most ${MAX_EVENTS_PER_REQUEST} per request`, {
      field: 'events',
    });
  }
  return events;
}

function timestampProblem(timestamp: string, now: Date): Omit<RejectedEvent, 'index'> | undefined {
  const at = Date.parse(timestamp);
  if (at > now.getTime() + MAX_FUTURE_MS) {
    return { code: 'TIMESTAMP_IN_FUTURE', field: 'timestamp', message: 'timestamp is more than 5 minutes in the future' };
  }
  if (at < now.getTime() - MAX_AGE_MS) {
    return { code: 'TIMESTAMP_TOO_OLD', field: 'timestamp', message: 'timestamp is older than 35 days' };
  }
  return undefined;
}

/**
 * What of an event is stored: all of it but a vendor response's text (only its id, model and usage are read), so
 * a model's output that PostgreSQL could not store (a NUL) does not refuse the event.
 */
function storedPart(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || !('vendor_response' in input)) return input;
  const { vendor_response: wrapper } = input as { vendor_response: unknown };
  const response = typeof wrapper === 'object' && wrapper !== null ? (wrapper as { response?: unknown }).response : undefined;
  if (typeof response !== 'object' || response === null) return input;
  const { id, model, usage } = response as Record<string, unknown>;
  return { ...input, vendor_response: { ...(wrapper as object), response: { id, model, usage } } };
}

/**
 * Validates every event on its own: one bad event is reported (index, code,
 * field, message) and the rest go on. Repeated idempotency keys within the
 * request are dropped here, so the database sees each key once.
 */
/**
 * `proxyEvents`: the AI proxy's own post (POST /api/v1/proxy/events), the only one whose idempotency keys may
 * start with "proxy:": an app cannot take a proxied call's key before the proxy records it.
 */
export function validateEvents(body: unknown, now: Date, proxyEvents = false): ValidatedRequest {
  const raw = rawEvents(body);
  const events: ValidEvent[] = [];
  const rejected: RejectedEvent[] = [];
  const inRequestDuplicates: string[] = [];
  const seen = new Set<string>();
  raw.forEach((input, index) => {
    const unstorable = findUnstorableText(storedPart(input));
    if (unstorable) {
      rejected.push({ index, code: 'INVALID_TEXT', field: unstorable.field || null, message: unstorable.message });
      return;
    }
    const result = EventSchema.safeParse(input);
    if (!result.success) {
      const first = result.error.issues[0];
      const problem = first
        ? describeIssue(first, input)
        : { code: 'INVALID_VALUE', field: '', message: 'invalid event' };
      rejected.push({ index, code: problem.code, field: problem.field || null, message: problem.message });
      return;
    }
    const event = result.data;
    if (event.idempotency_key.startsWith(PROXY_KEY_PREFIX) !== proxyEvents) {
      const message = proxyEvents
        ? `must start with "${PROXY_KEY_PREFIX}"`
        : `must not start with "${PROXY_KEY_PREFIX}": those keys are the AI proxy's, one per call it served`;
      rejected.push({ index, code: 'INVALID_VALUE', field: 'idempotency_key', message: `idempotency_key ${message}`, idempotency_key: event.idempotency_key });
      return;
    }
    const tooEarlyOrLate = timestampProblem(event.timestamp, now);
    if (tooEarlyOrLate) {
      rejected.push({ index, ...tooEarlyOrLate, idempotency_key: event.idempotency_key });
      return;
    }
    if (seen.has(event.idempotency_key)) {
      inRequestDuplicates.push(event.idempotency_key);
      return;
    }
    seen.add(event.idempotency_key);
    events.push({ ...event, index });
  });
  return { received: raw.length, events, rejected, inRequestDuplicates };
}

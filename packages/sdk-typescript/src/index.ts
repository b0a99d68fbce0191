import { randomUUID } from 'node:crypto';
import { meterStream, vendorResponse, type Vendor, type VendorResponse } from './ai';
import { call, type HttpOptions, type RequestBody, type ResponseBody } from './http';
import type { paths } from './generated/openapi';
import { Tracker, type IngestEvent, type IngestResponse, type TrackerOptions, type TrackerStats } from './tracker';

export { LedgerflowError, type RequestBody, type ResponseBody } from './http';
export { meterStream, StreamUsage, vendorResponse, type Vendor, type VendorResponse } from './ai';
export type { IngestEvent, IngestResponse, RejectedEvent, TrackerStats } from './tracker';
export type { components, paths } from './generated/openapi';

/** The event type of a call tracked from a model's response when none is given: the AI proxy's default too. */
export const DEFAULT_AI_EVENT_TYPE = 'llm.completion';

export interface LedgerflowOptions extends Partial<TrackerOptions> {
  /** an organization API key (lf_…): the ingest scope for track(), read for the checks and quotes, billing for reservations */
  apiKey: string;
  /** where the API listens (default http://127.0.0.1:3000) */
  baseUrl?: string;
  /** one request's time limit (default 10,000 ms) */
  timeoutMs?: number;
  /** close()'s default time limit (default 10,000 ms) */
  closeTimeoutMs?: number;
  /** another fetch (a proxy agent, a test's fault); default the global one */
  fetch?: typeof fetch;
}

/** What track() takes: an event, where a model's response (or a stream's usage) stands for its usage and quantity. */
export interface TrackInput {
  /** your id for the customer (customer_external_id) */
  customer: string;
  /** default llm.completion when response is given; required otherwise */
  event_type?: string;
  feature?: string;
  /** default 1, or the response's total tokens */
  quantity?: string | number;
  /** default now */
  timestamp?: Date | string;
  /** default "<vendor>:<response id>" for a response that has an id, else a new UUID: a retry never counts twice */
  idempotency_key?: string;
  properties?: Record<string, unknown>;
  revenue_amount?: string | number;
  currency?: string;
  reservation_id?: string;
  vendor_usage?: IngestEvent['vendor_usage'];
  /** an OpenAI or Anthropic response object, or what vendorResponse() / a metered stream read of one */
  response?: unknown;
  /** whose response it is, when it cannot be told from the object */
  vendor?: Vendor;
}

function isVendorResponse(value: unknown): value is VendorResponse {
  return value !== null && typeof value === 'object' && 'vendor' in value && 'response' in value && Object.keys(value).length === 2;
}

/** The event POST /api/v1/events takes for one track() call. */
export function toEvent(input: TrackInput): IngestEvent {
  const { customer, response, vendor, timestamp, quantity, revenue_amount, ...rest } = input;
  const read = response === undefined ? undefined : isVendorResponse(response) ? response : vendorResponse(response, vendor);
  const eventType = input.event_type ?? (read ? DEFAULT_AI_EVENT_TYPE : undefined);
  if (!eventType) throw new TypeError('track() needs event_type (or a model response, metered as llm.completion)');
  const idempotencyKey = input.idempotency_key ?? (read?.response.id ? `${read.vendor}:${read.response.id}` : randomUUID());
  return {
    ...rest,
    customer_external_id: customer,
    event_type: eventType,
    idempotency_key: idempotencyKey,
    timestamp: timestamp instanceof Date ? timestamp.toISOString() : (timestamp ?? new Date().toISOString()),
    ...(quantity === undefined ? {} : { quantity: String(quantity) }),
    ...(revenue_amount === undefined ? {} : { revenue_amount: String(revenue_amount) }),
    ...(read ? { vendor_response: read } : {}),
  };
}

type Post<P extends keyof paths> = P extends keyof paths ? ('post' extends keyof paths[P] ? RequestBody<P, 'post'> : never) : never;
/**
 * The Ledgerflow API from TypeScript: track() buffers usage events and sends them in the background (flush() and
 * close() deliver the rest); the other calls answer at once, typed from the API's OpenAPI document.
 */
export class Ledgerflow {
  private readonly http: HttpOptions;
  private readonly tracker: Tracker;
  private readonly closeTimeoutMs: number;

  constructor(options: LedgerflowOptions) {
    if (!options.apiKey) throw new TypeError('apiKey is required (an organization API key, lf_…)');
    this.http = { apiKey: options.apiKey, baseUrl: options.baseUrl ?? 'http://127.0.0.1:3000', timeoutMs: options.timeoutMs ?? 10_000, fetch: options.fetch ?? fetch };
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.tracker = new Tracker(this.http, {
      flushAt: options.flushAt ?? 100,
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      maxBufferedEvents: options.maxBufferedEvents ?? 10_000,
      overflow: options.overflow ?? 'drop_newest',
      initialRetryDelayMs: options.initialRetryDelayMs ?? 500,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      onRejected: options.onRejected ?? ((rejected) => console.warn(`[ledgerflow] ${rejected.length} event(s) refused by the API: ${rejected.map((r) => `${r.event.idempotency_key} ${r.code} ${r.field ?? ''} ${r.message}`).join('; ')}`)),
      onDropped: options.onDropped ?? ((events) => console.warn(`[ledgerflow] buffer full (${options.maxBufferedEvents ?? 10_000} events): dropped ${events.length} event(s)`)),
      onRetry:
        options.onRetry ??
        ((error, attempt, delayMs) => {
          if (attempt === 1 || attempt % 10 === 0) console.warn(`[ledgerflow] posting events failed (${error.code}: ${error.message}); retry ${attempt} in ${Math.round(delayMs)} ms`);
        }),
    });
  }

  /** Buffers one event (sent within flushIntervalMs); false when the buffer was full and it was dropped. */
  track(input: TrackInput): boolean {
    return this.tracker.add(toEvent(input));
  }

  /**
   * The stream's chunks, passed through unchanged; when it ends (or the caller stops early, marked partial) the
   * call is tracked with the usage the stream reported. An OpenAI stream reports usage only when the request set
   * stream_options: { include_usage: true }.
   */
  trackStream<Chunk>(stream: AsyncIterable<Chunk>, input: Omit<TrackInput, 'response' | 'quantity'>): AsyncGenerator<Chunk, void, undefined> {
    return meterStream(
      stream,
      (usage, complete) => {
        const read = usage.result();
        if (!read) return; // no chunk arrived: the model was never reached
        const marks = { ...(complete ? {} : { partial: true }), ...(usage.reported ? {} : { usage_missing: true }) };
        this.track({ ...input, response: read, properties: { ...input.properties, ...marks } });
      },
      input.vendor,
    );
  }

  /** Sends the buffered events now and waits until all are delivered (retrying while the API is away). */
  flush(): Promise<void> {
    return this.tracker.flush();
  }

  /** Delivers what is buffered within timeoutMs and stops; answers the events it could not deliver (keep them). */
  close(timeoutMs = this.closeTimeoutMs): Promise<IngestEvent[]> {
    return this.tracker.close(timeoutMs);
  }

  stats(): TrackerStats {
    return this.tracker.stats();
  }

  /** POST /api/v1/events now (no buffer): up to 1,000 events, each reported accepted, duplicate or rejected. */
  async ingest(events: IngestEvent | IngestEvent[]): Promise<IngestResponse> {
    return (await this.post('/api/v1/events', Array.isArray(events) ? { events } : events)).body as IngestResponse;
  }

  /** GET /api/v1/batches/{id}: where a request's events stand (stored, rated). */
  async batch(id: string): Promise<ResponseBody<'/api/v1/batches/{id}', 'get'>> {
    return (await call<ResponseBody<'/api/v1/batches/{id}', 'get'>>(this.http, 'GET', `/api/v1/batches/${encodeURIComponent(id)}`)).body;
  }

  readonly entitlements = {
    /** Would this quantity be allowed now: a quota and the prepaid wallet (event_type), or the customer's plans (feature)? */
    check: async (body: RequestBody<'/api/v1/entitlements/check', 'post'>) => (await this.post('/api/v1/entitlements/check', body)).body as ResponseBody<'/api/v1/entitlements/check', 'post'>,
  };

  readonly rating = {
    /** The cost of one usage line at the vendor rate in effect now. */
    calculate: async (body: RequestBody<'/api/v1/rating/calculate', 'post'>) => (await this.post('/api/v1/rating/calculate', body)).body as ResponseBody<'/api/v1/rating/calculate', 'post'>,
  };

  readonly quotes = {
    /** What a quantity costs under a price model, with its tier breakdown. */
    price: async (body: RequestBody<'/api/v1/quotes/price', 'post'>) => (await this.post('/api/v1/quotes/price', body)).body as ResponseBody<'/api/v1/quotes/price', 'post'>,
    /** What a mid-period plan change credits and charges. */
    proration: async (body: RequestBody<'/api/v1/quotes/proration', 'post'>) => (await this.post('/api/v1/quotes/proration', body)).body as ResponseBody<'/api/v1/quotes/proration', 'post'>,
  };

  readonly credits = {
    /** A customer's credit balance, by grant (customer: your external id, or our id). */
    balance: async (customer: string) =>
      (await call<ResponseBody<'/api/v1/customers/{id}/wallet', 'get'>>(this.http, 'GET', `/api/v1/customers/${encodeURIComponent(customer)}/wallet`)).body,
    /** Holds credits before an expensive call; the event that names the reservation commits it. A repeated idempotency_key answers the first hold. */
    reserve: async (body: RequestBody<'/api/v1/credits/reservations', 'post'>) =>
      (await this.post('/api/v1/credits/reservations', body)).body as ResponseBody<'/api/v1/credits/reservations', 'post', 201>,
    /** A reservation and where it stands. */
    reservation: async (id: string) =>
      (await call<ResponseBody<'/api/v1/credits/reservations/{id}', 'get'>>(this.http, 'GET', `/api/v1/credits/reservations/${encodeURIComponent(id)}`)).body,
    /** Gives a held reservation back (the call was not made). */
    release: async (id: string) =>
      (await call<ResponseBody<'/api/v1/credits/reservations/{id}/release', 'post'>>(this.http, 'POST', `/api/v1/credits/reservations/${encodeURIComponent(id)}/release`)).body,
  };

  private post<P extends keyof paths>(path: P, body: Post<P>) {
    return call<unknown>(this.http, 'POST', path, body);
  }
}

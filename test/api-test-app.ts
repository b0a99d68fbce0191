import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import http, { createServer, type Server } from 'node:http';
import type { Pool } from 'pg';
import { createApi } from '../api/app';
import type { ApiConfig } from '../api/config';
import { createPgPool } from '../prisma/client';
import { createTemporalClient, type TemporalClientHandle } from '../temporal/client';
import { testPrisma, uniqueTaskQueue } from './harness/fixtures';

/** Response bodies are whatever JSON the API sent; tests assert on their fields. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type JsonBody = any;

export interface TestApi {
  base: string;
  pgPool: Pool;
  temporal: TemporalClientHandle;
  taskQueue: string;
  post(path: string, apiKey: string | null, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: JsonBody; headers: Headers }>;
  get(path: string, apiKey: string | null, headers?: Record<string, string>): Promise<{ status: number; body: JsonBody; headers: Headers }>;
  patch(path: string, apiKey: string | null, body: unknown): Promise<{ status: number; body: JsonBody; headers: Headers }>;
  put(path: string, apiKey: string | null, body: unknown): Promise<{ status: number; body: JsonBody; headers: Headers }>;
  delete(path: string, apiKey: string | null): Promise<{ status: number; body: JsonBody; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * A real API instance on a free port, against the harness PostgreSQL and
 * Temporal. Its task queue has no worker (unless a test passes the queue of
 * one it runs), so started workflows stay put and the tests see only what the
 * API itself did.
 */
export async function startTestApi(config: Partial<ApiConfig> = {}, taskQueue = uniqueTaskQueue('api')): Promise<TestApi> {
  const pgPool = createPgPool(process.env.DATABASE_URL, { max: 10 });
  const temporal = await createTemporalClient();
  // The backlog limits are deployment-wide, and test files share one database whose fixtures leave
  // batches unrated on purpose: only the backpressure test turns them on, with its own bounds.
  const api = createApi(
    { prisma: testPrisma(), pgPool, temporal: temporal.client, taskQueue },
    // Each test app shares rate limits with no other (API processes of one group divide them).
    { rateLimitPerIpPerSecond: 0, ingestMaxBacklogEvents: 0, ingestMaxBacklogAgeSeconds: 0, apiInstanceGroup: `test-${randomUUID()}`, ...config },
  );
  const server: Server = createServer(api.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function call(method: string, path: string, apiKey: string | null, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // leave non-JSON bodies as text so a test can show them
    }
    return { status: res.status, body: parsed as JsonBody, headers: res.headers };
  }

  return {
    base,
    pgPool,
    temporal,
    taskQueue,
    post: (path, apiKey, body, headers) => call('POST', path, apiKey, body, headers),
    get: (path, apiKey, headers) => call('GET', path, apiKey, undefined, headers),
    patch: (path, apiKey, body) => call('PATCH', path, apiKey, body),
    put: (path, apiKey, body) => call('PUT', path, apiKey, body),
    delete: (path, apiKey) => call('DELETE', path, apiKey),
    async close() {
      api.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await pgPool.end();
      await temporal.close();
    },
  };
}

/** An event stamped a minute ago, so it is inside the accepted time range. */
export function event(key: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    idempotency_key: key,
    customer_external_id: 'cust-1',
    event_type: 'api_call',
    quantity: 1,
    timestamp: new Date(Date.now() - 60_000).toISOString(),
    ...overrides,
  };
}

/** An answer read off the socket, headers as Node gives them. */
export interface RawAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

export interface RawPost {
  /** sends the rest of the body */
  finish(): void;
  /** the client goes away without sending the rest */
  abandon(): void;
  answer: Promise<RawAnswer>;
}

/**
 * POST /api/v1/events over a socket of its own, its body sent in two halves: the second only when `finish` is
 * called. With a Content-Length (the ingest fast lane takes it) unless `chunked` (Express does).
 */
export function postEventsInParts(base: string, apiKey: string | null, body: string, opts: { chunked?: boolean; contentType?: string } = {}): RawPost {
  const url = new URL(base);
  let req!: http.ClientRequest;
  const half = Math.floor(body.length / 2);
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: '/api/v1/events',
        method: 'POST',
        agent: false,
        headers: {
          'content-type': opts.contentType ?? 'application/json',
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
          ...(opts.chunked ? {} : { 'content-length': Buffer.byteLength(body) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'), headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, half));
  });
  return { finish: () => req.end(body.slice(half)), abandon: () => req.destroy(), answer };
}

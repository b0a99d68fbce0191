import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Express } from 'express';
import proxyaddr from 'proxy-addr';
import type { Admission } from '../admission';
import { assertScope } from '../auth';
import { ClientGone, readDeadline, type BodyBudget, type Release } from '../body-budget';
import { ApiError, errorAnswer } from '../errors';
import { ingestRequest, type Ingest } from './ingest-request';
import { parseJsonExactly } from '../exact-json';

export interface FastLaneOptions {
  admission: Admission;
  ingest: Ingest;
  /** largest body taken here, in bytes; anything larger goes to Express (which answers 413) */
  bodyLimitBytes: number;
  /** the request bodies in process at once, shared with the Express routes (null: unbounded) */
  budget: BodyBudget | null;
  log: (message: string, err?: unknown) => void;
}

const PATH = '/api/v1/events';

/** application/json with no charset or utf-8 — what `req.is('application/json')` and body-parser accept without conversion. */
function plainJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const [type, ...params] = contentType.split(';');
  if (type!.trim().toLowerCase() !== 'application/json') return false;
  return params.every((p) => {
    const [name, value] = p.split('=').map((x) => x.trim().toLowerCase());
    return name !== 'charset' || value === 'utf-8' || value === '"utf-8"';
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}

/** The body, or null when it is not `length` bytes or never came whole (the client went away, or was cut off for stalling). */
function readBody(req: IncomingMessage, length: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    if (req.destroyed) {
      resolve(null);
      return;
    }
    readDeadline(req);
    req.once('close', () => resolve(null));
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= length) chunks.push(chunk);
    });
    req.on('end', () => resolve(received === length ? Buffer.concat(chunks, length) : null));
    req.on('error', () => resolve(null));
  });
}

/**
 * The ingest fast lane: POST /api/v1/events with a plain JSON body is
 * served straight from Node's HTTP server, with the same admission (API key,
 * rate limits), validation, storing and answers as the Express route —
 * everything but Express itself, whose router and middleware stack cost
 * more CPU per request than parsing the HTTP request does (measured: 0.23 ms
 * per request for an empty Express 5 JSON route against 0.07 ms for plain
 * Node; BENCHMARKS.md). Any other request — another route, a compressed,
 * chunked, non-UTF-8 or oversized body — goes to Express unchanged, so the
 * edge cases keep Express's answers.
 */
export function withIngestFastLane(app: Express, options: FastLaneOptions): RequestListener {
  return (req, res) => {
    const length = Number(req.headers['content-length']);
    const path = req.url?.split('?', 1)[0];
    if (
      req.method !== 'POST' ||
      path !== PATH ||
      !plainJson(req.headers['content-type']) ||
      (req.headers['content-encoding'] ?? 'identity').toLowerCase() !== 'identity' ||
      !Number.isSafeInteger(length) ||
      length <= 0 ||
      length > options.bodyLimitBytes
    ) {
      app(req, res);
      return;
    }
    void serve(app, options, req, res, length);
  };
}

async function serve(app: Express, options: FastLaneOptions, req: IncomingMessage, res: ServerResponse, length: number): Promise<void> {
  // The rate-limit headers go with every answer after admission, errors included, as Express sends them.
  let admittedHeaders: Record<string, string> = {};
  let release: Release | undefined;
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  res.once('close', onClose);
  try {
    // The client address as Express works it out, honouring its `trust proxy` setting.
    const ip = proxyaddr(req, app.get('trust proxy fn') as (addr: string, i: number) => boolean);
    const { caller, headers } = await options.admission.admit(ip, req.headers.authorization);
    admittedHeaders = headers;
    assertScope(caller, 'POST', '/events');
    release = await options.budget?.acquire(length, gone.signal);
    const raw = await readBody(req, length);
    if (raw === null && gone.signal.aborted) return;
    if (raw === null) throw new ApiError(400, 'INVALID_CONTENT_LENGTH', 'Request body length does not match Content-Length');
    let body: unknown;
    try {
      // body-parser drops a UTF-8 byte order mark, and in strict mode takes only an object or an array.
      const text = raw.toString('utf8').replace(/^\uFEFF/, '');
      if (!/^[\s]*[[{]/.test(text)) throw new SyntaxError('not an object or array');
      body = parseJsonExactly(text);
    } catch {
      throw new ApiError(400, 'INVALID_JSON', 'Request body is not valid JSON');
    }
    send(res, 202, await ingestRequest(options.ingest, caller, body), admittedHeaders);
  } catch (err) {
    if (err instanceof ClientGone) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const answer = errorAnswer(err, options.log);
    send(res, answer.status, answer.body, { ...admittedHeaders, ...answer.headers });
  } finally {
    res.off('close', onClose);
    release?.();
  }
}

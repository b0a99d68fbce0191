import { isGrpcServiceError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DOMAIN_ERROR_STATUS, DomainError } from '../services/errors';

/** Every error the API returns has this shape. */
export interface ErrorBody {
  error: string;
  code: string;
  details?: unknown;
}

/** An error that maps to a client-facing status and code; thrown from handlers. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** response headers that go with it, e.g. Retry-After */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return this.details === undefined ? { error: this.message, code: this.code } : { error: this.message, code: this.code, details: this.details };
  }
}

export const notFoundRoute: RequestHandler = (req, res) => {
  res.status(404).json({ error: `No route for ${req.method} ${req.path}`, code: 'NOT_FOUND' } satisfies ErrorBody);
};

/** body-parser marks its errors with a `type`; these are the client's fault, not ours. */
function bodyParserError(err: unknown): ApiError | undefined {
  if (typeof err !== 'object' || err === null || !('type' in err)) return undefined;
  const { type } = err as { type: unknown; limit?: number };
  switch (type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'INVALID_JSON', 'Request body is not valid JSON');
    case 'entity.too.large': {
      const limit = (err as { limit?: number }).limit;
      return new ApiError(413, 'PAYLOAD_TOO_LARGE', `Request body is larger than the ${limit ?? 'allowed'} byte limit; send at most 1000 events per request`);
    }
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Request body must be UTF-8 JSON');
    case 'request.aborted':
      return new ApiError(400, 'REQUEST_ABORTED', 'The request was aborted before its body was read');
    case 'request.size.invalid':
      return new ApiError(400, 'INVALID_CONTENT_LENGTH', 'Request body length does not match Content-Length');
    default:
      return undefined;
  }
}

/**
 * A domain service's refusal (services/errors.ts): its status by kind, its
 * code, the field it names. A VALIDATION_ERROR reads as the schema's own
 * refusals do (api/validation.ts parseOrThrow): `Invalid request: <field>: …`
 * with the problem in details.issues, so a client handles both alike.
 */
function domainError(err: unknown): ApiError | undefined {
  if (!(err instanceof DomainError)) return undefined;
  const status = DOMAIN_ERROR_STATUS[err.kind];
  if (err.code === 'VALIDATION_ERROR' && err.field !== undefined) {
    return new ApiError(status, err.code, `Invalid request: ${err.message}`, { ...err.details, field: err.field, issues: [{ code: err.issueCode, field: err.field, message: err.message }] });
  }
  const details = { ...err.details, ...(err.field === undefined ? {} : { field: err.field }) };
  return new ApiError(status, err.code, err.message, Object.keys(details).length === 0 ? undefined : details);
}

/** Connection-level failures of PostgreSQL (refused, reset, shutting down, too many clients): the database is away, not broken by the request. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006']);

function databaseUnavailable(err: unknown): ApiError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : '';
  if ((typeof code === 'string' && UNAVAILABLE_CODES.has(code)) || /Connection terminated|connect ECONNREFUSED/.test(message)) {
    return new ApiError(503, 'DATABASE_UNAVAILABLE', 'The database is not reachable right now; nothing of this request was stored. Retry shortly.', undefined, { 'Retry-After': '1' });
  }
  return undefined;
}

/** gRPC's UNAVAILABLE: the Temporal server could not be reached (stopped, restarting, network). */
const GRPC_UNAVAILABLE = 14;

/** A Temporal client call failed because the server is away (the error or one of its causes is gRPC UNAVAILABLE). */
function temporalUnavailable(err: unknown): ApiError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e) && e.code === GRPC_UNAVAILABLE) {
      return new ApiError(503, 'TEMPORAL_UNAVAILABLE', 'The workflow service (Temporal) is not reachable right now, so the request could not be carried out. Retry shortly.', undefined, { 'Retry-After': '5' });
    }
  }
  return undefined;
}

/**
 * The status, headers and body an error is answered with: known errors keep
 * their own; the database or Temporal being away is a 503 to retry; anything else a 500
 * without internals (and logged). Shared by the Express error middleware
 * and the ingest fast lane.
 */
export function errorAnswer(err: unknown, log: (message: string, err: unknown) => void): { status: number; headers: Record<string, string>; body: ErrorBody } {
  const unavailable = err instanceof ApiError || err instanceof DomainError ? undefined : (databaseUnavailable(err) ?? temporalUnavailable(err));
  // Nothing else reports an outage of the database or Temporal: say it once here. Known errors were reported (or not) where they were thrown.
  if (unavailable) log(unavailable.message, err);
  const known = err instanceof ApiError ? err : (domainError(err) ?? bodyParserError(err) ?? unavailable);
  if (known) {
    return { status: known.status, headers: { ...(known.headers ?? {}), ...(known.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}) }, body: known.body() };
  }
  log('unhandled error', err);
  return { status: 500, headers: {}, body: { error: 'Internal server error', code: 'INTERNAL' } };
}

/** The one error middleware (see errorAnswer). */
export function errorHandler(log: (message: string, err: unknown) => void): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const answer = errorAnswer(err, log);
    res.set(answer.headers);
    res.status(answer.status).json(answer.body);
  };
}

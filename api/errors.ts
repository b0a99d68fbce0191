import type { ErrorRequestHandler, RequestHandler } from 'express';

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

/** The one error middleware: known errors keep their status; anything else is a 500 without internals. */
export function errorHandler(log: (message: string, err: unknown) => void): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const known = err instanceof ApiError ? err : bodyParserError(err);
    if (known) {
      if (known.status === 401) res.set('WWW-Authenticate', 'Bearer');
      if (known.headers) res.set(known.headers);
      res.status(known.status).json(known.body());
      return;
    }
    log('unhandled error', err);
    res.status(500).json({ error: 'Internal server error', code: 'INTERNAL' } satisfies ErrorBody);
  };
}

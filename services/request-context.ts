import type { IncomingMessage, RequestListener } from 'node:http';
import { context, INVALID_SPAN_CONTEXT, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Logger } from '../temporal/log';
import { requestIdFrom, withRequestId } from '../temporal/request-id';

/*
 * What each HTTP request to the API or the web app runs under: its id (the caller's X-Request-Id when it
 * is a plain token, else a fresh UUID, answered back in X-Request-Id) and
 * its server span (a child of the caller's `traceparent`, if any). Log
 * lines name both; what the request sends to Temporal carries both. With
 * tracing off (temporal/tracing.ts) the span is the API's no-op one.
 */

const tracer = trace.getTracer('ledgerflow-http');
const contexts = new WeakMap<IncomingMessage, { id: string; span: Span }>();

/** Health checks and scrapes: an id, but no span (they would be most of the traces). */
const PROBES = new Set(['/health', '/ready', '/metrics']);

export interface IdentifiedOptions {
  /** the documented route of a path (the span's name and the access line's `route`) */
  routeOf: (path: string) => string;
  /** at debug level, a line per answered request: method, route, status, duration */
  log?: Pick<Logger, 'debug' | 'isLevelEnabled'>;
}

/** Gives each request its id and span, answers the id, and ends the span (named by its route) when the answer is sent. */
export function identified(handler: RequestListener, options: IdentifiedOptions): RequestListener {
  return (req, res) => {
    const started = performance.now();
    const id = requestIdFrom(req.headers['x-request-id']);
    // Read now: Express rewrites req.url as mounted routers take the request.
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    const span = PROBES.has(path)
      ? trace.wrapSpanContext(INVALID_SPAN_CONTEXT)
      : tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path, 'ledgerflow.request_id': id } }, propagation.extract(context.active(), req.headers));
    contexts.set(req, { id, span });
    res.setHeader('X-Request-Id', id);
    res.once('close', () => {
      const logged = options.log?.isLevelEnabled('debug') === true;
      if (span.isRecording() || logged) {
        const route = options.routeOf(path);
        if (span.isRecording()) {
          span.updateName(`${method} ${route}`);
          span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
          if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        }
        if (logged) inRequestContext(req, () => options.log!.debug({ method, route, status: res.statusCode, durationMs: Math.round(performance.now() - started) }, 'request'));
      }
      span.end();
    });
    inRequestContext(req, () => handler(req, res));
  };
}

/**
 * Runs `fn` in the request's context. Stream callbacks (a body being read)
 * run outside it, so the routes re-enter it once the body is in.
 */
export function inRequestContext<T>(req: IncomingMessage, fn: () => T): T {
  const own = contexts.get(req);
  if (!own) return fn();
  return context.with(trace.setSpan(context.active(), own.span), () => withRequestId(own.id, fn));
}

const ID_SEGMENT = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+|[A-Za-z0-9_-]{20,})$/i;

/** A path with its id-like segments (UUIDs, numbers, long tokens) as `:id`: a span name of bounded variety. */
export function pathTemplate(path: string): string {
  return path
    .split('/')
    .map((segment) => (ID_SEGMENT.test(segment) ? ':id' : segment))
    .join('/');
}

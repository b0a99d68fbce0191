import type { IncomingMessage, RequestListener } from 'node:http';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { requestIdFrom, withRequestId } from '../temporal/request-id';

/*
 * What each request runs under: its id (the caller's X-Request-Id when it
 * is a plain token, else a fresh UUID, answered back in X-Request-Id) and
 * its server span (a child of the caller's `traceparent`, if any). Log
 * lines name both; what the request sends to Temporal carries both. With
 * tracing off (temporal/tracing.ts) the span is the API's no-op one.
 */

const tracer = trace.getTracer('ledgerflow-api');
const contexts = new WeakMap<IncomingMessage, { id: string; span: Span }>();

/** Gives each request its id and span, answers the id, and ends the span (named by its documented route) when the answer is sent. */
export function identified(handler: RequestListener, routeOf: (path: string) => string): RequestListener {
  return (req, res) => {
    const id = requestIdFrom(req.headers['x-request-id']);
    // Read now: Express rewrites req.url as mounted routers take the request.
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path, 'ledgerflow.request_id': id } }, parent);
    contexts.set(req, { id, span });
    res.setHeader('X-Request-Id', id);
    res.once('close', () => {
      if (span.isRecording()) {
        const route = routeOf(path);
        span.updateName(`${method} ${route}`);
        span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
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

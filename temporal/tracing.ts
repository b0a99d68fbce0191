import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/*
 * OpenTelemetry tracing across API → workflow → activities. The API opens a
 * span per request; Temporal's interceptors (@temporalio/interceptors-
 * opentelemetry) carry its context in the headers of what the request
 * starts or messages, the workflow's spans ride the workflow's history
 * (exported by the worker through a sink), and each activity's span is a
 * child of the workflow's. Spans are exported over OTLP/HTTP (JSON) when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT) is set, the standard
 * variables; without one nothing is recorded or sent. Every request is
 * sampled unless OTEL_TRACES_SAMPLER says otherwise (e.g.
 * parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG=0.01 at high ingest
 * rates); health checks and metric scrapes get no span.
 */

export interface Tracing {
  /** true when spans are exported */
  enabled: boolean;
  resource: Resource;
  /** where finished spans go (the workflow sink uses it too) */
  spanProcessor: SpanProcessor;
  /** flushes what is buffered; call before the process exits */
  shutdown(): Promise<void>;
}

export function tracingEndpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const endpoint = (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || '').trim();
  if (endpoint === '') return undefined;
  try {
    const url = new URL(endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new Error(`OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL of an OTLP/HTTP receiver, e.g. http://127.0.0.1:4318 (got "${endpoint}")`);
  }
  return endpoint;
}

/** Registers the process's tracer provider (once, before any client or worker is made). */
export function installTracing(service: string, env: NodeJS.ProcessEnv = process.env): Tracing {
  const resource = new Resource({ 'service.name': service });
  if (tracingEndpoint(env) === undefined) return { enabled: false, resource, spanProcessor: new NoopSpanProcessor(), shutdown: async () => undefined };
  // The exporter reads the OTEL_EXPORTER_OTLP_* variables itself (endpoint, headers, timeout).
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 1_000 });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Also installs the AsyncLocalStorage context manager. Trace context only: a caller's `baggage`
  // header is not carried on (it would ride into every workflow's history).
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return { enabled: true, resource, spanProcessor, shutdown: () => provider.shutdown() };
}

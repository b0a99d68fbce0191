import { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import fs from 'node:fs';
import { bundleWorkflowCode, type ActivityInboundCallsInterceptor, type WorkerOptions } from '@temporalio/worker';
import type { Context as ActivityContext } from '@temporalio/activity';
import { requestIdOfHeaders, withLogContext } from '../temporal/request-id';
import type { Logger } from '../temporal/log';
import type { Tracing } from '../temporal/tracing';

/**
 * Workflow interceptor modules, in every workflow bundle (built at start or
 * ahead of time): ours passes the request id on to activities, Temporal's
 * OpenTelemetry one traces the workflow and passes the trace on.
 */
export const WORKFLOW_INTERCEPTOR_MODULES: readonly string[] = [
  require.resolve('../workflows/interceptors'),
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

/** Bundles the workflows with their interceptor modules into `file` (tests, benchmarks); the bundler's errors go to `onError`. */
export async function writeWorkflowBundle(file: string, onError: (message: string) => void): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: [...WORKFLOW_INTERCEPTOR_MODULES],
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: onError, log() {} } as never,
  });
  fs.writeFileSync(file, code);
}

/**
 * Each activity runs with its workflow, activity and request id in the log
 * context; at LOG_LEVEL=debug each attempt's end is a line of its own.
 */
function logContextInterceptor(ctx: ActivityContext, log: Logger | undefined): ActivityInboundCallsInterceptor {
  return {
    execute: (input, next) => {
      const requestId = requestIdOfHeaders(input.headers);
      const { workflowExecution, activityType, attempt } = ctx.info;
      const fields = { ...(requestId ? { requestId } : {}), ...(workflowExecution ? { workflowId: workflowExecution.workflowId, runId: workflowExecution.runId } : {}), activity: activityType };
      return withLogContext(fields, async () => {
        const started = performance.now();
        try {
          const result = await next(input);
          log?.debug({ attempt, durationMs: Math.round(performance.now() - started) }, 'activity completed');
          return result;
        } catch (err) {
          log?.debug({ attempt, durationMs: Math.round(performance.now() - started), err }, 'activity failed');
          throw err;
        }
      });
    },
  };
}

/**
 * The worker's interceptors and sinks: log context and OpenTelemetry spans
 * for activities, and the sink through which the workflows' spans leave the
 * sandbox (a no-op processor when tracing is off, so the workflows' calls
 * always find it).
 */
export function workerInterceptors(tracing: Pick<Tracing, 'spanProcessor' | 'resource'>, options: { prebuiltBundle: boolean; log?: Logger }): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    interceptors: {
      // A bundle built ahead of time has them already (bundleWorkflowCode's workflowInterceptorModules).
      ...(options.prebuiltBundle ? {} : { workflowModules: [...WORKFLOW_INTERCEPTOR_MODULES] }),
      activity: [
        (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
        (ctx) => ({ inbound: logContextInterceptor(ctx, options.log) }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}

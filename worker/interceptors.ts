import { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import fs from 'node:fs';
import { bundleWorkflowCode, type ActivityInboundCallsInterceptor, type WorkerOptions } from '@temporalio/worker';
import type { Context as ActivityContext } from '@temporalio/activity';
import { requestIdOfHeaders, withLogContext } from '../temporal/request-id';
import type { Logger } from '../temporal/log';
import type { Tracing } from '../temporal/tracing';

/** Temporal's OpenTelemetry workflow interceptors: in a bundle only when tracing is on. */
const WORKFLOW_TRACING_MODULE = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/**
 * Workflow interceptor modules of a bundle (built at start or ahead of time).
 * Ours always: it passes the request id on to activities. Temporal's
 * OpenTelemetry one only with tracing on: it traces each workflow and passes
 * the trace on, and it costs 10–20 ms of worker CPU per workflow run even when
 * its spans go nowhere (bench/replay-cost.ts), a third of a billing run's.
 * The headers it adds are not part of a history's commands, so runs started
 * with tracing on replay without it and the other way round.
 */
export function workflowInterceptorModules(tracing: { enabled: boolean }): string[] {
  return [require.resolve('../workflows/interceptors'), ...(tracing.enabled ? [WORKFLOW_TRACING_MODULE] : [])];
}

/** Whether a prebuilt bundle's workflows trace themselves (it was built with tracing on). */
export function bundleTracesWorkflows(code: string): boolean {
  return code.includes('interceptors-opentelemetry/lib/workflow-interceptors');
}

/** Bundles the workflows with their interceptor modules into `file` (tests, benchmarks); the bundler's errors go to `onError`. */
export async function writeWorkflowBundle(file: string, onError: (message: string) => void, tracing: { enabled: boolean } = { enabled: false }): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: workflowInterceptorModules(tracing),
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
 * sandbox (a no-op processor when tracing is off; registered either way, so
 * a prebuilt bundle with tracing always finds it).
 */
export function workerInterceptors(tracing: Pick<Tracing, 'enabled' | 'spanProcessor' | 'resource'>, options: { prebuiltBundle: boolean; log?: Logger }): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    interceptors: {
      // A bundle built ahead of time has them already (bundleWorkflowCode's workflowInterceptorModules).
      ...(options.prebuiltBundle ? {} : { workflowModules: workflowInterceptorModules(tracing) }),
      activity: [
        (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
        (ctx) => ({ inbound: logContextInterceptor(ctx, options.log) }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { REQUEST_ID_HEADER } from './request-header';

/*
 * What the work in progress belongs to, for log lines and for what is sent
 * to Temporal: the id of the HTTP request being served (the API sets it per
 * request, X-Request-Id or a fresh UUID, and answers it back) and, in the
 * worker, the workflow and activity running. A workflow a request starts
 * gets the id in its memo (shown in the Temporal UI, `requestId`); every
 * start, signal and update carries it in the `ledgerflow-request-id` header
 * (kept in the history), and the workflow passes it on to its activities
 * (workflows/interceptors.ts, worker/interceptors.ts).
 */

export { REQUEST_ID_HEADER };

export interface LogContext {
  requestId?: string;
  workflowId?: string;
  runId?: string;
  activity?: string;
}

const context = new AsyncLocalStorage<LogContext>();

/** A caller's X-Request-Id when it is a plain token of up to 128 characters; otherwise a fresh one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : randomUUID();
}

/** Runs `fn` (and everything it awaits) as part of request `id`. */
export function withRequestId<T>(id: string, fn: () => T): T {
  return withLogContext({ requestId: id }, fn);
}

/** Runs `fn` (and everything it awaits) with `fields` added to the current context. */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

export function currentLogContext(): LogContext | undefined {
  return context.getStore();
}

export function currentRequestId(): string | undefined {
  return context.getStore()?.requestId;
}

/** The request id a Temporal header carries, if any. */
export function requestIdOfHeaders(headers: Record<string, unknown> | undefined): string | undefined {
  const payload = headers?.[REQUEST_ID_HEADER];
  if (payload === undefined) return undefined;
  try {
    const id: unknown = defaultPayloadConverter.fromPayload(payload as Parameters<typeof defaultPayloadConverter.fromPayload>[0]);
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

const withHeader = <H extends Record<string, unknown>>(headers: H, id: string): H => ({ ...headers, [REQUEST_ID_HEADER]: defaultPayloadConverter.toPayload(id) });

/** The client interceptor that puts the current request's id on what it sends to Temporal. */
export const requestIdInterceptor: WorkflowClientInterceptor = {
  async startWithDetails(input, next) {
    const id = currentRequestId();
    return next(id ? { ...input, headers: withHeader(input.headers, id), options: { ...input.options, memo: { ...input.options.memo, requestId: id } } } : input);
  },
  async signalWithStart(input, next) {
    const id = currentRequestId();
    return next(id ? { ...input, headers: withHeader(input.headers, id), options: { ...input.options, memo: { ...input.options.memo, requestId: id } } } : input);
  },
  async signal(input, next) {
    const id = currentRequestId();
    return next(id ? { ...input, headers: withHeader(input.headers, id) } : input);
  },
  async startUpdate(input, next) {
    const id = currentRequestId();
    return next(id ? { ...input, headers: withHeader(input.headers, id) } : input);
  },
};

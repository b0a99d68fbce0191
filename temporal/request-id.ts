import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';

/*
 * The id of the HTTP request being served, carried to the workflows it
 * starts or messages: a workflow it starts gets it in its memo (shown in the
 * Temporal UI, `requestId`), and every start, signal and update carries it
 * in the `ledgerflow-request-id` header (kept in the history). The API sets
 * it per request (X-Request-Id, or a fresh UUID) and answers it back.
 */

export const REQUEST_ID_HEADER = 'ledgerflow-request-id';
const context = new AsyncLocalStorage<string>();

/** A caller's X-Request-Id when it is a plain token of up to 128 characters; otherwise a fresh one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : randomUUID();
}

/** Runs `fn` (and everything it awaits) as part of request `id`. */
export function withRequestId<T>(id: string, fn: () => T): T {
  return context.run(id, fn);
}

export function currentRequestId(): string | undefined {
  return context.getStore();
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

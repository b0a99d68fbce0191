import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import type { Payload } from '@temporalio/common';
import { REQUEST_ID_HEADER } from '../temporal/request-header';

/*
 * Passes the id of the HTTP request behind a workflow on to what the
 * workflow schedules (activities, local activities, child workflows), so
 * their log lines name it. The start's header gives it; a later signal or
 * update that carries one (an approval, a plan change) replaces it from
 * then on, which is what the activities that follow a decision belong to.
 * The headers are in the history, so a replay schedules the same ones.
 */
export const interceptors: WorkflowInterceptorsFactory = () => {
  let requestId: Payload | undefined;
  const take = (headers: Record<string, Payload>): void => {
    requestId = headers[REQUEST_ID_HEADER] ?? requestId;
  };
  const carried = <I extends { headers: Record<string, Payload> }>(input: I): I =>
    requestId === undefined || input.headers[REQUEST_ID_HEADER] !== undefined ? input : { ...input, headers: { ...input.headers, [REQUEST_ID_HEADER]: requestId } };
  return {
    inbound: [
      {
        execute: (input, next) => {
          take(input.headers);
          return next(input);
        },
        handleSignal: (input, next) => {
          take(input.headers);
          return next(input);
        },
        handleUpdate: (input, next) => {
          take(input.headers);
          return next(input);
        },
      },
    ],
    outbound: [
      {
        scheduleActivity: (input, next) => next(carried(input)),
        scheduleLocalActivity: (input, next) => next(carried(input)),
        startChildWorkflowExecution: (input, next) => next(carried(input)),
      },
    ],
  };
};

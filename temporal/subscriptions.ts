import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { PrismaClient } from '../prisma/client';
import {
  cancelSignal,
  changePlanSignal,
  SUBSCRIPTION_WORKFLOW_TYPE,
  type CancelSignal,
  type ChangePlanSignal,
  type SubscriptionWorkflowInput,
} from './billing-messages';
import { subscriptionWorkflowId, TASK_QUEUE } from './names';
import { CustomerId, OrganizationId, SubscriptionId } from './search-attributes';

export interface SubscriptionRef {
  organizationId: string;
  subscriptionId: string;
  customerId: string;
}

const searchAttributes = (ref: SubscriptionRef) => [
  { key: OrganizationId, value: ref.organizationId },
  { key: SubscriptionId, value: ref.subscriptionId },
  { key: CustomerId, value: ref.customerId },
];

export interface StartedSubscriptionWorkflow {
  workflowId: string;
  /** null when the workflow already existed */
  runId: string | null;
  alreadyStarted: boolean;
}

/**
 * Starts `subscription:<id>` for a new subscription. The id is deterministic
 * and a previous execution under it (running or closed) refuses the start, so
 * a repeated start (a retry, the startup sweep racing the API) is a no-op and
 * a subscription whose workflow ended is never silently restarted from its
 * first period.
 */
export async function startSubscriptionWorkflow(client: Client, ref: SubscriptionRef, taskQueue = TASK_QUEUE): Promise<StartedSubscriptionWorkflow> {
  const workflowId = subscriptionWorkflowId(ref.subscriptionId);
  const input: SubscriptionWorkflowInput = { organizationId: ref.organizationId, subscriptionId: ref.subscriptionId };
  try {
    const handle = await client.workflow.start(SUBSCRIPTION_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: searchAttributes(ref),
    });
    return { workflowId, runId: handle.firstExecutionRunId, alreadyStarted: false };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, runId: null, alreadyStarted: true };
    throw err;
  }
}

/** How many starts the sweep keeps in flight. */
const SWEEP_CONCURRENCY = 8;
const SWEEP_PAGE = 500;

/** Records that these subscriptions' workflows exist (started now, or found started): the sweeper leaves them be. */
export async function markSubscriptionWorkflowsStarted(prisma: PrismaClient, subscriptionIds: string[]): Promise<void> {
  if (subscriptionIds.length === 0) return;
  await prisma.subscription.updateMany({ where: { id: { in: subscriptionIds }, workflowStartedAt: null }, data: { workflowStartedAt: new Date() } });
}

/**
 * The subscription side of the sweeper: the API commits a subscription before
 * it starts its workflow, so a Temporal outage (or a crash in between) leaves
 * an active subscription without one. Starts the workflow of every active
 * subscription (of one organization when given; created at least
 * `olderThanSeconds` ago when given, so the API's own start is not raced)
 * not known to have one, and records it; a workflow that exists already makes
 * the start a no-op and is recorded the same. Run by `npm start` at startup
 * and by the sweeper schedule; safe to run any time.
 */
export async function ensureSubscriptionWorkflows(
  client: Client,
  prisma: PrismaClient,
  options: { taskQueue?: string; organizationId?: string; olderThanSeconds?: number; limit?: number } = {},
): Promise<{ checked: number; started: string[] }> {
  const started: string[] = [];
  let checked = 0;
  const createdBefore = options.olderThanSeconds === undefined ? undefined : new Date(Date.now() - options.olderThanSeconds * 1000);
  for (;;) {
    // Each page is recorded before the next is read, so the next page is the next unstarted ones.
    const page = await prisma.subscription.findMany({
      where: {
        status: 'active',
        workflowStartedAt: null,
        ...(options.organizationId ? { organizationId: options.organizationId } : {}),
        ...(createdBefore ? { createdAt: { lt: createdBefore } } : {}),
      },
      select: { id: true, organizationId: true, customerId: true },
      orderBy: { createdAt: 'asc' },
      take: Math.min(SWEEP_PAGE, (options.limit ?? Infinity) - checked),
    });
    for (let i = 0; i < page.length; i += SWEEP_CONCURRENCY) {
      const chunk = page.slice(i, i + SWEEP_CONCURRENCY);
      const results = await Promise.all(
        chunk.map((s) => startSubscriptionWorkflow(client, { organizationId: s.organizationId, subscriptionId: s.id, customerId: s.customerId }, options.taskQueue)),
      );
      for (const r of results) if (!r.alreadyStarted) started.push(r.workflowId);
      await markSubscriptionWorkflowsStarted(prisma, chunk.map((s) => s.id));
    }
    checked += page.length;
    if (page.length < SWEEP_PAGE || checked >= (options.limit ?? Infinity)) return { checked, started };
  }
}

/** What a subscription's workflow is asked to do; `kind` picks the signal. */
export type SubscriptionMessage = { kind: 'changePlan'; request: ChangePlanSignal } | { kind: 'cancel'; request: CancelSignal };

/** The subscription's workflow ran and has ended (canceled, failed, or terminated): a request cannot reach it. */
export class SubscriptionWorkflowEndedError extends Error {
  constructor(readonly workflowId: string) {
    super(`the subscription's workflow ${workflowId} has ended; it takes no more requests (ops can reset it in the Temporal UI to resume it)`);
  }
}

export interface SignaledSubscription {
  workflowId: string;
  /** the run that received the signal (a new one if the workflow was not running) */
  runId: string;
}

/**
 * Signals `subscription:<id>` with signal-with-start: a running workflow gets
 * the signal, and a subscription whose workflow never started gets one
 * started with the signal as its first message, atomically, so a change is
 * never lost between the two. A workflow that ran and ended is not started
 * again from its first period: SubscriptionWorkflowEndedError.
 * Shared by the API and the web app.
 */
export async function signalSubscription(client: Client, ref: SubscriptionRef, message: SubscriptionMessage, taskQueue = TASK_QUEUE): Promise<SignaledSubscription> {
  const workflowId = subscriptionWorkflowId(ref.subscriptionId);
  const input: SubscriptionWorkflowInput = { organizationId: ref.organizationId, subscriptionId: ref.subscriptionId };
  // A workflow that ran and ended is not started again by a signal (it would begin anew): ops reset it.
  const common = { workflowId, taskQueue, args: [input], typedSearchAttributes: searchAttributes(ref), workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE };
  try {
    const handle =
      message.kind === 'changePlan'
        ? await client.workflow.signalWithStart(SUBSCRIPTION_WORKFLOW_TYPE, { ...common, signal: changePlanSignal, signalArgs: [message.request] })
        : await client.workflow.signalWithStart(SUBSCRIPTION_WORKFLOW_TYPE, { ...common, signal: cancelSignal, signalArgs: [message.request] });
    return { workflowId, runId: handle.signaledRunId };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new SubscriptionWorkflowEndedError(workflowId);
    throw err;
  }
}

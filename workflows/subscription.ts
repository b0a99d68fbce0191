import { allHandlersFinished, condition, continueAsNew, log, patched, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import type { LedgerflowActivities } from '../activities';
import { now } from './clock';
import { monthIndex, nextPeriod, periodContaining, type BillingPeriod } from '../billing/billing-period';
import { formatDay, nextUtcMidnight } from '../billing/calendar';
import { storableText } from '../billing/storable-text';
import { activityFailedForGood } from './failures';
import {
  cancelSignal,
  changePlanSignal,
  subscriptionStateQuery,
  type BillingRunInput,
  type ChangePlanSignal,
  type SubscriptionRequest,
  type SubscriptionState,
  type SubscriptionWorkflowInput,
} from '../temporal/billing-messages';

const db = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** A request whose step failed for good is dropped with an alert (before, it failed the workflow). */
export const DROP_FAILED_REQUEST_PATCH = 'drop-failed-subscription-request';
/** Plan changes at the period end (2026-12-04): recorded at the period's end instant instead of its last millisecond. */
export const CHANGE_AT_PERIOD_END_PATCH = 'plan-change-at-period-end';

/** Since 2026-12-05 a period starts by granting its plan's period credits (activities/period-credits.ts). */
export const PERIOD_CREDITS_PATCH = 'grant-plan-period-credits';

/** Alerts go to outside channels: a few spaced tries, then the outbox keeps them for later. */
const notify = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 4 },
});

/**
 * `subscription:<id>`: one run per billing period. It starts by granting the
 * plan's period credits, if any; through the period it snapshots usage at every UTC midnight and applies plan changes and
 * cancellations (signals, handled in order); at the period end it starts the
 * period's billing run `billing-run:<id>:<periodStart>` (which waits out the
 * late-event grace itself, so a slow close never holds up the next period)
 * and continues as new.
 */
export async function subscriptionLifecycle(input: SubscriptionWorkflowInput): Promise<SubscriptionState> {
  const ref = { organizationId: input.organizationId, subscriptionId: input.subscriptionId };
  // Handlers first, so a signal or query sent right after the start is never refused.
  const inbox: SubscriptionRequest[] = [...(input.pending ?? [])];
  const state: SubscriptionState = {
    subscriptionId: input.subscriptionId,
    status: 'starting',
    periodStart: input.periodStart ?? null,
    periodEnd: input.periodEnd ?? null,
    lastSnapshotDay: null,
    pendingPlanChanges: 0,
    billingRunWorkflowIds: [],
  };
  setHandler(subscriptionStateQuery, () => ({ ...state, pendingPlanChanges: inbox.filter((r) => r.kind === 'changePlan').length }));
  setHandler(changePlanSignal, (request) => void inbox.push({ kind: 'changePlan', request }));
  setHandler(cancelSignal, (request) => void inbox.push({ kind: 'cancel', request }));

  const schedule = await db.loadSubscription(ref);
  const startDate = new Date(schedule.startDate);
  // A first start begins at the subscription's first period, or (a workflow started again after an
  // earlier one ended) at the first period no billing run has closed: never a billed period again.
  const firstUnbilled = schedule.billedThrough && Date.parse(schedule.billedThrough) > startDate.getTime() ? new Date(schedule.billedThrough) : startDate;
  const period: BillingPeriod =
    input.periodStart && input.periodEnd
      ? { start: new Date(input.periodStart), end: new Date(input.periodEnd) }
      : periodContaining(firstUnbilled, schedule.billingAnchorDay, schedule.interval, monthIndex(startDate));
  let canceledAt: Date | null = schedule.status === 'canceled' && schedule.canceledAt ? new Date(schedule.canceledAt) : null;
  let cancelAtPeriodEnd = schedule.cancelAtPeriodEnd;
  state.status = canceledAt ? 'canceled' : cancelAtPeriodEnd ? 'canceling' : 'active';
  state.periodStart = period.start.toISOString();
  state.periodEnd = period.end.toISOString();

  // A subscription canceled before this period has nothing left to bill.
  if (canceledAt && canceledAt.getTime() < period.start.getTime()) return state;
  // The plan's credits for this period (once per period: the grant's key).
  if (!canceledAt && patched(PERIOD_CREDITS_PATCH)) await db.grantPeriodCredits({ ...ref, periodStart: state.periodStart, periodEnd: state.periodEnd });

  /** A request's time inside this period: one that arrived as the last period rolled over takes effect now. */
  const inPeriod = (iso: string | undefined): string => {
    const at = iso ? Date.parse(iso) : now();
    return new Date(Math.min(Math.max(at, period.start.getTime()), period.end.getTime() - 1)).toISOString();
  };
  /** A plan change's instant: inside the period, or its end when asked for at the period end (the next period's start if it rolled over meanwhile). */
  const changeAt = (request: ChangePlanSignal): string =>
    request.atPeriodEnd && patched(CHANGE_AT_PERIOD_END_PATCH)
      ? new Date(Math.min(Math.max(Date.parse(request.effectiveAt), period.start.getTime()), period.end.getTime())).toISOString()
      : inPeriod(request.effectiveAt);

  /**
   * A request whose step failed for good (its data cannot be stored or is
   * refused by a billing rule) is dropped with an alert to finance: the
   * subscription goes on snapshotting and billing its periods, and the
   * request can be sent again once its data is fixed.
   */
  async function handle(request: SubscriptionRequest): Promise<void> {
    try {
      await apply(request);
    } catch (err) {
      const reason = activityFailedForGood(err);
      // Runs from before 2026-12-02 failed the whole workflow here; their histories keep replaying that way.
      if (reason === null || !patched(DROP_FAILED_REQUEST_PATCH)) throw err;
      log.error('subscription request failed for good and was dropped', { subscriptionId: ref.subscriptionId, kind: request.kind, reason });
      await reportFailedRequest(request, reason);
    }
  }

  async function reportFailedRequest(request: SubscriptionRequest, reason: string): Promise<void> {
    const detail = request.kind === 'changePlan' ? { planKey: storableText(request.request.planKey), effectiveAt: request.request.effectiveAt ?? null } : { atPeriodEnd: request.request.atPeriodEnd, at: request.request.at ?? null };
    try {
      await db.queueNotification({
        ...ref,
        kind: 'subscription.request_failed',
        dedupeKey: `subscription-request-failed:${ref.subscriptionId}:${uuid4()}`,
        payload: { subscriptionId: ref.subscriptionId, request: request.kind, ...detail, requestedBy: { type: request.request.requestedBy.type, id: storableText(request.request.requestedBy.id) }, reason },
      });
      await notify.deliverNotifications({ organizationId: ref.organizationId });
    } catch (err) {
      // The alert could not be queued or sent now; the failure is in the log and the history either way.
      log.warn('could not alert finance about a failed subscription request', { subscriptionId: ref.subscriptionId, error: String(err) });
    }
  }

  async function apply(request: SubscriptionRequest): Promise<void> {
    if (canceledAt) return;
    if (request.kind === 'changePlan') {
      const outcome = await db.applyPlanChange({ ...ref, ...request.request, effectiveAt: changeAt(request.request) });
      if (!outcome.applied) log.warn('plan change not applied', { subscriptionId: ref.subscriptionId, reason: outcome.reason });
      return;
    }
    const at = inPeriod(request.request.at);
    await db.applyCancel({ ...ref, ...request.request, at });
    if (request.request.atPeriodEnd) {
      cancelAtPeriodEnd = true;
      state.status = 'canceling';
    } else {
      canceledAt = new Date(at);
      state.status = 'canceled';
    }
  }

  // ── through the period: requests as they come, a snapshot every UTC midnight ──
  while (!canceledAt && now() < period.end.getTime()) {
    const next = inbox.shift();
    if (next) {
      await handle(next);
      continue;
    }
    const midnight = Math.min(nextUtcMidnight(new Date(now())).getTime(), period.end.getTime());
    if (await condition(() => inbox.length > 0, Math.max(1, midnight - now()))) continue;
    const dayEnded = new Date(midnight - 1);
    await db.snapshotUsage({ ...ref, day: dayEnded.toISOString(), takenAt: new Date(now()).toISOString() });
    state.lastSnapshotDay = formatDay(dayEnded);
  }

  // ── period end: hand the period to its billing run ──────────────────────
  const run: BillingRunInput = {
    ...ref,
    periodStart: period.start.toISOString(),
    periodEnd: period.end.toISOString(),
    lateEventGraceSeconds: schedule.lateEventGraceSeconds,
  };
  // Started by an activity, not as a child: see activities/billing/start-billing-run.ts.
  const { workflowId } = await db.startBillingRun(run);
  state.billingRunWorkflowIds.push(workflowId);

  if (canceledAt) return state;
  if (cancelAtPeriodEnd) {
    await db.endSubscription({ ...ref, at: period.end.toISOString() });
    state.status = 'canceled';
    return state;
  }
  await condition(allHandlersFinished);
  const following = nextPeriod(period, schedule.billingAnchorDay, schedule.interval);
  return continueAsNew<typeof subscriptionLifecycle>({
    ...ref,
    periodStart: following.start.toISOString(),
    periodEnd: following.end.toISOString(),
    // Requests that came in while this period was handed over belong to the next one.
    pending: inbox,
  });
}

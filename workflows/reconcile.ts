import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { LedgerflowActivities } from '../activities';
import type { ReconcileInput, ReconcileResult } from '../temporal/reconciliations';

/** Database steps: idempotent upserts, retried without limit. */
const db = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Outside systems (Stripe, the CRM webhook, Slack/email delivery): spaced tries, then give up on that action only. */
const outside = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 6 },
});

/** An action that failed for good stays pending in recovery_actions (visible, retryable by a re-run); the others go on. */
async function tolerate(action: () => Promise<unknown>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch (err) {
    if (err instanceof ActivityFailure) return false;
    throw err;
  }
}

/**
 * `reconcile:<orgId>:<periodStart>`: detect the period's revenue leaks
 * (idempotent upserts of findings), then for each open finding take the
 * recovery actions — a Stripe draft for what a customer owes, a Slack and
 * email alert through the outbox, a CRM task by webhook — each keyed by
 * (finding, action) in recovery_actions so a replay or reset never repeats
 * one, and mark it actioned.
 */
export async function reconcile(input: ReconcileInput): Promise<ReconcileResult> {
  const { organizationId } = input;
  const { runId } = await db.startReconciliation(input);
  const detected = await db.detectLeaks({ organizationId, runId, periodStart: input.periodStart, periodEnd: input.periodEnd });
  let actioned = 0;
  for (const finding of detected.open) {
    const ref = { organizationId, findingId: finding.findingId };
    const results: boolean[] = [];
    if (finding.billable) results.push(await tolerate(() => outside.createRecoveryDraft(ref)));
    results.push(await tolerate(() => db.queueLeakAlert(ref)));
    results.push(await tolerate(() => outside.sendCrmTask(ref)));
    // Actioned once any action completed (done, or skipped for want of a Stripe mapping or webhook); if every one failed, it stays open for the next run.
    if (results.some(Boolean)) {
      await db.moveFinding({ ...ref, to: 'actioned', reason: 'recovery actions taken' });
      actioned += 1;
    }
  }
  // Delivery failures leave the alerts in the outbox for the next delivery; they never fail the reconciliation.
  if (detected.open.length > 0) await tolerate(() => outside.deliverNotifications({ organizationId }));
  return db.finishReconciliation({ organizationId, runId, detected: detected.detected, actioned });
}

import type { ActivityDeps } from '../deps';
import { detectLeaks } from './detect';
import { createRecoveryDraft, moveFinding, queueLeakAlert, sendCrmTask } from './recovery';
import { requestReconciliation } from './request';
import { finishReconciliation, startReconciliation } from './runs';

export type { DetectLeaksResult, OpenFinding } from './detect';
export type { ActionOutcome, FindingRef } from './recovery';

/** The reconcile workflow's activities (leak detection and recovery actions). */
export function reconcileActivities(deps: ActivityDeps) {
  return {
    startReconciliation: startReconciliation(deps),
    detectLeaks: detectLeaks(deps),
    createRecoveryDraft: createRecoveryDraft(deps),
    queueLeakAlert: queueLeakAlert(deps),
    sendCrmTask: sendCrmTask(deps),
    moveFinding: moveFinding(deps),
    finishReconciliation: finishReconciliation(deps),
    requestReconciliation: requestReconciliation(deps),
  };
}

import { ActivityFailure } from '@temporalio/workflow';

/** What a failed activity said, down its cause chain: "unknown currency "xyz" (…)". */
export function failureReason(err: ActivityFailure): string {
  const parts: string[] = [];
  for (let cause: Error | undefined = err.cause; cause && parts.length < 3; cause = (cause as { cause?: Error }).cause) {
    if (cause.message && !parts.includes(cause.message)) parts.push(cause.message);
  }
  return parts.join(': ') || err.message;
}

/** The reason when `err` is an activity that failed for good; null for anything else. */
export function activityFailedForGood(err: unknown): string | null {
  return err instanceof ActivityFailure ? failureReason(err) : null;
}

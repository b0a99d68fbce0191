import { ApplicationFailure } from '@temporalio/common';
import { DomainError } from '../billing/domain-error';
import { isDataException, sqlState } from '../prisma/db-errors';

/**
 * An activity's error as Temporal should see it. A billing rule refusing its
 * input (billing/domain-error.ts) or PostgreSQL refusing a value (SQLSTATE
 * class 22) fails the same way on every attempt: it becomes a non-retryable
 * failure, so the workflow stops and says why instead of retrying every
 * minute forever. Anything else (the database away, a timeout, a bug a
 * deploy fixes) is left to the retry policy.
 */
export function asTemporalFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof DomainError) return ApplicationFailure.create({ message: err.message, type: err.name, nonRetryable: true, cause: err });
  if (isDataException(err)) {
    // The driver's error chain repeats its message several times over; its last line is what PostgreSQL said.
    const message = err instanceof Error ? err.message.trim().split('\n').pop() : String(err);
    return ApplicationFailure.create({ message: `the database refused a value (SQLSTATE ${sqlState(err)}): ${message}`, type: 'InvalidData', nonRetryable: true });
  }
  return err;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any activity signature
type Activities = Record<string, (...args: any[]) => Promise<unknown>>;

/** Every activity, with its errors passed through asTemporalFailure. */
export function failingFastOnBadData<T extends Activities>(activities: T): T {
  const wrapped: Activities = {};
  for (const [name, run] of Object.entries(activities)) {
    wrapped[name] = async (...args) => {
      try {
        return await run(...args);
      } catch (err) {
        throw asTemporalFailure(err);
      }
    };
  }
  return wrapped as T;
}

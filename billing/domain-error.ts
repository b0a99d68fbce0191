/**
 * A billing rule refused its input: an invalid price, draft, meter or
 * proration, an unknown currency. The same input fails the same way every
 * time, so a workflow step that meets one must stop and say so rather than
 * retry (activities/domain-failures.ts turns it into a non-retryable
 * failure); the data has to be fixed first. `name` is the subclass's name,
 * which Temporal reports as the failure's type.
 */
export class DomainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

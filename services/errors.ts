/**
 * A refusal of the domain services (services/*): what went wrong with the
 * request, in words a person can act on, and the field it concerns. The API
 * answers it as a 4xx (api/errors.ts) and the web app shows its message;
 * neither needs to know which service threw it.
 */
export type DomainErrorKind = 'invalid' | 'not_found' | 'conflict' | 'unavailable';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    /** stable, documented: VALIDATION_ERROR, NOT_FOUND, ALREADY_EXISTS… */
    readonly code: string,
    message: string,
    /** the request field it concerns, as the API names it */
    readonly field?: string,
    /** more for a program to act on (e.g. the workflow id), merged into the API's details */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  /** for VALIDATION_ERROR: the code of the field's issue in the API's details.issues */
  issueCode = 'INVALID_VALUE';
}

/** A request field a service refuses, answered like the schema's refusals (400, the field named, `issueCode` in details.issues). */
export function invalidField(field: string, message: string, issueCode = 'INVALID_VALUE'): DomainError {
  const err = new DomainError('invalid', 'VALIDATION_ERROR', `${field}: ${message}`, field);
  err.issueCode = issueCode;
  return err;
}

/** unavailable: something outside our walls (Stripe) did not answer in time; the request may be repeated. */
export const DOMAIN_ERROR_STATUS: Record<DomainErrorKind, number> = { invalid: 400, not_found: 404, conflict: 409, unavailable: 503 };

/** Failures that mean the organization's Stripe key (or the deployment's) is missing or refused, not Stripe being away. */
const STRIPE_ACCOUNT_FAILURES: ReadonlySet<string> = new Set(['StripeAuthenticationError', 'StripePermissionError', 'StripeNotConfigured', 'SecretKeyError', 'SecretOpenError']);

/**
 * A Stripe step the worker ran for a request, failed for a reason that is
 * not the request's: the Stripe key is missing or refused (409), or Stripe
 * did not answer after retries (503, `nothingDone` says what did not happen).
 */
export function stripeWorkerFailure(failure: { type: string | null; message: string }, nothingDone: string, field?: string): DomainError {
  return failure.type !== null && STRIPE_ACCOUNT_FAILURES.has(failure.type)
    ? new DomainError('conflict', 'STRIPE_ACCOUNT_UNUSABLE', `${failure.message} (the organization's Stripe key, or the deployment's, is missing or refused)`, field)
    : new DomainError('unavailable', 'STRIPE_UNAVAILABLE', `${failure.message} (Stripe did not answer after retries; ${nothingDone}, try again)`, field);
}

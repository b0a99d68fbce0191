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
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** unavailable: something outside our walls (Stripe) did not answer in time; the request may be repeated. */
export const DOMAIN_ERROR_STATUS: Record<DomainErrorKind, number> = { invalid: 400, not_found: 404, conflict: 409, unavailable: 503 };

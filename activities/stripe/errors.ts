import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import type { ActivityDeps } from '../deps';
import { SecretKeyError, SecretOpenError } from '../../prisma/secret-box';

/** The organization's own Stripe client (its stored key), else the worker's; a key that does not open fails for good. */
export async function requireStripe(deps: ActivityDeps, organizationId: string): Promise<Stripe> {
  return (await stripeAccountOf(deps, organizationId)).stripe;
}

/**
 * The Stripe client for an organization, and whether the Stripe account is
 * the organization's own (its stored key) or the worker's, which several
 * organizations may share.
 */
export async function stripeAccountOf(deps: ActivityDeps, organizationId: string): Promise<{ stripe: Stripe; own: boolean }> {
  let own: Stripe | null = null;
  try {
    own = (await deps.stripeAccounts?.clientFor(organizationId)) ?? null;
  } catch (err) {
    if (err instanceof SecretKeyError || err instanceof SecretOpenError) throw ApplicationFailure.nonRetryable(`organization ${organizationId}'s Stripe key: ${err.message}`, err.name);
    throw err;
  }
  const stripe = own ?? deps.stripe;
  if (!stripe) {
    throw ApplicationFailure.nonRetryable(
      'No Stripe client configured: the worker needs a Stripe secret key (or a stripe-mock address), or the organization its own stripe_secret_key, to finalize and collect invoices',
      'StripeNotConfigured',
    );
  }
  return { stripe, own: own !== null };
}

export function invoiceNotFound(organizationId: string, invoiceId: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`invoice ${invoiceId} not found in organization ${organizationId}`, 'InvoiceNotFound');
}

/**
 * Stripe refusing the request itself (bad parameters, wrong state, bad key,
 * reused idempotency key with other parameters) will refuse it again: fail
 * the activity for good. Everything else — network faults, 5xx, rate limits,
 * a concurrent request holding the idempotency key (409) — is thrown as is,
 * so Temporal retries it.
 */
export function asActivityError(err: unknown): unknown {
  if (
    err instanceof Stripe.errors.StripeInvalidRequestError ||
    err instanceof Stripe.errors.StripeIdempotencyError ||
    err instanceof Stripe.errors.StripeAuthenticationError ||
    err instanceof Stripe.errors.StripePermissionError
  ) {
    return ApplicationFailure.nonRetryable(`Stripe refused the request: ${err.message}`, err.type, {
      code: err.code ?? null,
      statusCode: err.statusCode ?? null,
      requestId: err.requestId ?? null,
    });
  }
  return err;
}

/** A Stripe call, with Stripe's refusals turned into non-retryable failures. */
export async function callStripe<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw asActivityError(err);
  }
}

import Stripe from 'stripe';

export interface StripeClientOptions {
  apiKey: string;
  /** e.g. `http://127.0.0.1:12111` for stripe-mock or a test fake; omit for api.stripe.com */
  apiBase?: string;
  /** lets tests record the HTTP requests the SDK makes */
  httpClient?: Stripe.HttpClient;
}

/**
 * The Stripe client billing activities use. The SDK's own network retries are
 * off: Temporal's activity retry policy is the one place retries happen (with
 * its backoff and in the workflow history), and every call carries an
 * idempotency key derived from our ids, so a retried activity repeats nothing.
 */
export function createStripeClient({ apiKey, apiBase, httpClient }: StripeClientOptions): Stripe {
  const base = apiBase ? new URL(apiBase) : undefined;
  return new Stripe(apiKey, {
    maxNetworkRetries: 0,
    timeout: 30_000,
    httpClient,
    ...(base && {
      host: base.hostname,
      port: base.port || (base.protocol === 'http:' ? 80 : 443),
      protocol: base.protocol === 'http:' ? 'http' : 'https',
    }),
  });
}

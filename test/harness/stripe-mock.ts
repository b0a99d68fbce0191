import Stripe from 'stripe';
import { createStripeClient } from '../../activities/stripe/client';
// stripe-mock itself is found, installed and started by scripts/lib/stripe-mock.ts (shared with `npm start`).
export { STRIPE_MOCK_VERSION, findOrInstallStripeMock, startStripeMock, type StripeMockHandle } from '../../scripts/lib/stripe-mock';

export interface RecordedStripeRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  /** the form-encoded request body */
  form: URLSearchParams;
}

/**
 * A Stripe client for a local server (stripe-mock or the fake) whose HTTP
 * requests are recorded: stripe-mock keeps no state, so the log is how a test
 * sees which calls an activity made. `fail` picks requests that fail as a
 * dropped connection would, before they reach the server.
 */
export function recordingStripeClient(port: number, fail: (request: RecordedStripeRequest) => boolean = () => false): { stripe: Stripe; requests: RecordedStripeRequest[] } {
  const requests: RecordedStripeRequest[] = [];
  const inner = Stripe.createNodeHttpClient();
  const httpClient: Stripe.HttpClient = {
    getClientName: () => 'ledgerflow-test-recorder',
    makeRequest: (host, requestPort, requestPath, method, headers, requestData, protocol, timeout) => {
      const key = headers['Idempotency-Key'];
      const request = { method, path: requestPath.split('?')[0] ?? requestPath, idempotencyKey: typeof key === 'string' ? key : null, form: new URLSearchParams(requestData) };
      requests.push(request);
      if (fail(request)) return Promise.reject(new Error(`connection dropped (test): ${method} ${request.path}`));
      return inner.makeRequest(host, requestPort, requestPath, method, headers, requestData, protocol, timeout);
    },
  };
  const stripe = createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${port}`, httpClient });
  return { stripe, requests };
}


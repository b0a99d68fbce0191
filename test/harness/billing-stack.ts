import { createStripeClient } from '../../activities/stripe/client';
import { startTestApi, type TestApi } from '../api-test-app';
import { startTestWorker, type TestWorker } from './ingest-worker';
import { StripeFake } from './stripe-fake';

export interface BillingStack {
  readonly fake: StripeFake;
  readonly worker: TestWorker;
  readonly api: TestApi;
}

/**
 * For a test file that bills end to end: the stateful Stripe fake, a test
 * worker whose Stripe client talks to it, and the API starting workflows on
 * that worker's task queue. Started before the file's tests, stopped after;
 * read `worker` and `api` inside tests (they exist once beforeAll ran).
 */
export function useBillingStack(name: string): BillingStack {
  const fake = new StripeFake();
  let worker: TestWorker | undefined;
  let api: TestApi | undefined;
  beforeAll(async () => {
    const port = await fake.start();
    worker = await startTestWorker(name, { stripe: createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${port}` }) });
    api = await startTestApi({}, worker.taskQueue);
  });
  afterAll(async () => {
    await api?.close();
    await worker?.close();
    await fake.stop();
  });
  const started = <T>(what: string, value: T | undefined): T => {
    if (value === undefined) throw new Error(`the billing stack's ${what} is not started yet (read it inside a test)`);
    return value;
  };
  return {
    fake,
    get worker() {
      return started('worker', worker);
    },
    get api() {
      return started('API', api);
    },
  };
}

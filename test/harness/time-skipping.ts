import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Notifier } from '../../activities/notifier';
import { createStripeClient } from '../../activities/stripe/client';
import { createLedgerflowWorker } from '../../worker/create-worker';
import { testPool, testPrisma } from './fixtures';
import { installedTestServer, missingJavaTools, testServerWrapperPath } from '../../scripts/lib/test-server';
import { skippedDescribe } from './skips';
import type { OutboundPolicy } from '../../billing/outbound-urls';

/**
 * Why the time-skipping tests cannot run on this machine, or null when they
 * can. Only a machine without Java or Maven skips them (setup says so); with
 * both present a missing install is an error from createTimeSkippingEnv, so
 * a forgotten `npm run setup` fails loudly instead of skipping quietly.
 */
export function timeSkippingSkipReason(): string | null {
  if (installedTestServer()) return null;
  const missing = missingJavaTools();
  return missing.length > 0 ? `Temporal test server not installed and ${missing.join(' and ')} not found on PATH` : null;
}

/** `describe`, or `describe.skip` with the reason printed, for suites that need the time-skipping server. */
export function describeWithTimeSkipping(name: string, suite: () => void): void {
  const reason = timeSkippingSkipReason();
  if (reason) {
    skippedDescribe({ suite: name, reason, enable: 'install Java 17+ and Maven (Debian: apt-get install -y openjdk-17-jdk-headless maven), then npm run setup' })(name, suite);
  } else {
    describe(name, suite);
  }
}

/**
 * Temporal's Java test server with time skipping, started from the wrapper
 * `npm run setup` installed (the SDK's own download needs GitHub). Close it
 * with `env.teardown()`.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const wrapper = installedTestServer();
  if (!wrapper) {
    throw new Error(
      `The Temporal time-skipping test server is not installed (expected ${testServerWrapperPath()}). ` +
        'Run `npm run setup`: it resolves io.temporal:temporal-test-server from Maven Central (needs Java 17+ and Maven).',
    );
  }
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: wrapper } } });
}

/**
 * The time-skipping server and a Ledgerflow worker on it with the real
 * activities, the test database, Stripe at `stripePort` (a fake; none
 * without it) and the outbound policy given (strict by default).
 * `stop()` shuts the worker down and tears the server down.
 */
export async function startTimeSkippingWorker(options: { taskQueue: string; stripePort?: number; notifier: Notifier; outbound?: OutboundPolicy }): Promise<{ env: TestWorkflowEnvironment; stop: () => Promise<void> }> {
  const env = await createTimeSkippingEnv();
  const worker = await createLedgerflowWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: options.taskQueue,
    prisma: testPrisma(),
    pool: testPool(),
    client: env.client,
    notifier: options.notifier,
    ...(options.stripePort === undefined ? {} : { stripe: createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${options.stripePort}` }) }),
    ...(options.outbound ? { outbound: options.outbound } : {}),
    workflowBundlePath: process.env.LEDGERFLOW_WORKFLOW_BUNDLE!,
    // The test server has no custom search attributes.
    searchAttributes: false,
  });
  const running = worker.run();
  return {
    env,
    stop: async () => {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}

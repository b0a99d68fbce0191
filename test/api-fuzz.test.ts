import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { createStripeClient } from '../activities/stripe/client';
import { createApiKey } from '../prisma/api-keys';
import { API_SCOPES } from '../prisma/api-scopes';
import { BILLING_RUN_WORKFLOW_TYPE, type BillingRunInput } from '../temporal/billing-messages';
import { billingRunWorkflowId } from '../temporal/names';
import { installedSchemathesis, SCHEMATHESIS_VERSION } from '../scripts/lib/schemathesis';
import { startTestApi, type TestApi } from './api-test-app';
import { testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { skippedDescribe } from './harness/skips';
import { startStripeMock, type StripeMockHandle } from './harness/stripe-mock';

/*
 * Schemathesis against the OpenAPI document, all checks on (exclusions with
 * their reasons in schemathesis.toml): the real API and a worker on the
 * harness's PostgreSQL and Temporal, an organization with a key of every
 * scope, and the catalog the document's examples name (meter api_calls,
 * plans pro_monthly and starter, customer acme with a subscription), a
 * draft invoice a real billing run made and a stored request, so examples
 * reach the code behind validation and the 404. Bounded by examples per
 * operation (LEDGERFLOW_FUZZ_EXAMPLES, default 20) and a fixed seed
 * (LEDGERFLOW_FUZZ_SEED; "random" for a new one each run).
 */

const ROOT = path.join(__dirname, '..');
const EXAMPLES = process.env.LEDGERFLOW_FUZZ_EXAMPLES ?? '20';
const SEED = process.env.LEDGERFLOW_FUZZ_SEED ?? '20261203';

const executable = installedSchemathesis();
const describeWithSchemathesis = executable
  ? describe
  : skippedDescribe({
      suite: 'api-fuzz',
      reason: `schemathesis ${SCHEMATHESIS_VERSION} is not installed`,
      enable: 'install python3 with venv and pip (Debian: apt-get install -y python3-venv), then npm run setup',
    });

jest.setTimeout(15 * 60_000);

describeWithSchemathesis('schemathesis', () => {
  let api: TestApi;
  let worker: TestWorker;
  let stripeMock: StripeMockHandle;
  const env: Record<string, string> = {};

  beforeAll(async () => {
    stripeMock = await startStripeMock();
    worker = await startTestWorker('api-fuzz', { stripe: createStripeClient({ apiKey: 'sk_test_fuzz', apiBase: `http://127.0.0.1:${stripeMock.port}` }) });
    // Temporal gets 15 s, not 3: the run judges input handling, and on a loaded CI machine the dev server has
    // answered a signal-with-start after more than 3 s (an honest 503 TEMPORAL_UNAVAILABLE, counted as a server error).
    api = await startTestApi({ stripeWebhookSecret: 'whsec_fuzzrun', rateLimitPerOrganizationPerSecond: 0, temporalTimeoutMs: 15_000 }, worker.taskQueue);
    const prisma = testPrisma();
    const org = await prisma.organization.create({ data: { name: `api-fuzz-${Date.now()}`, rateLimitPerSecond: 0 } });
    const key = await createApiKey(prisma, org.id, 'fuzz', { type: 'system', id: 'test' }, API_SCOPES);
    // PATCH and DELETE /api-keys/{id} get a key of their own: the run's key may not revoke itself away.
    const spare = await createApiKey(prisma, org.id, 'fuzz spare', { type: 'system', id: 'test' }, ['ingest']);
    const seed = async (p: string, body: unknown) => {
      const res = await api.post(`/api/v1${p}`, key.key, body);
      if (res.status >= 300) throw new Error(`seeding ${p}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as Record<string, unknown>;
    };
    await seed('/meters', { key: 'api_calls', name: 'API calls', event_type: 'api_call', aggregation: 'sum' });
    for (const plan of ['pro_monthly', 'starter']) {
      await seed('/plans', { key: plan, name: plan, currency: 'usd', interval: 'month', base_fee: '49.00', prices: [{ meter: 'api_calls', model: 'per_unit', unit_amount: '0.05' }] });
    }
    await seed('/customers', { external_id: 'acme', name: 'Acme Inc.' });
    const today = new Date();
    const subscription = await seed('/subscriptions', {
      customer_external_id: 'acme',
      plan: 'pro_monthly',
      start_date: `${today.getUTCFullYear()}-${String(today.getUTCMonth() + 1).padStart(2, '0')}-01`,
    });
    // An invoice to decide on: last month of a second customer's subscription, drafted by a real billing run
    // (the subscription's workflow closes the past period; the explicit start is the same run, or a no-op).
    await seed('/customers', { external_id: 'globex', name: 'Globex' });
    const lastMonth = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1));
    const thisMonth = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1));
    const billed = await seed('/subscriptions', { customer_external_id: 'globex', plan: 'starter', start_date: lastMonth.toISOString().slice(0, 10) });
    const billedId = String(billed.id);
    const run: BillingRunInput = { organizationId: org.id, subscriptionId: billedId, periodStart: lastMonth.toISOString(), periodEnd: thisMonth.toISOString(), lateEventGraceSeconds: 0 };
    await worker.client.workflow
      .start(BILLING_RUN_WORKFLOW_TYPE, { workflowId: billingRunWorkflowId(billedId, run.periodStart), taskQueue: worker.taskQueue, args: [run] })
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      });
    const draft = await waitFor('the draft to fuzz', () => prisma.invoice.findFirst({ where: { subscriptionId: billedId, status: 'draft' }, include: { lines: true } }).then((i) => i ?? undefined), 60_000);
    // A request whose batch GET /batches/{id} can show.
    const posted = await api.post('/api/v1/events', key.key, { idempotency_key: `fuzz-seed-${Date.now()}`, customer_external_id: 'acme', event_type: 'api_call', quantity: 1, timestamp: today.toISOString() });
    if (posted.status !== 202) throw new Error(`seeding an event: ${posted.status} ${JSON.stringify(posted.body)}`);
    Object.assign(env, {
      LEDGERFLOW_FUZZ_INVOICE_ID: draft.id,
      LEDGERFLOW_FUZZ_LINE_ID: draft.lines[0]!.id,
      LEDGERFLOW_FUZZ_BATCH_ID: String(posted.body.batch_id),
      LEDGERFLOW_FUZZ_API_KEY: key.key,
      LEDGERFLOW_FUZZ_SPARE_KEY_ID: spare.id,
      LEDGERFLOW_FUZZ_ORGANIZATION_ID: org.id,
      LEDGERFLOW_FUZZ_SUBSCRIPTION_ID: String(subscription.id),
    });
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await worker?.close();
    await stripeMock?.stop();
  });

  test('finds no server error, no schema mismatch either way, and 405 for undeclared methods', async () => {
    const args = [
      '--no-color',
      '--config-file',
      path.join(ROOT, 'schemathesis.toml'),
      'run',
      `${api.base}/api/openapi.json`,
      '--max-examples',
      EXAMPLES,
      ...(SEED === 'random' ? [] : ['--seed', SEED]),
    ];
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(executable!, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (text += c.toString('utf8')));
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve({ code: exitCode, output: text }));
    });
    // The whole report goes to a file, the test output gets one line: schemathesis ends its report with a
    // pytest-style banner ("== 2 warnings in 98.88s ==") that tools reading a CI log take for the run's own summary.
    const report = path.join(ROOT, 'test-artifacts', 'api-fuzz', 'schemathesis.txt');
    fs.mkdirSync(path.dirname(report), { recursive: true });
    fs.writeFileSync(report, output);
    process.stderr.write(`[api-fuzz] schemathesis ${args.slice(3).join(' ')}: ${fuzzSummary(output)}; report: ${path.relative(ROOT, report)}\n`);
    if (code !== 0) throw new Error(`schemathesis exited with ${code}:\n${output}`);
  });
});

/** One line from schemathesis's report: operations tested, cases generated and passed, the warnings' titles. */
function fuzzSummary(output: string): string {
  const tested = /Tested:\s*(\d+)/.exec(output)?.[1];
  // Word before number ("passed 4410"), unlike a test runner's own summary ("4410 passed").
  const cases = /Test cases:\s*\n\s*([^\n]+)/
    .exec(output)?.[1]
    ?.trim()
    .replace(/(\d+) (\w+)/g, '$2 $1');
  const warningsAt = output.indexOf('Warnings:');
  const warnings =
    warningsAt < 0
      ? []
      : output
          .slice(warningsAt)
          .split('\n')
          .slice(1)
          .filter((line) => /^\s*⚠/.test(line))
          .map((line) => line.replace(/^\s*⚠\S*\s*/, '').trim());
  return [
    `${tested ?? '?'} operations tested`,
    `test cases: ${cases ?? 'not reported'}`,
    warnings.length ? `warnings: ${warnings.join('; ')}` : 'no warnings',
  ].join(', ');
}

import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import Long from 'long';
import { createChannelNotifier } from '../activities/channels';
import { closePeriod, type ClosedPeriod } from '../activities/billing/close-period';
import { CRM_SIGNATURE_HEADER } from '../activities/reconcile/recovery';
import { requestReconciliation } from '../activities/reconcile/request';
import { createStripeClient } from '../activities/stripe/client';
import type { StartedWorkflow } from '../temporal/ingest';
import { billingRunStateQuery } from '../temporal/billing-messages';
import { reconcileWorkflowId, type ReconcileResult } from '../temporal/reconciliations';
import { createLedgerflowWorker, type LedgerflowWorker } from '../worker/create-worker';
import { startTestApi, type TestApi } from './api-test-app';
import { createBillingCatalog, insertUsage } from './harness/billing-fixtures';
import { closeTestPrisma, createTestOrganization, subscribeToWebhooks, testPrisma, testPool, uniqueTaskQueue } from './harness/fixtures';
import { recordHistory } from './harness/histories';
import { insertBatch } from './harness/insert-batch';
import { insertStripeInvoiceEvent } from './harness/margin-fixtures';
import { waitFor } from './harness/ingest-worker';
import { startSlackFake, type SlackFake } from './harness/slack-fake';
import { startSmtpFake, type SmtpFake } from './harness/smtp-fake';
import { StripeFake } from './harness/stripe-fake';

/*
 * Leak detection end to end: a real worker (real Temporal dev server and
 * PostgreSQL) runs reconcile:<org>:<period> started through the API, against
 * a seeded November holding one case of every finding kind (and of each
 * source: usage reported through the API and quantities on the customer's
 * Stripe invoices; plan price and contracted price). Recovery invoices wait
 * for finance approval like any invoice; one is approved and collected, and
 * the reconciliation its run starts marks the finding recovered. Stripe,
 * Slack, SMTP and the CRM webhook are local fakes that record what they
 * receive. The reconciliation is reset to after detection, as ops would in
 * the Temporal UI, and nothing goes out a second time.
 */

const PERIOD = { periodStart: '2024-11-01T00:00:00.000Z', periodEnd: '2024-12-01T00:00:00.000Z' };
const CRM_SECRET = 'crm-shared-secret';

interface CrmPost {
  headers: http.IncomingHttpHeaders;
  body: string;
  signatureValid: boolean;
}

const stripeFake = new StripeFake();
let slack: SlackFake;
let smtp: SmtpFake;
let crm: { url: string; posts: CrmPost[]; server: http.Server };
let api: TestApi;
let client: Client;
let connection: Connection;
let nativeConnection: NativeConnection;
let worker: LedgerflowWorker;
let running: Promise<void>;
const taskQueue = uniqueTaskQueue('reconcile');
const stripe = () => createStripeClient({ apiKey: 'sk_test_ledgerflow', apiBase: `http://127.0.0.1:${stripePort}` });
let stripePort: number;

/** A CRM endpoint that records each POST and checks its HMAC-SHA256 signature over the raw body. */
async function startCrm(): Promise<typeof crm> {
  const posts: CrmPost[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const expected = Buffer.from(`sha256=${createHmac('sha256', CRM_SECRET).update(body).digest('hex')}`);
      const sent = Buffer.from(String(req.headers[CRM_SIGNATURE_HEADER] ?? ''));
      const signatureValid = sent.length === expected.length && timingSafeEqual(sent, expected);
      posts.push({ headers: req.headers, body, signatureValid });
      res.writeHead(signatureValid ? 201 : 401, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/tasks`, posts, server };
}

beforeAll(async () => {
  stripePort = await stripeFake.start();
  [slack, smtp, crm] = await Promise.all([startSlackFake(), startSmtpFake(), startCrm()]);
  const address = process.env.TEMPORAL_ADDRESS!;
  const namespace = process.env.TEMPORAL_NAMESPACE!;
  connection = await Connection.connect({ address });
  client = new Client({ connection, namespace });
  nativeConnection = await NativeConnection.connect({ address });
  worker = await createLedgerflowWorker({
    connection: nativeConnection,
    namespace,
    taskQueue,
    prisma: testPrisma(),
    pool: testPool(),
    client,
    stripe: stripe(),
    notifier: createChannelNotifier({
      prisma: testPrisma(),
      slack: { token: 'xoxb-test', apiUrl: slack.apiUrl, defaultChannel: '#revenue' },
      email: { smtpUrl: smtp.url, from: 'Ledgerflow <alerts@ledgerflow.test>', defaultTo: 'finance@ledgerflow.test' },
      log: () => undefined,
    }),
    workflowBundlePath: process.env.LEDGERFLOW_WORKFLOW_BUNDLE!,
    // The CRM fake listens on loopback over plain http: allowed as on a development deployment (test/outbound-guard.test.ts refuses it otherwise).
    outbound: { allowDevelopmentTargets: true },
  });
  running = worker.run();
  api = await startTestApi({ outbound: { allowDevelopmentTargets: true } }, taskQueue);
});

afterAll(async () => {
  await api?.close();
  worker?.shutdown();
  await running;
  await nativeConnection?.close();
  await connection?.close();
  await Promise.all([slack?.close(), smtp?.close(), stripeFake.stop(), new Promise((r) => crm?.server.close(r))]);
  await closeTestPrisma();
});

/** The close of a billing run, as its activity runs it. */
async function close(organizationId: string, subscriptionId: string): Promise<string> {
  const activity = closePeriod({ prisma: testPrisma(), pool: testPool(), taskQueue, notifier: { send: async () => undefined } });
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: `billing-run:${subscriptionId}:2024-11-01`, runId: randomUUID() } });
  const closed = (await env.run(activity, { organizationId, subscriptionId, ...PERIOD })) as ClosedPeriod;
  return closed.invoiceId;
}

/** Events as ingest leaves them once linked to their customer (received before the close). */
async function usage(organizationId: string, customer: { id: string; externalId: string }, events: { at: string; quantity: string }[]): Promise<void> {
  const ids = await insertUsage(testPrisma(), organizationId, customer.externalId, events);
  await testPrisma().usageEvent.updateMany({ where: { id: { in: ids } }, data: { customerId: customer.id, status: 'customer_linked' } });
}

async function subscribe(organizationId: string, planId: string, externalId: string, startDate: string) {
  const customer = await testPrisma().customer.create({ data: { organizationId, externalId, name: externalId } });
  const subscription = await testPrisma().subscription.create({ data: { organizationId, customerId: customer.id, planId, startDate: new Date(startDate), billingAnchorDay: 1 } });
  return { customer, subscriptionId: subscription.id };
}

async function mapToStripe(customerId: string): Promise<void> {
  const created = await stripe().customers.create({ name: customerId }, { idempotencyKey: `test-customer-${customerId}` });
  await testPrisma().customer.update({ where: { id: customerId }, data: { stripeCustomerId: created.id } });
}

const EventType = temporal.api.enums.v1.EventType;

/** The WorkflowTaskCompleted event right after the first activity of the given type completed (where the UI resets to). */
function eventAfterActivity(history: temporal.api.history.v1.IHistory, activityType: string): number {
  const events = history.events ?? [];
  const scheduled = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && e.activityTaskScheduledEventAttributes?.activityType?.name === activityType);
  const completedAt = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED && Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === Number(scheduled?.eventId));
  const taskDone = events.slice(completedAt).find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  if (!scheduled || completedAt < 0 || !taskDone) throw new Error(`no completed ${activityType} in the history`);
  return Number(taskDone.eventId);
}

it('one case of every finding kind gives exactly those findings and actions; a reset after the actions repeats none', async () => {
  const prisma = testPrisma();
  const { organizationId, apiKey } = await createTestOrganization('reconcile');
  await subscribeToWebhooks(organizationId);
  const crmSettings = await api.patch('/api/v1/settings/alerts', apiKey, { crm_webhook_url: crm.url, crm_webhook_secret: CRM_SECRET });
  expect(crmSettings).toMatchObject({ status: 200, body: { crm_webhook_url: crm.url, secrets: { crm_webhook_secret: { set: true, last4: 'cret' } } } });

  // Unbilled usage: 250 billed at the close, 50 more arrive afterwards (not linked yet) → 26.00 − 22.00.
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date(PERIOD.periodStart), anchorDay: 1 });
  const unbilled = { id: catalog.customerId, externalId: catalog.customerExternalId };
  await mapToStripe(unbilled.id);
  await usage(organizationId, unbilled, [{ at: '2024-11-12T09:00:00Z', quantity: '250' }]);
  await close(organizationId, catalog.subscriptionId);
  await insertBatch(prisma, organizationId, [{ customerExternalId: unbilled.externalId, timestamp: '2024-11-20T09:00:00Z', eventType: 'api_call', quantity: '50' }]);

  // Missed overage: the line claimed 250 calls but applied 150 included units the plan does not give → 22.00 − 10.00.
  const overage = await subscribe(organizationId, catalog.basicPlanId, 'overage-co', PERIOD.periodStart);
  await usage(organizationId, overage.customer, [{ at: '2024-11-05T09:00:00Z', quantity: '250' }]);
  const overageInvoice = await close(organizationId, overage.subscriptionId);
  await prisma.invoiceLine.updateMany({ where: { invoiceId: overageInvoice, kind: 'usage' }, data: { includedUnits: '150', amount: '10' } });

  // Under-reported usage: 300 metered, the warehouse reports 200 → 26.00 − 18.00.
  const reported = await subscribe(organizationId, catalog.basicPlanId, 'reported-co', PERIOD.periodStart);
  await mapToStripe(reported.customer.id);
  await usage(organizationId, reported.customer, [{ at: '2024-11-07T09:00:00Z', quantity: '300' }]);
  await close(organizationId, reported.subscriptionId);
  const report = await api.post('/api/v1/reported-usage', apiKey, {
    usage: [{ customer_external_id: 'reported-co', meter: 'api_calls', period_start: '2024-11-01', quantity: '200', source: 'warehouse' }],
  });
  expect(report).toMatchObject({ status: 200, body: { stored: 1 } });

  // Under-reported on Stripe: 400 metered; the customer's own Stripe invoice billed 100 of the mapped price → 34.00 − 10.00.
  const stripeReported = await subscribe(organizationId, catalog.basicPlanId, 'stripe-co', PERIOD.periodStart);
  await mapToStripe(stripeReported.customer.id);
  await usage(organizationId, stripeReported.customer, [{ at: '2024-11-08T09:00:00Z', quantity: '400' }]);
  await close(organizationId, stripeReported.subscriptionId);
  expect(await api.patch('/api/v1/meters/api_calls', apiKey, { stripe_price_id: 'not-a-price' })).toMatchObject({ status: 400, body: { details: { field: 'stripe_price_id' } } });
  expect(await api.patch('/api/v1/meters/api_calls', apiKey, { stripe_price_id: 'price_api_calls' })).toMatchObject({ status: 200, body: { stripe_price_id: 'price_api_calls' } });
  const { stripeCustomerId } = await prisma.customer.findUniqueOrThrow({ where: { id: stripeReported.customer.id } });
  const stripeInvoice = { customer: stripeCustomerId!, currency: 'usd', period_start: '2024-11-01T00:00:00Z', period_end: '2024-12-01T00:00:00Z', amount_paid: 1000, amount_due: 1000 };
  await insertStripeInvoiceEvent(prisma, organizationId, 'invoice.finalized', { ...stripeInvoice, id: `in_first_${organizationId.slice(0, 8)}` }, [
    { price: 'price_api_calls', quantity: 60, period_start: '2024-11-01T00:00:00Z', period_end: '2024-11-15T00:00:00Z', shape: 'legacy' },
    { price: 'price_seats', quantity: 999, period_start: '2024-11-01T00:00:00Z', period_end: '2024-12-01T00:00:00Z' },
  ]);
  await insertStripeInvoiceEvent(prisma, organizationId, 'invoice.paid', { ...stripeInvoice, id: `in_second_${organizationId.slice(0, 8)}` }, [
    { price: 'price_api_calls', quantity: 40, period_start: '2024-11-15T00:00:00Z', period_end: '2024-12-01T00:00:00Z' },
  ]);
  // Ledgerflow's own invoices in Stripe report nothing, and December's line is another period.
  await insertStripeInvoiceEvent(prisma, organizationId, 'invoice.paid', { ...stripeInvoice, id: `in_ours_${organizationId.slice(0, 8)}`, metadata: { ledgerflow_invoice_id: randomUUID() } }, [
    { price: 'price_api_calls', quantity: 400, period_start: '2024-11-01T00:00:00Z', period_end: '2024-12-01T00:00:00Z' },
  ]);
  await insertStripeInvoiceEvent(prisma, organizationId, 'invoice.paid', { ...stripeInvoice, id: `in_dec_${organizationId.slice(0, 8)}` }, [
    { price: 'price_api_calls', quantity: 300, period_start: '2024-12-01T00:00:00Z', period_end: '2025-01-01T00:00:00Z' },
  ]);

  // Renewal drift: a Pro renewal billed at 60.00 while Pro now costs 75.00.
  const drift = await subscribe(organizationId, catalog.proPlanId, 'drift-co', '2024-10-01T00:00:00Z');
  await mapToStripe(drift.customer.id);
  await close(organizationId, drift.subscriptionId);
  // Renewal drift against the contract: Pro billed at 60.00, the contract says 80.00.
  const contract = await subscribe(organizationId, catalog.proPlanId, 'contract-co', '2024-10-01T00:00:00Z');
  await close(organizationId, contract.subscriptionId);
  expect(await api.patch(`/api/v1/subscriptions/${contract.subscriptionId}`, apiKey, { contracted_base_fee: '80.00' })).toMatchObject({ status: 200, body: { contracted_base_fee: '80' } });
  await prisma.plan.update({ where: { id: catalog.proPlanId }, data: { baseFee: '75' } });

  // Stale rating: an event of 20 Nov rated with a rate that ended on 15 Nov → cost 7.50 at the rate in effect, 4.50 recorded.
  const stale = await prisma.customer.create({ data: { organizationId, externalId: 'stale-co' } });
  const rate = (from: string, to: string | null, input: string, output: string) =>
    prisma.vendorRate.create({ data: { organizationId, vendor: 'openai', model: 'gpt-x', inputPerMillionTokens: input, outputPerMillionTokens: output, effectiveFrom: new Date(from), effectiveTo: to ? new Date(to) : null } });
  const oldRate = await rate('2024-10-01T00:00:00Z', '2024-11-15T00:00:00Z', '3', '15');
  await rate('2024-11-15T00:00:00Z', null, '5', '25');
  const vendorUsage = [{ vendor: 'openai', model: 'gpt-x', input_tokens: 1_000_000, output_tokens: 100_000 }];
  const llm = await insertBatch(prisma, organizationId, [{ customerExternalId: 'stale-co', timestamp: '2024-11-20T10:00:00Z', eventType: 'llm_call', quantity: '1', vendorUsage }]);
  await prisma.usageEvent.updateMany({ where: { id: { in: llm.eventIds } }, data: { customerId: stale.id, status: 'rated', rateIds: [oldRate.id], cost: '4.5', ratedAt: new Date() } });

  // Started through the API; a repeat is a no-op.
  const started = await api.post('/api/v1/reconciliations', apiKey, { period_start: '2024-11-01', period_end: '2024-12-01' });
  expect(started.status).toBe(202);
  expect(started.body).toMatchObject({ workflow_id: reconcileWorkflowId(organizationId, PERIOD.periodStart), already_started: false });
  const repeated = await api.post('/api/v1/reconciliations', apiKey, { period_start: '2024-11-01', period_end: '2024-12-01' });
  expect(repeated).toMatchObject({ status: 202, body: { already_started: true, run_id: null } });
  const handle = client.workflow.getHandle(started.body.workflow_id, started.body.run_id);
  const result: ReconcileResult = await handle.result();
  expect(result).toMatchObject({ findings: 7, actioned: 7 });

  const listed = await api.get('/api/v1/reconciliations', apiKey);
  expect(listed.status).toBe(200);
  expect(listed.body.data).toHaveLength(1);
  const run = listed.body.data[0];
  expect(run).toMatchObject({ status: 'completed', findings_count: 7, period_start: PERIOD.periodStart, period_end: PERIOD.periodEnd });
  const summary = run.findings.map((f: Record<string, unknown>) => ({
    kind: f.kind,
    customer: f.customer_external_id,
    subject: f.subject,
    expected: f.expected_amount,
    billed: f.billed_amount,
    leak: f.leak_amount,
    confidence: f.confidence,
    reasons: (f.reasons as { code: string }[]).map((r) => r.code),
    status: f.status,
  }));
  expect(summary).toEqual([
    { kind: 'missed_overage', customer: 'overage-co', subject: 'api_calls', expected: '22.00', billed: '10.00', leak: '12.00', confidence: '0.800', reasons: ['no_stripe_mapping'], status: 'actioned' },
    { kind: 'renewal_drift', customer: 'contract-co', subject: 'contracted_base_fee', expected: '80.00', billed: '60.00', leak: '20.00', confidence: '0.800', reasons: ['no_stripe_mapping'], status: 'actioned' },
    { kind: 'renewal_drift', customer: 'drift-co', subject: 'base_fee', expected: '75.00', billed: '60.00', leak: '15.00', confidence: '1.000', reasons: [], status: 'actioned' },
    { kind: 'stale_rating', customer: 'stale-co', subject: 'vendor_cost', expected: '7.50', billed: '4.50', leak: '3.00', confidence: '0.800', reasons: ['no_stripe_mapping'], status: 'actioned' },
    { kind: 'unbilled_usage', customer: unbilled.externalId, subject: 'api_calls', expected: '26.00', billed: '22.00', leak: '4.00', confidence: '0.250', reasons: ['late_events', 'unlinked_events'], status: 'actioned' },
    { kind: 'under_reported_usage', customer: 'reported-co', subject: 'api_calls@warehouse', expected: '26.00', billed: '18.00', leak: '8.00', confidence: '1.000', reasons: [], status: 'actioned' },
    { kind: 'under_reported_usage', customer: 'stripe-co', subject: 'api_calls@stripe', expected: '34.00', billed: '10.00', leak: '24.00', confidence: '1.000', reasons: [], status: 'actioned' },
  ]);

  // A recovery invoice for what each customer owes, waiting for finance in its own billing run; nothing reached Stripe yet.
  // Unbilled usage of a running subscription gets none (its next close bills the events as late usage), nor does the cost-side finding.
  const findingOf = (kind: string, customer: string) => run.findings.find((f: { kind: string; customer_external_id: string }) => f.kind === kind && f.customer_external_id === customer);
  const recoveries = await prisma.invoice.findMany({ where: { organizationId, kind: 'recovery' }, include: { lines: true } });
  expect(recoveries.map((i) => ({ finding: i.recoveryFindingId, total: i.total.toFixed(2), status: i.status, line: i.lines.map((l) => `${l.kind} ${l.amount.toFixed(2)}`) })).sort((a, b) => Number(a.total) - Number(b.total))).toEqual(
    [
      [findingOf('under_reported_usage', 'reported-co'), '8.00'],
      [findingOf('missed_overage', 'overage-co'), '12.00'],
      [findingOf('renewal_drift', 'drift-co'), '15.00'],
      [findingOf('renewal_drift', 'contract-co'), '20.00'],
      [findingOf('under_reported_usage', 'stripe-co'), '24.00'],
    ].map(([f, total]) => ({ finding: f.id, total, status: 'draft', line: [`adjustment ${total}`] })),
  );
  expect(findingOf('unbilled_usage', unbilled.externalId).actions.find((a: { kind: string }) => a.kind === 'stripe_draft')).toMatchObject({
    status: 'skipped',
    summary: { reason: 'the next close of the subscription bills these events as late usage' },
  });
  expect(stripeFake.requestsTo('POST', /^\/v1\/invoices$/).filter((r) => (r.body.metadata as Record<string, string> | undefined)?.ledgerflow_organization_id === organizationId)).toHaveLength(0);
  const driftRecovery = recoveries.find((i) => i.recoveryFindingId === findingOf('renewal_drift', 'drift-co').id)!;
  const recoveryRun = client.workflow.getHandle(driftRecovery.workflowId);
  expect(driftRecovery.workflowId).toBe(`recovery-run:${driftRecovery.recoveryFindingId}`);
  await waitFor('the recovery run to wait for approval', async () => ((await recoveryRun.query(billingRunStateQuery)).status === 'awaiting_approval' ? true : undefined));

  // One Slack message (Block Kit, with links to the finding and the run) and one email (text and HTML) per finding, carrying the amounts.
  const mine = (text: string) => run.findings.some((f: { id: string }) => text.includes(f.id));
  await waitFor('seven Slack messages', async () => (slack.messages.filter((m) => mine(m.text)).length === 7 ? true : undefined));
  const messages = slack.messages.filter((m) => mine(m.text));
  expect(messages.map((m) => m.channel)).toEqual(Array(7).fill('#revenue'));
  const overageMessage = messages.find((m) => m.text.includes(findingOf('missed_overage', 'overage-co').id))!;
  expect(overageMessage.text).toContain('*Missed overage: overage-co, 12.00 USD leaked*');
  const blocks = overageMessage.blocks as { type: string; fields?: { text: string }[]; elements?: { url?: string; text: unknown }[] }[];
  expect(blocks.find((b) => b.type === 'section')!.fields!.map((f) => f.text)).toEqual(expect.arrayContaining(['*Expected*\n22.00 USD', '*Billed*\n10.00 USD', '*Leak*\n12.00 USD', '*Confidence*\n0.800']));
  expect(blocks.find((b) => b.type === 'actions')!.elements!.map((e) => e.url)).toEqual([
    expect.stringMatching(new RegExp(`/leaks\\?finding=${findingOf('missed_overage', 'overage-co').id}#`)),
    expect.stringContaining(`/workflows/${encodeURIComponent(started.body.workflow_id)}/${started.body.run_id}`),
  ]);
  const mails = smtp.mails.filter((m) => mine(m.raw.replace(/=\r\n/g, '')));
  expect(mails).toHaveLength(7);
  expect(mails.every((m) => m.envelope.to.includes('finance@ledgerflow.test'))).toBe(true);
  expect(mails.every((m) => /Content-Type: text\/plain/i.test(m.raw) && /Content-Type: text\/html/i.test(m.raw))).toBe(true);

  // One signed CRM task per finding, with an idempotency key of its own.
  const posts = crm.posts.filter((p) => mine(p.body));
  expect(posts).toHaveLength(7);
  expect(posts.every((p) => p.signatureValid)).toBe(true);
  expect(new Set(posts.map((p) => p.headers['idempotency-key'])).size).toBe(7);
  expect(JSON.parse(posts.find((p) => p.body.includes(findingOf('renewal_drift', 'drift-co').id))!.body)).toMatchObject({ finding: { kind: 'renewal_drift', leak_amount: '15.00', customer_external_id: 'drift-co' } });

  // Every status change is audited with its actor.
  const audit = await prisma.auditLog.findMany({ where: { organizationId, entityType: 'leak_finding', action: { in: ['leak.detected', 'leak.actioned'] } } });
  expect(audit.filter((a) => a.action === 'leak.detected')).toHaveLength(7);
  // Each finding is one leak.found webhook event (issue 14, point 6).
  const leakEvents = await prisma.webhookEvent.findMany({ where: { organizationId, type: 'leak.found' } });
  expect(leakEvents).toHaveLength(7);
  const driftEvent = leakEvents.find((e) => (e.payload as { finding_id: string }).finding_id === findingOf('renewal_drift', 'drift-co').id)!.payload;
  expect(driftEvent).toMatchObject({ kind: 'renewal_drift', leak: '15.00', customer_external_id: 'drift-co', entity_url: expect.stringContaining('/leaks?finding=') });
  // The Temporal UI link is the operators', not sent out.
  expect(driftEvent).not.toHaveProperty('workflow_url');
  expect(audit.filter((a) => a.action === 'leak.actioned').every((a) => a.actorType === 'workflow' && a.actorId === started.body.workflow_id)).toBe(true);

  // Ops reset the reconciliation to right after detection: the actions run again and do nothing.
  const sent = { slack: slack.messages.length, mails: smtp.mails.length, crm: crm.posts.length, stripe: stripeFake.requests.length };
  const history = await handle.fetchHistory();
  const { runId } = (await client.workflowService.resetWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId: started.body.workflow_id, runId: started.body.run_id },
    reason: 'test: replay the recovery actions',
    workflowTaskFinishEventId: Long.fromNumber(eventAfterActivity(history, 'detectLeaks')),
    requestId: randomUUID(),
  })) as temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse;
  const again: ReconcileResult = await client.workflow.getHandle(started.body.workflow_id, runId!).result();
  expect(again).toMatchObject({ findings: 7, actioned: 7 });
  const resetHistory = await client.workflow.getHandle(started.body.workflow_id, runId!).fetchHistory();
  const rerun = (resetHistory.events ?? []).filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendCrmTask');
  expect(rerun.length).toBe(7);
  expect({ slack: slack.messages.length, mails: smtp.mails.length, crm: crm.posts.length, stripe: stripeFake.requests.length }).toEqual(sent);
  // Six billable findings × (recovery invoice, alert, CRM task) + the cost-side one × (alert, CRM task); still five recovery invoices, each with one run.
  expect(await prisma.recoveryAction.count({ where: { finding: { organizationId } } })).toBe(6 * 3 + 2);
  expect(await prisma.leakFinding.count({ where: { organizationId } })).toBe(7);
  expect(await prisma.invoice.count({ where: { organizationId, kind: 'recovery' } })).toBe(5);

  // Finance approves the drift recovery like any invoice: it is finalized in Stripe for 15.00 and collected,
  // and the reconciliation its run starts at the end counts it as billed: the finding is recovered.
  const approved = await api.post(`/api/v1/invoices/${driftRecovery.id}/approve`, apiKey, {});
  expect(approved).toMatchObject({ status: 200, body: { invoice_id: driftRecovery.id, total: '15.00' } });
  expect(await recoveryRun.result()).toMatchObject({ status: 'paid', invoiceId: driftRecovery.id });
  await recordHistory('recovery-run-paid', recoveryRun);
  await recordHistory('reconcile-reset-after-actions', client.workflow.getHandle(started.body.workflow_id, runId!));
  const items = stripeFake.requestsTo('POST', /^\/v1\/invoiceitems$/).filter((r) => (r.body.metadata as Record<string, string> | undefined)?.ledgerflow_invoice_id === driftRecovery.id);
  expect(items.map((i) => Number(i.body.amount))).toEqual([1500]);
  const driftFinding = findingOf('renewal_drift', 'drift-co').id;
  await waitFor('the drift finding to be recovered', async () => ((await prisma.leakFinding.findUniqueOrThrow({ where: { id: driftFinding } })).status === 'recovered' ? true : undefined));
  const stillOpen = await prisma.leakFinding.findMany({ where: { organizationId, status: 'actioned' } });
  expect(stillOpen).toHaveLength(6);
  expect(await prisma.invoice.count({ where: { organizationId, kind: 'recovery' } })).toBe(5);
});

it('a finding is dismissed with a reason, audited with the API key; a dismissed finding cannot be dismissed again', async () => {
  const prisma = testPrisma();
  const { organizationId, apiKey, apiKeyId } = await createTestOrganization('reconcile-dismiss');
  const run = await prisma.reconciliationRun.create({ data: { organizationId, periodStart: new Date(PERIOD.periodStart), periodEnd: new Date(PERIOD.periodEnd), workflowId: `test-${randomUUID()}` } });
  const finding = await prisma.leakFinding.create({
    data: {
      organizationId, runId: run.id, customerExternalId: 'acme', periodStart: run.periodStart, periodEnd: run.periodEnd, kind: 'renewal_drift', subject: 'base_fee',
      expectedAmount: '75', billedAmount: '60', leakAmount: '15', currency: 'usd', confidence: '1',
    },
  });
  const other = await createTestOrganization('reconcile-other');
  expect((await api.post(`/api/v1/reconciliations/findings/${finding.id}/dismiss`, other.apiKey, { reason: 'not yours' })).status).toBe(404);
  expect((await api.post(`/api/v1/reconciliations/findings/${finding.id}/dismiss`, apiKey, { reason: '' })).status).toBe(400);

  const dismissed = await api.post(`/api/v1/reconciliations/findings/${finding.id}/dismiss`, apiKey, { reason: 'contracted discount' });
  expect(dismissed).toMatchObject({ status: 200, body: { id: finding.id, status: 'dismissed', leak_amount: '15.00' } });
  const audit = await prisma.auditLog.findFirstOrThrow({ where: { organizationId, entityType: 'leak_finding', entityId: finding.id } });
  expect(audit).toMatchObject({ action: 'leak.dismissed', actorType: 'api_key', actorId: apiKeyId, before: { status: 'open' }, after: { status: 'dismissed', reason: 'contracted discount' } });
  expect((await api.post(`/api/v1/reconciliations/findings/${finding.id}/dismiss`, apiKey, { reason: 'again' })).status).toBe(409);
  expect((await api.post('/api/v1/reported-usage', apiKey, { usage: [{ customer_external_id: 'acme', meter: 'nope', period_start: '2024-11-01', quantity: '1', source: 'x' }] })).body).toMatchObject({ details: { field: 'usage.0.meter' } });
});

it('the end of a billing run re-runs a finished reconciliation: a leak since fixed is recovered, and no alert goes out twice', async () => {
  const prisma = testPrisma();
  const { organizationId } = await createTestOrganization('reconcile-rerun');
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date('2024-10-01T00:00:00Z'), anchorDay: 1 });
  const invoiceId = await close(organizationId, catalog.subscriptionId);
  await prisma.plan.update({ where: { id: catalog.basicPlanId }, data: { baseFee: '35' } });
  // What the billing run would call at its end (an activity, so the reconciliation outlives the run).
  const request = (): Promise<StartedWorkflow> =>
    new MockActivityEnvironment({ workflowExecution: { workflowId: `billing-run:${catalog.subscriptionId}:2024-11-01`, runId: randomUUID() } }).run(
      requestReconciliation({ prisma, pool: testPool(), temporal: client, taskQueue, notifier: { send: async () => undefined } }),
      { organizationId, ...PERIOD },
    ) as Promise<StartedWorkflow>;
  const workflowId = reconcileWorkflowId(organizationId, PERIOD.periodStart);

  const first = await request();
  expect(first).toMatchObject({ workflowId, alreadyStarted: false });
  await client.workflow.getHandle(workflowId, first.runId!).result();
  const finding = await prisma.leakFinding.findFirstOrThrow({ where: { organizationId } });
  expect(finding).toMatchObject({ kind: 'renewal_drift', status: 'actioned' });
  expect(finding.leakAmount.toFixed(2)).toBe('5.00');
  const alerts = () => slack.messages.filter((m) => m.text.includes(finding.id)).length;
  await waitFor('the Slack alert', async () => (alerts() === 1 ? true : undefined));

  // Finance corrected the fee; the next billing run's end reconciles the period again.
  await prisma.invoiceLine.updateMany({ where: { invoiceId, kind: 'base_fee' }, data: { amount: '35' } });
  const second = await request();
  expect(second).toMatchObject({ workflowId, alreadyStarted: false });
  expect(second.runId).not.toBe(first.runId);
  expect(await client.workflow.getHandle(workflowId, second.runId!).result()).toMatchObject({ findings: 0, actioned: 0 });
  expect(await prisma.leakFinding.findUniqueOrThrow({ where: { id: finding.id } })).toMatchObject({ status: 'recovered' });
  const audit = await prisma.auditLog.findMany({ where: { organizationId, entityType: 'leak_finding', entityId: finding.id }, orderBy: { id: 'asc' } });
  expect(audit.filter((a) => a.action.startsWith('leak.') && !a.action.startsWith('leak.action.')).map((a) => a.action)).toEqual(['leak.detected', 'leak.actioned', 'leak.recovered']);
  expect(alerts()).toBe(1);
  expect(await prisma.reconciliationRun.findMany({ where: { organizationId } })).toEqual([expect.objectContaining({ status: 'completed', findingsCount: 0 })]);
});

it('unbilled usage of a canceled subscription gets a recovery invoice for approval; rejected, it bills nothing and the finding stays for a person', async () => {
  const prisma = testPrisma();
  const { organizationId, apiKey } = await createTestOrganization('reconcile-canceled');
  const catalog = await createBillingCatalog(prisma, organizationId, { startDate: new Date(PERIOD.periodStart), anchorDay: 1 });
  const customer = { id: catalog.customerId, externalId: catalog.customerExternalId };
  await usage(organizationId, customer, [{ at: '2024-11-12T09:00:00Z', quantity: '250' }]);
  await close(organizationId, catalog.subscriptionId);
  // 50 more calls arrive after the close, and the subscription has ended: no later close will bill them.
  await usage(organizationId, customer, [{ at: '2024-11-20T09:00:00Z', quantity: '50' }]);
  await prisma.subscription.update({ where: { id: catalog.subscriptionId }, data: { status: 'canceled', canceledAt: new Date(PERIOD.periodEnd) } });

  const started = await api.post('/api/v1/reconciliations', apiKey, { period_start: '2024-11-01', period_end: '2024-12-01' });
  expect(await client.workflow.getHandle(started.body.workflow_id, started.body.run_id).result()).toMatchObject({ findings: 1, actioned: 1 });
  const finding = await prisma.leakFinding.findFirstOrThrow({ where: { organizationId }, include: { actions: true } });
  expect(finding).toMatchObject({ kind: 'unbilled_usage', status: 'actioned' });
  expect(finding.leakAmount.toFixed(2)).toBe('4.00');
  const invoice = await prisma.invoice.findFirstOrThrow({ where: { organizationId, kind: 'recovery' }, include: { lines: true } });
  expect(invoice).toMatchObject({ recoveryFindingId: finding.id, subscriptionId: catalog.subscriptionId, status: 'draft', workflowId: `recovery-run:${finding.id}` });
  expect(invoice.lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([['adjustment', '4.00']]);
  expect(finding.actions.find((a) => a.kind === 'stripe_draft')).toMatchObject({ status: 'done', responseSummary: { invoiceId: invoice.id, amount: '4.00' } });

  // Rejected by finance, the recovery counts as nothing billed: the finding stays actioned for a person to dismiss.
  expect(await api.post(`/api/v1/invoices/${invoice.id}/reject`, apiKey, { reason: 'goodwill' })).toMatchObject({ status: 200 });
  expect(await client.workflow.getHandle(invoice.workflowId).result()).toMatchObject({ status: 'rejected' });
  // The recovery run, like any billing run, reconciled the period again as it ended.
  const rerun = client.workflow.getHandle(reconcileWorkflowId(organizationId, PERIOD.periodStart));
  expect((await rerun.describe()).runId).not.toBe(started.body.run_id);
  expect(await rerun.result()).toMatchObject({ findings: 1, actioned: 0 });
  expect(await prisma.leakFinding.findUniqueOrThrow({ where: { id: finding.id } })).toMatchObject({ status: 'actioned' });
  expect(await prisma.invoice.count({ where: { organizationId, kind: 'recovery' } })).toBe(1);
});

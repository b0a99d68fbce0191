import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createApiKey } from '../prisma/api-keys';
import { createPrismaClient, type PrismaClient } from '../prisma/client';
import { freePort, startDevServer, type TemporalHandle } from '../temporal/dev-server';
import { DEFAULT_NAMESPACE } from '../temporal/names';
import { waitFor } from './harness/ingest-worker';
import { processStackEnv, startApiAndWorker, type TestProcess } from './harness/processes';
import { startOtlpReceiver, type OtlpReceiver } from './harness/otlp-receiver';
import { createScratchDatabase, type ScratchDatabase } from './harness/scratch-database';

/*
 * Observability from the outside, as an operator's collector sees it: the
 * API and the worker run as processes of their own with an OTLP endpoint
 * set (a loopback receiver that records what it is sent) and LOG_LEVEL=debug.
 * One request that starts a workflow (a reconciliation, which runs
 * activities) must come out as one trace, continued from the caller's
 * `traceparent`: the API's server span → StartWorkflow → RunWorkflow →
 * StartActivity → RunActivity, across both processes; and every log line
 * either process writes is a JSON object, the worker's lines for that
 * request's activities naming the request, the workflow and the trace.
 */

let database: ScratchDatabase;
let prisma: PrismaClient;
let temporal: TemporalHandle;
let connection: Connection;
let receiver: OtlpReceiver;
let api: TestProcess;
let worker: TestProcess;
let apiBase: string;

beforeAll(async () => {
  database = await createScratchDatabase('observability');
  prisma = createPrismaClient(database.url, { max: 2 });
  receiver = await startOtlpReceiver();
  temporal = await startDevServer({ port: await freePort(), ui: false, namespace: DEFAULT_NAMESPACE, log: () => undefined });
  connection = await Connection.connect({ address: temporal.address });
  const apiPort = await freePort();
  apiBase = `http://127.0.0.1:${apiPort}`;
  const env = processStackEnv(
    { databaseUrl: database.url, temporalAddress: temporal.address, namespace: DEFAULT_NAMESPACE, apiPort },
    { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, LOG_LEVEL: 'debug', LOG_FORMAT: 'json' },
  );
  ({ api, worker } = await startApiAndWorker(env));
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([api?.stop(), worker?.stop()]);
  await connection?.close();
  await temporal?.stop();
  await Promise.allSettled([receiver?.close(), prisma?.$disconnect()]);
  await database?.drop();
}, 60_000);

test('one request that starts a workflow is one trace across the API and the worker, and the worker\'s lines for it name the request, workflow and trace', async () => {
  const org = await prisma.organization.create({ data: { name: 'observability', rateLimitPerSecond: 0 } });
  const { key } = await createApiKey(prisma, org.id, 'admin', { type: 'system', id: 'test' }, ['billing']);
  const traceId = randomBytes(16).toString('hex');
  const callerSpanId = randomBytes(8).toString('hex');
  const res = await fetch(`${apiBase}/api/v1/reconciliations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': 'recon-trace-1', traceparent: `00-${traceId}-${callerSpanId}-01` },
    body: JSON.stringify({ period_start: '2024-03-01', period_end: '2024-04-01' }),
  });
  expect(res.status).toBe(202);
  const { workflow_id: workflowId } = (await res.json()) as { workflow_id: string };
  await new Client({ connection, namespace: DEFAULT_NAMESPACE }).workflow.getHandle(workflowId).result();

  // The spans arrive in batches (BatchSpanProcessor, 1 s); wait for the activity's.
  const trace = await waitFor(
    'the reconciliation\'s spans',
    async () => {
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      const names = new Set(spans.map((s) => s.name.split(':')[0]));
      // Both processes export in batches of their own: wait for the API's spans too.
      return ['POST /api/v1/reconciliations', 'StartWorkflow', 'RunWorkflow', 'StartActivity', 'RunActivity'].every((n) => names.has(n)) ? spans : undefined;
    },
    30_000,
  );
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const server = trace.find((s) => s.name === 'POST /api/v1/reconciliations');
  expect(server).toMatchObject({ service: 'ledgerflow-api', parentSpanId: callerSpanId });
  const start = trace.find((s) => s.name === 'StartWorkflow:reconcile');
  expect(start).toMatchObject({ service: 'ledgerflow-api', parentSpanId: server!.spanId });
  const run = trace.find((s) => s.name === 'RunWorkflow:reconcile');
  expect(run).toMatchObject({ service: 'ledgerflow-worker', parentSpanId: start!.spanId });
  const activities = trace.filter((s) => s.name.startsWith('RunActivity:'));
  expect(activities.length).toBeGreaterThan(0);
  for (const activity of activities) {
    // RunActivity ← StartActivity (scheduled by the workflow) ← … ← RunWorkflow
    const scheduled = byId.get(activity.parentSpanId);
    expect(scheduled?.name).toBe(activity.name.replace('RunActivity:', 'StartActivity:'));
    let ancestor = scheduled;
    while (ancestor && ancestor !== run) ancestor = byId.get(ancestor.parentSpanId);
    expect(ancestor).toBe(run);
  }

  // Logs: every line either process wrote is JSON; the activities' lines name the request, the workflow and the trace.
  const lines = `${api.everything()}${worker.everything()}`.split('\n').filter((l) => l.trim() !== '');
  const entries = lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`a log line is not JSON: ${line}`);
    }
  });
  for (const entry of entries) expect(entry).toEqual(expect.objectContaining({ level: expect.any(String), time: expect.any(String), service: expect.any(String), msg: expect.any(String) }));
  const activityLines = entries.filter((e) => e.msg === 'activity completed' && e.workflowId === workflowId);
  // One completed attempt per activity the trace shows ran (an attempt that failed and was retried has its own line).
  expect(new Set(activityLines.map((l) => `RunActivity:${String(l.activity)}`))).toEqual(new Set(activities.map((a) => a.name)));
  for (const line of activityLines) expect(line).toMatchObject({ service: 'worker', requestId: 'recon-trace-1', traceId, activity: expect.any(String) });
  // At debug level the API wrote the request's access line, under the same request and trace.
  expect(entries.find((e) => e.msg === 'request' && e.requestId === 'recon-trace-1')).toMatchObject({ service: 'api', method: 'POST', route: '/api/v1/reconciliations', status: 202, traceId });
}, 120_000);

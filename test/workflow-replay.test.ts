import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { createTestOrganization, testPrisma } from './harness/fixtures';
import { insertBatch, startBatchWorkflow } from './harness/insert-batch';
import { startTestWorker } from './harness/ingest-worker';
import * as workflows from '../workflows';
import { bundleTracesWorkflows, writeWorkflowBundle } from '../worker/interceptors';

// Histories of real runs, replayed against today's workflow code: a change
// that would break a run already in flight (or one an operator resets) fails
// here — gate it with patched() or keep it compatible. They are stored as
// binary protobuf (History.encode of handle.fetchHistory()) because this SDK
// install cannot parse JSON histories: @temporalio/common and @temporalio/proto
// each carry their own protobufjs copy and its protojson rejects the other's types.
//
// The billing-run, subscription, reconcile, recovery-run and margin-watch
// histories are recorded by the tests of those workflows themselves
// (test/harness/histories.ts: RECORD_HISTORIES=1). All billing runs but
// billing-run-paid-reconciled predate the reconcile-after-billing-run patch.
// A workflow type without any history fails the first test below.
//
// `ingest-batch.history.pb` and `-with-alert` predate the ingest-local-activities
// patch (remote activities); `ingest-batch-local.history.pb` is that patch's
// path (four local activities), `ingest-batch-one-transaction.history.pb` the
// ingest-one-transaction patch's (one processBatch). `margin-watch-negative-main-queue`
// predates the margin-evaluations-own-queue patch (the evaluation on the main
// task queue); `margin-watch-negative` is that patch's. To record a fresh history
// of today's code after a deliberate, patched change:
//   RECORD_HISTORY=<name> npx jest --selectProjects integration --testPathPatterns workflow-replay
const HISTORIES = path.join(__dirname, 'harness', 'histories');
const record = process.env.RECORD_HISTORY;

describe('workflow code replays recorded histories', () => {
  const files = fs.readdirSync(HISTORIES).filter((f) => f.endsWith('.history.pb'));

  it('has a recorded history for every workflow type the worker runs, and for recovery runs', () => {
    const started = files.map((file) => {
      const history = temporal.api.history.v1.History.decode(fs.readFileSync(path.join(HISTORIES, file)));
      const first = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      return { file, type: first?.workflowType?.name ?? '', workflowId: first?.workflowId ?? '' };
    });
    // Every function workflows/index.ts exports is a workflow type the worker registers.
    const types = Object.entries(workflows)
      .filter(([, value]) => typeof value === 'function')
      .map(([name]) => name)
      .sort();
    expect(types.length).toBeGreaterThan(0);
    const missing = types.filter((type) => !started.some((h) => h.type === type));
    expect(missing).toEqual([]);
    // The billing run also runs as recovery-run:<findingId> (a recovery invoice, no period close).
    expect(started.filter((h) => h.type === 'billingRun' && h.workflowId.startsWith('recovery-run:')).map((h) => h.file)).not.toEqual([]);
  });

  it.each(files)('%s', async (file) => {
    const history = temporal.api.history.v1.History.decode(fs.readFileSync(path.join(HISTORIES, file)));
    await Worker.runReplayHistory({ workflowBundle: { codePath: process.env.LEDGERFLOW_WORKFLOW_BUNDLE! } }, history);
  });

  // A worker with tracing on runs a bundle with Temporal's OpenTelemetry workflow interceptors (worker/interceptors.ts);
  // the histories must replay through that one too, whichever way they were recorded.
  it('replays every history through the bundle a worker with tracing on builds', async () => {
    const tracedBundle = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-traced-')), 'workflow-bundle.js');
    await writeWorkflowBundle(tracedBundle, (message) => {
      throw new Error(message);
    }, { enabled: true });
    expect(bundleTracesWorkflows(fs.readFileSync(tracedBundle, 'utf8'))).toBe(true);
    expect(bundleTracesWorkflows(fs.readFileSync(process.env.LEDGERFLOW_WORKFLOW_BUNDLE!, 'utf8'))).toBe(false);
    const histories = files.map((file) => {
      const history = temporal.api.history.v1.History.decode(fs.readFileSync(path.join(HISTORIES, file)));
      return { workflowId: history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId || file, history };
    });
    // The traced workflows export their spans through this sink; here it drops them.
    const sinks = { exporter: { export: { fn: () => undefined } } } as never;
    const failed: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: tracedBundle }, sinks }, histories)) {
      if (result.error) failed.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failed).toEqual([]);
  }, 120_000);

  // A recording tool rather than a test: registered only when asked for, so a normal run skips nothing.
  if (record) it(`records ${record}.history.pb from a fresh run`, async () => {
    const env = await startTestWorker('record-history');
    try {
      const { organizationId } = await createTestOrganization('record-history');
      const prisma = testPrisma();
      await prisma.vendorRate.create({
        data: { organizationId, vendor: 'openai', model: 'gpt-4o', inputPerMillionTokens: '2.50', outputPerMillionTokens: '10.00', effectiveFrom: new Date('2026-01-01T00:00:00Z') },
      });
      const batch = await insertBatch(prisma, organizationId, [
        { customerExternalId: 'acme', timestamp: new Date().toISOString(), vendorUsage: [{ vendor: 'openai', model: 'gpt-4o', input_tokens: 1_234, output_tokens: 567 }] },
      ]);
      const workflowId = await startBatchWorkflow(prisma, env.client, batch, env.taskQueue);
      const handle = env.client.workflow.getHandle(workflowId);
      await handle.result();
      const history = await handle.fetchHistory();
      fs.writeFileSync(path.join(HISTORIES, `${record}.history.pb`), temporal.api.history.v1.History.encode(history).finish());
    } finally {
      await env.close();
    }
  });
});

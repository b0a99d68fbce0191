import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';

// Histories of real runs, replayed against today's workflow code: a change
// that would break a run already in flight (or one an operator resets) fails
// here — gate it with patched() or keep it compatible. They are stored as
// binary protobuf (History.encode of handle.fetchHistory()) because this SDK
// install cannot parse JSON histories: @temporalio/common and @temporalio/proto
// each carry their own protobufjs copy and its protojson rejects the other's types.
const HISTORIES = path.join(__dirname, 'harness', 'histories');

describe('workflow code replays recorded histories', () => {
  const files = fs.readdirSync(HISTORIES).filter((f) => f.endsWith('.history.pb'));

  it('has a history for every ingest path', () => {
    expect(files.sort()).toEqual(['ingest-batch-with-alert.history.pb', 'ingest-batch.history.pb', 'sweep-orphan-batches.history.pb']);
  });

  it.each(files)('%s', async (file) => {
    const history = temporal.api.history.v1.History.decode(fs.readFileSync(path.join(HISTORIES, file)));
    await Worker.runReplayHistory({ workflowBundle: { codePath: process.env.LEDGERFLOW_WORKFLOW_BUNDLE! } }, history);
  });
});

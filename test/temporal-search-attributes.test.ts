import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ALL_SEARCH_ATTRIBUTES, BatchId, OrganizationId, registerSearchAttributes } from '../temporal/search-attributes';
import { startIngestWorkflow } from '../temporal/ingest';
import { uniqueTaskQueue } from './harness/fixtures';

// Ops filter runs in the Temporal UI by these attributes; the harness's dev
// server was started through the same code that `npm start` uses.
let connection: Connection;
let client: Client;
const namespace = () => process.env.TEMPORAL_NAMESPACE!;

beforeAll(async () => {
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  client = new Client({ connection, namespace: namespace() });
});
afterAll(async () => {
  await connection.close();
});

it('registers every Ledgerflow search attribute as a Keyword on start', async () => {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: namespace() });
  for (const key of ALL_SEARCH_ATTRIBUTES) {
    expect(customAttributes?.[key.name]).toBe(temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
  }
});

it('registering again is a no-op', async () => {
  await expect(registerSearchAttributes(connection, namespace())).resolves.toEqual([]);
});

it('an ingest workflow carries its organization and batch, and a second start is a no-op', async () => {
  const input = { batchId: crypto.randomUUID(), organizationId: crypto.randomUUID() };
  const taskQueue = uniqueTaskQueue('search-attributes'); // no worker: the run just waits
  const first = await startIngestWorkflow(client, input, taskQueue);
  const second = await startIngestWorkflow(client, input, taskQueue);
  expect(first).toMatchObject({ workflowId: `ingest:${input.batchId}`, alreadyStarted: false });
  expect(second).toEqual({ workflowId: `ingest:${input.batchId}`, runId: null, alreadyStarted: true });
  const handle = client.workflow.getHandle(first.workflowId);
  const description = await handle.describe();
  expect(description.typedSearchAttributes.get(OrganizationId)).toBe(input.organizationId);
  expect(description.typedSearchAttributes.get(BatchId)).toBe(input.batchId);
  await handle.terminate('test done');
});

import { REQUEST_ID_HEADER } from '../temporal/request-id';
import { event, startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization } from './harness/fixtures';

/*
 * Every answer names its request (X-Request-Id: the caller's, when it is a
 * plain token, or a fresh UUID), and a workflow a request starts carries
 * that id in its memo and its start's header: from a client's log line to
 * the run in the Temporal UI.
 */

let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('api-request-id');
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('the caller\'s X-Request-Id is answered back; a missing or unusable one is replaced by a fresh UUID', async () => {
  expect((await api.get('/api/v1/settings/billing', org.apiKey, { 'x-request-id': 'checkout-42.retry:1' })).headers.get('x-request-id')).toBe('checkout-42.retry:1');
  expect((await api.get('/api/v1/settings/billing', org.apiKey)).headers.get('x-request-id')).toMatch(UUID);
  expect((await api.get('/api/v1/settings/billing', org.apiKey, { 'x-request-id': 'has spaces and\ttabs' })).headers.get('x-request-id')).toMatch(UUID);
  expect((await api.get('/api/v1/settings/billing', org.apiKey, { 'x-request-id': 'x'.repeat(129) })).headers.get('x-request-id')).toMatch(UUID);
  // The ingest fast lane and refusals answer it too.
  expect((await api.post('/api/v1/events', org.apiKey, event(`rid-${Date.now()}`), { 'x-request-id': 'ingest-7' })).headers.get('x-request-id')).toBe('ingest-7');
  expect((await api.get('/api/v1/settings/billing', null, { 'x-request-id': 'no-key-1' })).headers.get('x-request-id')).toBe('no-key-1');
});

test('a workflow the request starts has its id in the memo and in the start\'s header', async () => {
  const res = await api.post('/api/v1/reconciliations', org.apiKey, { period_start: '2024-03-01', period_end: '2024-04-01' }, { 'x-request-id': 'recon-request-9' });
  expect(res.status).toBe(202);
  const handle = api.temporal.client.workflow.getHandle(res.body.workflow_id as string);
  expect((await handle.describe()).memo).toMatchObject({ requestId: 'recon-request-9' });
  const history = await handle.fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  expect(Object.keys(started?.header?.fields ?? {})).toContain(REQUEST_ID_HEADER);
  await handle.terminate('test over');
});

import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';

/*
 * GET /metrics of an API process: request durations by documented route,
 * and the deployment's outbox and invoice figures read when scraped.
 */

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

/** The value of one sample line, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('request durations are counted by method, documented route and status', async () => {
  const { apiKey } = await createTestOrganization('api-metrics');
  await api.get('/api/v1/settings/billing', apiKey);
  await api.get('/api/v1/settings/billing', apiKey);
  await api.get('/api/v1/invoices/6f1c0000-0000-4000-8000-000000000000', apiKey);
  await fetch(`${api.base}/api/v1/settings/billing`, { method: 'DELETE', headers: { authorization: `Bearer ${apiKey}` } });
  await fetch(`${api.base}/no/such/path/${Date.now()}`);
  const text = await (await fetch(`${api.base}/metrics`)).text();
  expect(sample(text, 'ledgerflow_http_request_duration_seconds_count{method="GET",route="/api/v1/settings/billing",status="200"}')).toBe(2);
  expect(sample(text, 'ledgerflow_http_request_duration_seconds_count{method="GET",route="/api/v1/invoices/{id}",status="404"}')).toBe(1);
  expect(sample(text, 'ledgerflow_http_request_duration_seconds_count{method="DELETE",route="/api/v1/settings/billing",status="405"}')).toBe(1);
  // A path the document lacks is "other", whatever it was: the label set stays bounded.
  expect(sample(text, 'ledgerflow_http_request_duration_seconds_count{method="GET",route="other",status="404"}')).toBe(1);
  expect(text).not.toMatch(/route="\/no\/such/);
});

test('the outbox depth and the invoices by status are read from the database when scraped', async () => {
  const { organizationId } = await createTestOrganization('api-metrics-outbox');
  const before = sample(await (await fetch(`${api.base}/metrics`)).text(), 'ledgerflow_notifications_undelivered')!;
  await testPrisma().notification.create({ data: { organizationId, kind: 'quota.warning', dedupeKey: `metrics-${Date.now()}`, payload: {}, createdAt: new Date(Date.now() - 120_000) } });
  const text = await (await fetch(`${api.base}/metrics`)).text();
  expect(sample(text, 'ledgerflow_notifications_undelivered')).toBe(before + 1);
  expect(sample(text, 'ledgerflow_notifications_oldest_undelivered_age_seconds')).toBeGreaterThanOrEqual(119);
  expect(text).toMatch(/^# TYPE ledgerflow_invoices gauge$/m);
});

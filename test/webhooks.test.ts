import { Webhook } from 'standardwebhooks';
import { createApiKey } from '../prisma/api-keys';
import { emitWebhookEvents } from '../prisma/webhook-events';
import { settleAbandonedDeliveries } from '../activities/webhooks/dispatch';
import { webhookDeliveryWorkflowId } from '../temporal/workflow-ids';
import { WebhookDispatcher } from '../worker/webhook-dispatcher';
import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma } from './harness/fixtures';
import { startTestWorker, waitFor, type TestWorker } from './harness/ingest-worker';
import { startWebhookReceiver, type WebhookReceiver } from './harness/webhook-receiver';

/*
 * Issue 14, point 6: an organization registers its own endpoints through the
 * API (admin keys), events are delivered signed per Standard Webhooks by a
 * workflow per delivery, started by the worker's dispatcher as the event's
 * transaction commits; the delivery log shows every attempt and a finished
 * delivery can be sent again. The real Temporal dev server, PostgreSQL, the
 * API, and a receiver on loopback (allowed as on a development deployment).
 * Retries over hours are in webhooks-retries.test.ts (time skipping).
 */

const DEV = { allowDevelopmentTargets: true };
let api: TestApi;
let strictApi: TestApi;
let worker: TestWorker;
let dispatcher: WebhookDispatcher;
let receiver: WebhookReceiver;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

beforeAll(async () => {
  org = await createTestOrganization('webhooks');
  receiver = await startWebhookReceiver();
  worker = await startTestWorker('webhooks', { outbound: DEV });
  api = await startTestApi({ outbound: DEV }, worker.taskQueue);
  strictApi = await startTestApi({}, worker.taskQueue);
  dispatcher = new WebhookDispatcher({ pool: testPool(), temporal: worker.client, taskQueue: worker.taskQueue, databaseUrl: process.env.DATABASE_URL!, organizationIds: [org.organizationId], pollMs: 60_000 });
  await dispatcher.start();
});

afterAll(async () => {
  await dispatcher?.stop();
  await Promise.all([api?.close(), strictApi?.close()]);
  await worker?.close();
  await receiver?.close();
  await closeTestPrisma();
});

const endpoints = '/api/v1/webhook-endpoints';
const audit = (entityId: string) => testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, entityId }, orderBy: { id: 'asc' } });

/** The real emitter, in a transaction of its own, as a change that reports it would run it. */
async function emit(type: 'invoice.paid' | 'invoice.drafted' | 'quota.exceeded' | 'quota.warning', key: string, payload: unknown) {
  await testPrisma().$transaction((tx) => emitWebhookEvents(tx, org.organizationId, [{ type, key, payload }]));
  return testPrisma().webhookEvent.findUniqueOrThrow({ where: { organizationId_eventKey: { organizationId: org.organizationId, eventKey: key } } });
}

const receivedAt = (path: string, count: number) => waitFor(`${count} deliveries to ${path}`, async () => (receiver.received.filter((r) => r.path === path).length >= count ? receiver.received.filter((r) => r.path === path) : undefined));

test('endpoints are managed with admin keys: the secret is shown once, bad fields are refused by name, every change is audited', async () => {
  const created = await api.post(endpoints, org.apiKey, { url: `${receiver.url}/crud`, description: 'ERP sync', event_types: ['invoice.paid', 'invoice.finalized'] });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ url: `${receiver.url}/crud`, description: 'ERP sync', event_types: ['invoice.paid', 'invoice.finalized'], enabled: true, secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{32}$/) });
  const id: string = created.body.id;
  // A Standard Webhooks library takes the secret as it is.
  expect(() => new Webhook(created.body.secret)).not.toThrow();

  const read = await api.get(`${endpoints}/${id}`, org.apiKey);
  expect(read.status).toBe(200);
  expect(read.body).not.toHaveProperty('secret');
  expect(JSON.stringify((await api.get(endpoints, org.apiKey)).body)).not.toContain(created.body.secret);
  // Stored sealed, not as written.
  expect((await testPrisma().webhookEndpoint.findUniqueOrThrow({ where: { id } })).secretEnc).not.toContain(created.body.secret.slice(6));

  const bad = await api.post(endpoints, org.apiKey, { url: 'ftp://erp.example.com/hook', event_types: ['invoice.eaten'] });
  expect(bad.status).toBe(400);
  expect([...new Set(bad.body.details.issues.map((i: { field: string }) => i.field))].sort()).toEqual(['event_types.0', 'url']);
  expect(bad.body.error).toMatch(/^Invalid request: url: must be an http\(s\) URL/);
  // Production rules: https to a public address only.
  const inside = await strictApi.post(endpoints, org.apiKey, { url: 'https://169.254.169.254/latest' });
  expect(inside.status).toBe(400);
  expect(JSON.stringify(inside.body)).toMatch(/url.*link-local/);
  expect((await strictApi.post(endpoints, org.apiKey, { url: 'http://erp.example.com/hook' })).body.error).toMatch(/https/);

  // Secrets are the organization's admins' business: a billing key is refused.
  const billing = await createApiKey(testPrisma(), org.organizationId, 'finance', { type: 'system', id: 'test' }, ['billing', 'read']);
  const refused = await api.get(endpoints, billing.key);
  expect(refused).toMatchObject({ status: 403, body: { code: 'INSUFFICIENT_SCOPE', details: { required_scope: 'admin' } } });

  const changed = await api.patch(`${endpoints}/${id}`, org.apiKey, { enabled: false, event_types: [] });
  expect(changed.body).toMatchObject({ enabled: false, event_types: [] });
  expect((await api.patch(`${endpoints}/${id}`, org.apiKey, {})).status).toBe(400);
  const rotated = await api.post(`${endpoints}/${id}/rotate-secret`, org.apiKey, {});
  expect(rotated.body.secret).toMatch(/^whsec_/);
  expect(rotated.body.secret).not.toBe(created.body.secret);
  expect((await api.delete(`${endpoints}/${id}`, org.apiKey)).status).toBe(200);
  expect((await api.get(`${endpoints}/${id}`, org.apiKey)).status).toBe(404);

  const rows = await audit(id);
  expect(rows.map((r) => r.action)).toEqual(['webhook_endpoint.created', 'webhook_endpoint.updated', 'webhook_endpoint.secret_rotated', 'webhook_endpoint.deleted']);
  expect(rows[1]).toMatchObject({ before: { enabled: true, event_types: ['invoice.paid', 'invoice.finalized'] }, after: { enabled: false, event_types: [] } });
  expect(JSON.stringify(rows.map((r) => [r.before, r.after]))).not.toContain('whsec_');
});

test('an event reaches each subscribed, enabled endpoint once, signed; the log shows the attempt; a redelivery sends the same id and bytes', async () => {
  const sub = (path: string, body: object = {}) => api.post(endpoints, org.apiKey, { url: `${receiver.url}${path}`, ...body }).then((r) => r.body as { id: string; secret: string });
  const paid = await sub('/paid', { event_types: ['invoice.paid'] });
  const all = await sub('/all');
  const quotaOnly = await sub('/quota', { event_types: ['quota.exceeded'] });
  const off = await sub('/off', { enabled: false });
  receiver.trust('/paid', paid.secret);
  receiver.trust('/all', all.secret);

  const event = await emit('invoice.paid', 'invoice.paid:test-1', { invoice_id: 'inv-1', total: '12.50' });
  const [got] = await receivedAt('/paid', 1);
  const [gotAll] = await receivedAt('/all', 1);
  expect(got).toMatchObject({ verified: true, headers: { 'webhook-id': event.id, 'content-type': 'application/json' } });
  expect(gotAll!.verified).toBe(true);
  expect(JSON.parse(got!.body)).toEqual({ type: 'invoice.paid', timestamp: event.createdAt.toISOString(), data: { invoice_id: 'inv-1', total: '12.50' } });
  // Signed with the other endpoint's secret, it does not verify: each endpoint has its own.
  expect(() => new Webhook(all.secret).verify(got!.body, got!.headers)).toThrow();

  const log = await waitFor('the delivery recorded', async () => {
    const page = await api.get(`/api/v1/webhook-deliveries?endpoint_id=${paid.id}`, org.apiKey);
    return page.body.data[0]?.status === 'succeeded' ? page.body : undefined;
  });
  expect(log.data).toHaveLength(1);
  expect(log.data[0]).toMatchObject({ event_id: event.id, event_type: 'invoice.paid', endpoint_url: `${receiver.url}/paid`, round: 1, attempts: 1, last_status_code: 200, next_attempt_at: null });
  const deliveryId: string = log.data[0].id;
  // Nothing for the endpoint subscribed to other types, or the disabled one.
  expect(await testPrisma().webhookDelivery.count({ where: { endpointId: { in: [quotaOnly.id, off.id] } } })).toBe(0);

  // The same change reported again (a retried activity, a replayed run) is one event, not two.
  await emit('invoice.paid', 'invoice.paid:test-1', { invoice_id: 'inv-1', total: '12.50' });
  expect(await testPrisma().webhookEvent.count({ where: { organizationId: org.organizationId, eventKey: 'invoice.paid:test-1' } })).toBe(1);

  const again = await api.post(`/api/v1/webhook-deliveries/${deliveryId}/redeliver`, org.apiKey, {});
  expect(again).toMatchObject({ status: 202, body: { status: 'pending', round: 2, attempts: 0 } });
  const [first, second] = await receivedAt('/paid', 2);
  expect(second).toMatchObject({ verified: true, body: first!.body, headers: { 'webhook-id': event.id } });
  const detail = await waitFor('round 2 recorded', async () => {
    const d = await api.get(`/api/v1/webhook-deliveries/${deliveryId}`, org.apiKey);
    return d.body.status === 'succeeded' ? d.body : undefined;
  });
  expect(detail).toMatchObject({ round: 2, attempts: 1, body: first!.body });
  expect(detail.attempts_log.map((a: { round: number; attempt: number; status_code: number; succeeded: boolean }) => [a.round, a.attempt, a.status_code, a.succeeded])).toEqual([
    [1, 1, 200, true],
    [2, 1, 200, true],
  ]);
  expect((await audit(deliveryId)).map((r) => r.action)).toEqual(['webhook_delivery.redelivered']);
  expect((await api.post('/api/v1/webhook-deliveries/00000000-0000-4000-8000-000000000000/redeliver', org.apiKey, {})).status).toBe(404);
});

test('a failing endpoint keeps the delivery pending with the next attempt scheduled; a pending delivery cannot be redelivered', async () => {
  const ep = (await api.post(endpoints, org.apiKey, { url: `${receiver.url}/down`, event_types: ['quota.exceeded'] })).body as { id: string };
  receiver.always('/down', 503);
  const event = await emit('quota.exceeded', 'quota.exceeded:test-down', { customer_external_id: 'acme' });
  await receivedAt('/down', 1);
  const pending = await waitFor('the failed attempt recorded', async () => {
    const page = await api.get(`/api/v1/webhook-deliveries?endpoint_id=${ep.id}&status=pending`, org.apiKey);
    return page.body.data[0]?.attempts === 1 ? page.body.data[0] : undefined;
  });
  expect(pending).toMatchObject({ event_id: event.id, last_status_code: 503, delivered_at: null, next_attempt_at: expect.any(String) });
  // The second attempt is five seconds after the first.
  const wait = Date.parse(pending.next_attempt_at) - receiver.received.find((r) => r.path === '/down')!.at;
  expect(wait).toBeGreaterThan(3_000);
  expect(wait).toBeLessThan(7_000);
  const refused = await api.post(`/api/v1/webhook-deliveries/${pending.id}/redeliver`, org.apiKey, {});
  expect(refused).toMatchObject({ status: 409, body: { code: 'DELIVERY_PENDING' } });

  // The receiver comes back: the second attempt, five seconds on, delivers.
  receiver.always('/down', null);
  await receivedAt('/down', 2);
  const done = await waitFor('delivered on the second attempt', async () => {
    const d = await api.get(`/api/v1/webhook-deliveries/${pending.id}`, org.apiKey);
    return d.body.status === 'succeeded' ? d.body : undefined;
  });
  expect(done.attempts_log.map((a: { status_code: number }) => a.status_code)).toEqual([503, 200]);
});

test('an event no endpoint takes is not stored, and one whose transaction rolls back leaves no event and no delivery', async () => {
  const other = await createTestOrganization('webhooks-none');
  await testPrisma().$transaction((tx) => emitWebhookEvents(tx, other.organizationId, [{ type: 'invoice.paid', key: 'invoice.paid:nobody', payload: {} }]));
  expect(await testPrisma().webhookEvent.count({ where: { organizationId: other.organizationId } })).toBe(0);

  await api.post(endpoints, org.apiKey, { url: `${receiver.url}/rollback`, event_types: ['invoice.drafted'] });
  await expect(
    testPrisma().$transaction(async (tx) => {
      await emitWebhookEvents(tx, org.organizationId, [{ type: 'invoice.drafted', key: 'invoice.drafted:rolled-back', payload: {} }]);
      throw new Error('the change failed');
    }),
  ).rejects.toThrow('the change failed');
  expect(await testPrisma().webhookEvent.count({ where: { organizationId: org.organizationId, eventKey: 'invoice.drafted:rolled-back' } })).toBe(0);
  await new Promise((r) => setTimeout(r, 300));
  expect(receiver.received.filter((r) => r.path === '/rollback')).toEqual([]);
});

test("another organization's endpoints and deliveries are not found, and its log is not listed", async () => {
  const other = await createTestOrganization('webhooks-other');
  const mine = (await api.post(endpoints, org.apiKey, { url: `${receiver.url}/mine`, event_types: ['invoice.drafted'] })).body as { id: string };
  await emit('invoice.drafted', 'invoice.drafted:mine', { invoice_id: 'mine' });
  const delivery = await testPrisma().webhookDelivery.findFirstOrThrow({ where: { endpointId: mine.id } });
  expect((await api.get(`${endpoints}/${mine.id}`, other.apiKey)).status).toBe(404);
  expect((await api.patch(`${endpoints}/${mine.id}`, other.apiKey, { enabled: false })).status).toBe(404);
  expect((await api.post(`${endpoints}/${mine.id}/rotate-secret`, other.apiKey, {})).status).toBe(404);
  expect((await api.delete(`${endpoints}/${mine.id}`, other.apiKey)).status).toBe(404);
  expect((await api.get(`/api/v1/webhook-deliveries/${delivery.id}`, other.apiKey)).status).toBe(404);
  expect((await api.post(`/api/v1/webhook-deliveries/${delivery.id}/redeliver`, other.apiKey, {})).status).toBe(404);
  expect((await api.get(`/api/v1/webhook-deliveries?endpoint_id=${mine.id}`, other.apiKey)).body).toEqual({ data: [], has_more: false });
  expect((await api.get(endpoints, other.apiKey)).body).toEqual({ data: [] });
  expect(await testPrisma().webhookEndpoint.findUniqueOrThrow({ where: { id: mine.id } })).toMatchObject({ enabled: true });
});

test('a delivery whose workflow an operator terminated is settled as failed, and can then be sent again', async () => {
  const ep = (await api.post(endpoints, org.apiKey, { url: `${receiver.url}/stuck`, event_types: ['quota.warning'] })).body as { id: string };
  receiver.always('/stuck', 500);
  await emit('quota.warning', 'quota.warning:stuck', { customer_external_id: 'acme' });
  await receivedAt('/stuck', 1);
  const delivery = await waitFor('the first attempt recorded', async () => {
    const d = await testPrisma().webhookDelivery.findFirst({ where: { endpointId: ep.id, attempts: 1 } });
    return d ?? undefined;
  });
  await worker.client.workflow.getHandle(webhookDeliveryWorkflowId(delivery.id, 1)).terminate('ops stopped it');
  // Still pending, and refused for redelivery, until settled.
  expect((await api.post(`/api/v1/webhook-deliveries/${delivery.id}/redeliver`, org.apiKey, {})).status).toBe(409);
  // Quiet for at least 0 ms here (10 minutes in the dispatcher's poll), and its next attempt not yet due: left alone.
  expect(await settleAbandonedDeliveries(testPool(), worker.client, [org.organizationId], 0)).toBe(0);
  await testPrisma().webhookDelivery.update({ where: { id: delivery.id }, data: { nextAttemptAt: new Date(Date.now() - 1000) } });
  expect(await settleAbandonedDeliveries(testPool(), worker.client, [org.organizationId], 0)).toBe(1);
  expect(await api.get(`/api/v1/webhook-deliveries/${delivery.id}`, org.apiKey)).toMatchObject({ body: { status: 'failed', last_error: expect.stringContaining('ended (terminated)') } });

  receiver.always('/stuck', null);
  expect((await api.post(`/api/v1/webhook-deliveries/${delivery.id}/redeliver`, org.apiKey, {})).status).toBe(202);
  await receivedAt('/stuck', 2);
});

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startPendingDeliveries } from '../activities/webhooks/dispatch';
import { WEBHOOK_RETRY_DELAYS_MS } from '../billing/webhooks';
import { emitWebhookEvents } from '../prisma/webhook-events';
import { createWebhookEndpoint, getWebhookDelivery, redeliverWebhook } from '../services/webhook-endpoints';
import { webhookDeliveryWorkflowId } from '../temporal/workflow-ids';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma, uniqueTaskQueue } from './harness/fixtures';
import { RecordingNotifier, waitFor } from './harness/ingest-worker';
import { recordHistory } from './harness/histories';
import { describeWithTimeSkipping, startTimeSkippingWorker } from './harness/time-skipping';
import { startWebhookReceiver, type WebhookReceiver } from './harness/webhook-receiver';

/*
 * Issue 14, point 6: a delivery's workflow waits between failed attempts on
 * the Standard Webhooks (Svix) schedule — 5 s, 5 min, 30 min, 2 h, 5 h,
 * 10 h, 10 h — and gives up after the eighth attempt; a redelivery is a new
 * round. Temporal's time-skipping server runs the day of waits in seconds;
 * the real activity POSTs to a receiver on loopback and records each attempt
 * in PostgreSQL.
 */
const ADMIN = { type: 'user', id: 'ops@example.com' } as const;

describeWithTimeSkipping('webhook delivery retries (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let stop: () => Promise<void>;
  let receiver: WebhookReceiver;
  const taskQueue = uniqueTaskQueue('webhook-retries');

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    ({ env, stop } = await startTimeSkippingWorker({ taskQueue, notifier: new RecordingNotifier(), outbound: { allowDevelopmentTargets: true } }));
  });

  afterAll(async () => {
    await stop?.();
    await receiver?.close();
    await closeTestPrisma();
  });

  /** An organization with one endpoint at `path`, an event emitted for it, and its delivery's first round started. */
  async function deliverOne(name: string, path: string) {
    const { organizationId } = await createTestOrganization(name);
    const endpoint = await createWebhookEndpoint(testPrisma(), organizationId, { url: `${receiver.url}${path}`, description: '', event_types: [], enabled: true }, ADMIN);
    receiver.trust(path, endpoint.secret);
    await testPrisma().$transaction((tx) => emitWebhookEvents(tx, organizationId, [{ type: 'invoice.finalized', key: `invoice.finalized:${name}`, payload: { invoice_id: name } }]));
    expect(await startPendingDeliveries(testPool(), env.client, taskQueue, [organizationId])).toBe(1);
    const delivery = await testPrisma().webhookDelivery.findFirstOrThrow({ where: { organizationId } });
    return { organizationId, delivery, handle: env.client.workflow.getHandle(webhookDeliveryWorkflowId(delivery.id, 1)) };
  }

  const firstAttemptRecorded = (deliveryId: string) => waitFor('the first attempt recorded', async () => ((await testPrisma().webhookDeliveryAttempt.count({ where: { deliveryId } })) > 0 ? true : undefined));

  /** The waits the run's timers asked for, in ms. */
  async function timerWaits(handle: { fetchHistory: () => Promise<{ events?: { timerStartedEventAttributes?: { startToFireTimeout?: { seconds?: unknown } | null } | null }[] | null }> }) {
    const history = await handle.fetchHistory();
    return (history.events ?? []).flatMap((e) => (e.timerStartedEventAttributes ? [Number(e.timerStartedEventAttributes.startToFireTimeout?.seconds ?? 0) * 1000] : []));
  }

  it('tries again after 5 s and 5 min when the receiver fails, and delivers on the third attempt', async () => {
    receiver.answer('/flaky', 500, 404);
    const { organizationId, delivery, handle } = await deliverOne('webhook-flaky', '/flaky');
    expect(await handle.result()).toEqual({ outcome: 'delivered', attempts: 3 });
    expect(await timerWaits(handle)).toEqual([5_000, 300_000]);
    const got = receiver.received.filter((r) => r.path === '/flaky');
    expect(got.map((r) => [r.answered, r.verified])).toEqual([
      [500, true],
      [404, true],
      [200, true],
    ]);
    // One event id on every attempt; a fresh timestamp (and so signature) on each.
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivery.eventId]));
    const detail = await getWebhookDelivery(testPrisma(), organizationId, delivery.id);
    expect(detail).toMatchObject({ status: 'succeeded', round: 1, attempts: 3, last_status_code: 200, last_error: null, next_attempt_at: null, delivered_at: expect.any(String) });
    expect(detail.attempts_log.map((a) => [a.attempt, a.status_code, a.succeeded])).toEqual([
      [1, 500, false],
      [2, 404, false],
      [3, 200, true],
    ]);
    await recordHistory('webhook-delivery-third-attempt', handle);
  });

  it('gives up after eight attempts over about 27 hours; a redelivery is a new round that delivers', async () => {
    receiver.always('/down', 503);
    const { organizationId, delivery, handle } = await deliverOne('webhook-down', '/down');
    const started = await env.currentTimeMs();
    expect(await handle.result()).toEqual({ outcome: 'failed', attempts: 8 });
    expect(await timerWaits(handle)).toEqual([...WEBHOOK_RETRY_DELAYS_MS]);
    expect((await env.currentTimeMs()) - started).toBeGreaterThanOrEqual(WEBHOOK_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0));
    expect(receiver.received.filter((r) => r.path === '/down').map((r) => r.answered)).toEqual(Array(8).fill(503));
    expect(await getWebhookDelivery(testPrisma(), organizationId, delivery.id)).toMatchObject({ status: 'failed', attempts: 8, last_status_code: 503, next_attempt_at: null, delivered_at: null });

    receiver.always('/down', null);
    await redeliverWebhook(testPrisma(), organizationId, delivery.id, ADMIN);
    expect(await startPendingDeliveries(testPool(), env.client, taskQueue, [organizationId])).toBe(1);
    expect(await env.client.workflow.getHandle(webhookDeliveryWorkflowId(delivery.id, 2)).result()).toEqual({ outcome: 'delivered', attempts: 1 });
    const detail = await getWebhookDelivery(testPrisma(), organizationId, delivery.id);
    expect(detail).toMatchObject({ status: 'succeeded', round: 2, attempts: 1 });
    expect(detail.attempts_log.map((a) => [a.round, a.attempt, a.status_code])).toEqual([...Array.from({ length: 8 }, (_, i) => [1, i + 1, 503]), [2, 1, 200]]);
    // A round's workflow id is never reused: round 1 marked unstarted again (a start whose record was lost) is not run a second time.
    const sent = receiver.received.length;
    const first = await env.client.workflow.getHandle(webhookDeliveryWorkflowId(delivery.id, 1)).describe();
    await testPrisma().webhookDelivery.update({ where: { id: delivery.id }, data: { round: 1, status: 'pending', workflowStarted: false } });
    expect(await startPendingDeliveries(testPool(), env.client, taskQueue, [organizationId])).toBe(1);
    const again = await env.client.workflow.getHandle(webhookDeliveryWorkflowId(delivery.id, 1)).describe();
    expect({ runId: again.runId, status: again.status.name }).toEqual({ runId: first.runId, status: 'COMPLETED' });
    expect(receiver.received.length).toBe(sent);
    expect(await testPrisma().webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).toMatchObject({ workflowStarted: true });
  });

  it('stops retrying when the endpoint is disabled, and when it is removed', async () => {
    receiver.always('/off', 500);
    const off = await deliverOne('webhook-off', '/off');
    await firstAttemptRecorded(off.delivery.id);
    await testPrisma().webhookEndpoint.update({ where: { id: off.delivery.endpointId }, data: { enabled: false } });
    expect(await off.handle.result()).toEqual({ outcome: 'stopped', attempts: 2 });
    expect(await getWebhookDelivery(testPrisma(), off.organizationId, off.delivery.id)).toMatchObject({ status: 'failed', last_error: 'endpoint disabled: not sent' });

    receiver.always('/gone', 500);
    const gone = await deliverOne('webhook-gone', '/gone');
    await firstAttemptRecorded(gone.delivery.id);
    await testPrisma().webhookEndpoint.delete({ where: { id: gone.delivery.endpointId } });
    expect(await gone.handle.result()).toEqual({ outcome: 'stopped', attempts: 2 });
  });
});

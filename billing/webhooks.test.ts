import { Webhook } from 'standardwebhooks';
import { signedHeaders } from '../activities/webhooks/deliver';
import { isDeliveredStatus, snakeCaseKeys, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_DELAYS_MS, webhookBody, webhookRetryDelayMs, webhookTypeOfNotification } from './webhooks';

describe('webhook retry schedule', () => {
  it('waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h between eight attempts, then stops', () => {
    const delays = Array.from({ length: WEBHOOK_MAX_ATTEMPTS }, (_, i) => webhookRetryDelayMs(i + 1));
    expect(delays).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000, null]);
    const total = WEBHOOK_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeCloseTo(27.59, 1);
  });

  it('counts only a 2xx as delivered (a redirect is not followed, so it is a failure)', () => {
    expect([199, 200, 204, 299, 301, 400, 500].map(isDeliveredStatus)).toEqual([false, true, true, true, false, false, false]);
  });
});

describe('webhook events', () => {
  it('sends quota, margin and leak notifications as events, and keeps staff-only kinds in-house', () => {
    expect(['quota.warning', 'quota.exceeded', 'margin.negative', 'margin.resolved', 'leak.finding'].map(webhookTypeOfNotification)).toEqual(['quota.warning', 'quota.exceeded', 'margin.negative', 'margin.resolved', 'leak.found']);
    expect(['invoice.approval_reminder', 'billing_run.failed', 'subscription.request_failed', 'quota.unknown', 'margin.other'].map(webhookTypeOfNotification)).toEqual([null, null, null, null, null]);
  });

  it('turns payload keys to snake_case at every depth, leaving values alone', () => {
    expect(snakeCaseKeys({ customerExternalId: 'acmeCorp', reasons: [{ detailCode: 'x' }], nested: { marginBps: 12, keep: null } })).toEqual({
      customer_external_id: 'acmeCorp',
      reasons: [{ detail_code: 'x' }],
      nested: { margin_bps: 12, keep: null },
    });
  });

  it('sends the event\'s type, its own time (not the attempt\'s) and its data', () => {
    const event = { type: 'invoice.paid', createdAt: new Date('2026-12-04T10:00:00.123Z'), payload: { total: '12.50' } };
    expect(webhookBody(event)).toBe('{"type":"invoice.paid","timestamp":"2026-12-04T10:00:00.123Z","data":{"total":"12.50"}}');
  });

  it('signs per Standard Webhooks: a receiver verifies with the secret, and a changed body or another secret fails', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const at = new Date();
    const body = '{"type":"invoice.paid"}';
    const headers = signedHeaders(secret, 'evt-1', at, body);
    expect(headers).toMatchObject({ 'webhook-id': 'evt-1', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': expect.stringMatching(/^v1,[A-Za-z0-9+/=]+$/) });
    expect(new Webhook(secret).verify(body, headers)).toEqual({ type: 'invoice.paid' });
    expect(() => new Webhook(secret).verify('{"type":"invoice.void"}', headers)).toThrow();
    expect(() => new Webhook('whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA').verify(body, headers)).toThrow();
  });
});

import { Webhook } from 'standardwebhooks';
import { isDeliveredStatus, webhookBody, webhookRetryDelayMs } from '../../billing/webhooks';
import { STRICT_OUTBOUND } from '../../billing/outbound-urls';
import { secretBox } from '../../prisma/secret-box';
import { endpointSecretPlace } from '../../prisma/webhook-events';
import type { ActivityDeps } from '../deps';
import { postOutbound } from '../outbound/http';
import { workflowClock } from '../workflow-actor';

export interface WebhookAttemptInput {
  organizationId: string;
  deliveryId: string;
  round: number;
  /** 1-based, within the round */
  attempt: number;
}

/**
 * delivered: a 2xx came back; retry: it did not, try again in `retryInMs`;
 * failed: it did not and this was the last attempt; stopped: the endpoint was
 * disabled or removed, or a redelivery started another round.
 */
export type WebhookAttemptOutcome = { outcome: 'delivered' | 'failed' | 'stopped' } | { outcome: 'retry'; retryInMs: number };

/** How long one attempt may take, connect to last byte; a receiver should answer at once and work later. */
export const WEBHOOK_TIMEOUT_MS = 15_000;

/** Standard Webhooks headers for one attempt: the event id, the attempt's time, and the signature over both and the body. */
export function signedHeaders(secret: string, eventId: string, at: Date, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'Ledgerflow-Webhooks/1',
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(eventId, at, body),
  };
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 500);

/**
 * One attempt of a delivery: POSTs the event, signed, to the endpoint
 * through the outbound guard, and records the attempt and the delivery's
 * state in one transaction. A retried activity whose attempt was recorded
 * answers from the record instead of sending again; one that died between
 * the POST and the record sends again with the same webhook-id (receivers
 * drop repeats by it).
 */
export function attemptWebhookDelivery({ prisma, outbound = STRICT_OUTBOUND }: ActivityDeps) {
  return async function attemptWebhookDelivery(input: WebhookAttemptInput): Promise<WebhookAttemptOutcome> {
    const { organizationId, deliveryId, round, attempt } = input;
    const delivery = await prisma.webhookDelivery.findFirst({ where: { id: deliveryId, organizationId }, include: { endpoint: true, event: true } });
    if (!delivery || delivery.round !== round) return { outcome: 'stopped' };
    const recorded = await prisma.webhookDeliveryAttempt.findUnique({ where: { deliveryId_round_attempt: { deliveryId, round, attempt } } });
    if (recorded) return outcomeOf(recorded.succeeded, attempt);
    if (delivery.status !== 'pending') return { outcome: 'stopped' };
    if (!delivery.endpoint.enabled) {
      await prisma.webhookDelivery.updateMany({ where: { id: deliveryId, round, status: 'pending' }, data: { status: 'failed', lastError: 'endpoint disabled: not sent', nextAttemptAt: null } });
      return { outcome: 'stopped' };
    }

    const body = webhookBody(delivery.event);
    const attemptedAt = new Date();
    const started = performance.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const secret = secretBox.open(delivery.endpoint.secretEnc, endpointSecretPlace(delivery.endpointId));
      ({ status: statusCode } = await postOutbound(delivery.endpoint.url, { headers: signedHeaders(secret, delivery.eventId, attemptedAt, body), body, timeoutMs: WEBHOOK_TIMEOUT_MS }, outbound));
    } catch (err) {
      error = message(err);
    }
    const durationMs = Math.round(performance.now() - started);
    const succeeded = statusCode !== null && isDeliveredStatus(statusCode);
    const retryInMs = succeeded ? null : webhookRetryDelayMs(attempt);
    const status = succeeded ? 'succeeded' : retryInMs === null ? 'failed' : 'pending';
    await prisma.$transaction(async (tx) => {
      await tx.webhookDeliveryAttempt.createMany({ data: [{ deliveryId, round, attempt, attemptedAt, url: delivery.endpoint.url, durationMs, statusCode, error, succeeded }], skipDuplicates: true });
      await tx.webhookDelivery.updateMany({
        where: { id: deliveryId, round, status: 'pending' },
        data: {
          status,
          attempts: attempt,
          lastStatusCode: statusCode,
          lastError: error,
          // On the workflow's clock, which its timer runs on: the timer starts when this attempt ends.
          nextAttemptAt: retryInMs === null ? null : new Date(workflowClock().getTime() + (Date.now() - attemptedAt.getTime()) + retryInMs),
          deliveredAt: succeeded ? attemptedAt : null,
        },
      });
    });
    return outcomeOf(succeeded, attempt);
  };
}

function outcomeOf(succeeded: boolean, attempt: number): WebhookAttemptOutcome {
  if (succeeded) return { outcome: 'delivered' };
  const retryInMs = webhookRetryDelayMs(attempt);
  return retryInMs === null ? { outcome: 'failed' } : { outcome: 'retry', retryInMs };
}

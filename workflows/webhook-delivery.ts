import { proxyActivities, sleep } from '@temporalio/workflow';
import type { LedgerflowActivities } from '../activities';

/*
 * One round of an outbound webhook delivery (activities/webhooks/deliver.ts
 * sends and records each attempt). The waits between failed attempts are
 * this workflow's timers, on billing/webhooks.ts's schedule: eight attempts
 * over about 27 hours. The activity's own retries are for our side failing
 * (the database away), not the receiver: a receiver's refusal is an attempt
 * like any other, recorded and waited on.
 */
const deliver = proxyActivities<LedgerflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

export interface WebhookDeliveryInput {
  organizationId: string;
  deliveryId: string;
  round: number;
}

export type WebhookDeliveryResult = { outcome: 'delivered' | 'failed' | 'stopped'; attempts: number };

export async function webhookDelivery(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  for (let attempt = 1; ; attempt += 1) {
    const result = await deliver.attemptWebhookDelivery({ ...input, attempt });
    if (result.outcome !== 'retry') return { outcome: result.outcome, attempts: attempt };
    await sleep(result.retryInMs);
  }
}

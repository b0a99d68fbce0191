/*
 * Outbound webhooks: the events an organization's endpoints can subscribe
 * to, what a delivery sends, and when a failed attempt is tried again. Pure;
 * the emitter (prisma/webhook-events.ts), the delivery workflow
 * (workflows/webhook-delivery.ts) and its activity read these rules.
 *
 * Deliveries follow the Standard Webhooks scheme
 * (https://www.standardwebhooks.com): headers `webhook-id` (the event's id,
 * the same on every attempt, so receivers dedupe on it), `webhook-timestamp`
 * (Unix seconds of the attempt) and `webhook-signature` (`v1,` and the
 * base64 HMAC-SHA256 of `id.timestamp.body` under the endpoint's `whsec_`
 * secret). The `standardwebhooks` package signs them here and verifies them
 * in receivers.
 */

export const WEBHOOK_EVENT_TYPES = {
  'invoice.drafted': 'A billing period closed into a draft invoice (or a leak finding into a recovery draft).',
  'invoice.finalized': 'A draft was approved and finalized in Stripe: it has a number and is being collected.',
  'invoice.paid': 'The invoice was paid (or settled at zero).',
  'invoice.uncollectible': 'Collection gave up: every payment retry failed, or a sent invoice stayed unpaid past its last notice.',
  'quota.warning': 'A customer reached the warning level of a quota limit.',
  'quota.exceeded': 'A customer used more than a quota limit allows.',
  'leak.found': 'Revenue-leak detection found usage that was not billed as it should have been.',
  'margin.below_threshold': 'A margin fell below the organization\'s threshold.',
  'margin.negative': 'A margin turned negative: the vendor cost exceeds the revenue.',
  'margin.worsened': 'An open margin alert got worse.',
  'margin.resolved': 'A margin is back above the threshold.',
  'credits.low_balance': "A customer's prepaid credit balance fell to its wallet's low-balance threshold.",
  'credits.exhausted': "A customer's prepaid credits ran out: its usage is now invoiced as overage (or refused on a prepaid-only plan).",
  'credits.top_up_failed': 'A credit top-up could not be charged (a declined card, no card on file, or Stripe unreachable); no credits were granted.',
} as const;

export type WebhookEventType = keyof typeof WEBHOOK_EVENT_TYPES;
export const WEBHOOK_EVENT_TYPE_NAMES = Object.keys(WEBHOOK_EVENT_TYPES) as WebhookEventType[];

export function isWebhookEventType(type: string): type is WebhookEventType {
  return Object.prototype.hasOwnProperty.call(WEBHOOK_EVENT_TYPES, type);
}

/** The webhook event a notification kind is also sent as, or null for kinds that are the organization's staff's only (reminders, run failures). */
export function webhookTypeOfNotification(kind: string): WebhookEventType | null {
  if (kind === 'leak.finding') return 'leak.found';
  if (kind.startsWith('quota.') || kind.startsWith('margin.') || kind.startsWith('credits.')) return isWebhookEventType(kind) ? kind : null;
  return null;
}

/**
 * Waits after each failed attempt, Svix's schedule (what Standard Webhooks
 * was written from): a receiver that is down for a deploy gets the event
 * within seconds, one that is down for a day still gets it. Eight attempts
 * over about 27.5 hours; after the last one the delivery is `failed`, and
 * can be redelivered by hand.
 */
export const WEBHOOK_RETRY_DELAYS_MS = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3600_000, 5 * 3600_000, 10 * 3600_000, 10 * 3600_000] as const;
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_DELAYS_MS.length + 1;

/** How long to wait after failed attempt `attempt` (1-based), or null when it was the last. */
export function webhookRetryDelayMs(attempt: number): number | null {
  return WEBHOOK_RETRY_DELAYS_MS[attempt - 1] ?? null;
}

/** Any 2xx is delivered; everything else (3xx included: redirects are not followed) is a failed attempt. */
export function isDeliveredStatus(status: number): boolean {
  return status >= 200 && status <= 299;
}

/**
 * The bytes a delivery sends: the same for every attempt and round of one
 * event, so a receiver that stores them can compare. `timestamp` is when the
 * event happened, not when it was sent (that is the signed header).
 */
export function webhookBody(event: { type: string; createdAt: Date; payload: unknown }): string {
  return JSON.stringify({ type: event.type, timestamp: event.createdAt.toISOString(), data: event.payload });
}

/** camelCase keys to snake_case, deeply: notification payloads are camelCase, the API (and so webhooks) snake_case. */
export function snakeCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCaseKeys);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeCaseKeys(v)]));
}

/** What a person reads for an attempt's error: the HTTP status, or the network's or the guard's message. */
export function attemptSummary(a: { statusCode: number | null; error: string | null }): string {
  if (a.statusCode !== null) return `HTTP ${a.statusCode}${a.error ? ` (${a.error})` : ''}`;
  return a.error ?? 'no answer';
}

import type { OutgoingNotification } from '../notifier';

/**
 * What a person reads: a one-line title (the email subject, Slack's first
 * line) and a few lines of detail. Payload fields are read defensively: a
 * field the producer did not send is left out rather than shown as
 * "undefined", and an unknown kind still shows everything it carries.
 *
 * Payload fields read, by kind:
 * - quota.warning / quota.exceeded (activities/check-quotas.ts): customerExternalId,
 *   eventType, used, limit, mode, softWarningPercent, windowStart, windowEnd
 * - invoice.*: invoiceId, customerExternalId (or customerName), total, currency,
 *   periodStart, periodEnd; approval_reminder also waitingHours, remindersSent;
 *   uncollectible also paymentAttempts, lastError; auto_approved also afterHours
 */
export interface RenderedNotification {
  title: string;
  lines: string[];
}

type Fields = Record<string, unknown>;

export function renderNotification(n: OutgoingNotification): RenderedNotification {
  const p: Fields = isRecord(n.payload) ? n.payload : {};
  switch (n.kind) {
    case 'quota.warning':
      return {
        title: `Quota warning: ${text(p.customerExternalId) ?? 'a customer'} is at ${percent(p.used, p.limit) ?? 'the warning level'} of its ${quotaName(p)}`,
        lines: quotaLines(p),
      };
    case 'quota.exceeded':
      return {
        title: `Quota exceeded: ${text(p.customerExternalId) ?? 'a customer'} ${text(p.used) && text(p.limit) ? `used ${text(p.used)} of ${text(p.limit)} on` : 'exceeded'} its ${quotaName(p)}`,
        lines: [
          ...quotaLines(p),
          p.mode === 'HARD' ? 'Hard limit: further events of this type are rejected until the window resets.' : 'Soft limit: events are still accepted and billed.',
        ],
      };
    case 'invoice.approval_reminder':
      return {
        title: `Invoice awaiting approval: ${invoiceSummary(p)}`,
        lines: [
          ...invoiceLines(p),
          ...optional('Waiting for', hours(p.waitingHours)),
          ...optional('Reminders sent so far', text(p.remindersSent)),
          'Approve, adjust or reject it in Ledgerflow.',
        ],
      };
    case 'invoice.uncollectible':
      return {
        title: `Invoice uncollectible: ${invoiceSummary(p)}`,
        lines: [...invoiceLines(p), ...optional('Payment attempts', text(p.paymentAttempts)), ...optional('Last error', text(p.lastError)), 'Every scheduled payment retry failed; follow up with the customer.'],
      };
    case 'invoice.auto_approved':
      return {
        title: `Invoice auto-approved: ${invoiceSummary(p)}`,
        lines: [...invoiceLines(p), ...optional('Approved automatically after', hours(p.afterHours)), 'Nobody decided within the organization\'s auto-approval window.'],
      };
    default:
      return { title: `Ledgerflow notification: ${n.kind}`, lines: [`kind: ${n.kind}`, `payload: ${JSON.stringify(n.payload)}`] };
  }
}

/** Plain text: title, blank line, details, and the keys that identify the notification. */
export function renderPlainText(n: OutgoingNotification): string {
  const { title, lines } = renderNotification(n);
  return [title, '', ...lines, '', `Organization: ${n.organizationId}`, `Notification: ${n.dedupeKey}`].join('\n');
}

function quotaLines(p: Fields): string[] {
  return [
    ...optional('Customer', text(p.customerExternalId)),
    ...optional('Event type', text(p.eventType)),
    ...optional('Used', text(p.used) && text(p.limit) ? `${text(p.used)} of ${text(p.limit)}` : undefined),
    ...optional('Window', window(p.windowStart, p.windowEnd)),
  ];
}

function quotaName(p: Fields): string {
  const eventType = text(p.eventType);
  return eventType ? `${eventType} quota` : 'quota';
}

function invoiceSummary(p: Fields): string {
  const who = text(p.customerExternalId) ?? text(p.customerName) ?? 'customer';
  const amount = money(p.total, p.currency);
  return amount ? `${who}, ${amount}` : who;
}

function invoiceLines(p: Fields): string[] {
  return [
    ...optional('Invoice', text(p.invoiceId)),
    ...optional('Customer', text(p.customerExternalId) ?? text(p.customerName)),
    ...optional('Total', money(p.total, p.currency)),
    ...optional('Period', window(p.periodStart, p.periodEnd)),
  ];
}

function optional(label: string, value: string | undefined): string[] {
  return value === undefined ? [] : [`${label}: ${value}`];
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Amounts travel as decimal strings; shown as they are, with the currency code. */
function money(amount: unknown, currency: unknown): string | undefined {
  const a = text(amount);
  if (a === undefined) return undefined;
  const c = text(currency);
  return c ? `${a} ${c.toUpperCase()}` : a;
}

function hours(value: unknown): string | undefined {
  const h = text(value);
  return h === undefined ? undefined : `${h} h`;
}

function window(start: unknown, end: unknown): string | undefined {
  const s = text(start);
  if (s === undefined) return undefined;
  return `${s} – ${text(end) ?? 'open'}`;
}

/** Whole percent for the headline only; the detail lines keep the exact decimals. */
function percent(used: unknown, limit: unknown): string | undefined {
  const u = Number(text(used));
  const l = Number(text(limit));
  if (!Number.isFinite(u) || !Number.isFinite(l) || l <= 0) return undefined;
  return `${Math.floor((u / l) * 100)}%`;
}

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

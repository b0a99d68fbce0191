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
 * - margin.below_threshold / negative / worsened / resolved (activities/margins/evaluate-alerts.ts):
 *   scope, scopeKey, customerExternalId, feature, currency, revenue, cost, margin, marginBps,
 *   previousBps, thresholdBps, periodStart, periodEnd, entityUrl, workflowUrl
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
    case 'margin.below_threshold':
    case 'margin.negative':
    case 'margin.worsened':
    case 'margin.resolved':
      return { title: marginTitle(n.kind, p), lines: [...marginLines(p), ...marginLinks(p)] };
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

// Margin alerts ---------------------------------------------------------------

const MARGIN_HEADLINES: Record<string, string> = {
  'margin.below_threshold': 'Margin below threshold',
  'margin.negative': 'Negative margin',
  'margin.worsened': 'Margin worsened',
  'margin.resolved': 'Margin recovered',
};

/** "customer acme" / "feature chat" / "events without a feature". */
function marginSubject(p: Fields): string {
  if (p.scope === 'feature') return text(p.feature) ? `feature ${text(p.feature)}` : 'revenue and events without a feature';
  return `customer ${text(p.customerExternalId) ?? text(p.scopeKey) ?? 'unknown'}`;
}

/** margin_bps as a percentage with two decimals (1234 → 12.34 %), exact: bps are integers. */
export function bpsPercent(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return undefined;
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')} %`;
}

function marginTitle(kind: string, p: Fields): string {
  const pct = bpsPercent(p.marginBps);
  const now = pct ? `margin ${pct}` : `margin ${money(p.margin, p.currency) ?? 'unknown'} (no revenue)`;
  const change = kind === 'margin.worsened' && bpsPercent(p.previousBps) ? `, down from ${bpsPercent(p.previousBps)}` : '';
  return `${MARGIN_HEADLINES[kind] ?? 'Margin'}: ${marginSubject(p)}, ${now}${change}`;
}

function marginLines(p: Fields): string[] {
  return [
    ...optional('Revenue', money(p.revenue, p.currency)),
    ...optional('Cost', money(p.cost, p.currency)),
    ...optional('Margin', money(p.margin, p.currency)),
    ...optional('Margin (bps)', text(p.marginBps) ?? (p.marginBps === null ? 'n/a (no revenue)' : undefined)),
    ...optional('Threshold (bps)', text(p.thresholdBps)),
    ...optional('Period', window(p.periodStart, p.periodEnd)),
  ];
}

function marginLinks(p: Fields): string[] {
  return [...optional('Open in Ledgerflow', text(p.entityUrl)), ...optional('Temporal run', text(p.workflowUrl))];
}

/** The Block Kit objects Slack's chat.postMessage takes (the subset we send). */
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string } }
  | { type: 'section'; text?: { type: 'mrkdwn'; text: string }; fields?: { type: 'mrkdwn'; text: string }[] }
  | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  | { type: 'actions'; elements: { type: 'button'; text: { type: 'plain_text'; text: string }; url: string; action_id: string }[] };

/**
 * Block Kit for kinds that have it (margin alerts): a header, the amounts as
 * fields, the period, and buttons to the entity in the web app and to the
 * Temporal run. undefined for other kinds, which are sent as text only. The
 * text rendering stays the message's `text` (notifications and fallbacks).
 */
export function renderSlackBlocks(n: OutgoingNotification): SlackBlock[] | undefined {
  if (!(n.kind in MARGIN_HEADLINES)) return undefined;
  const p: Fields = isRecord(n.payload) ? n.payload : {};
  const mrkdwn = (s: string) => ({ type: 'mrkdwn' as const, text: s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') });
  const fields = marginLines(p)
    .filter((line) => !line.startsWith('Period: '))
    .map((line) => {
      const at = line.indexOf(': ');
      return mrkdwn(`*${line.slice(0, at)}*\n${line.slice(at + 2)}`);
    });
  const blocks: SlackBlock[] = [
    // Slack caps header text at 150 characters.
    { type: 'header', text: { type: 'plain_text', text: marginTitle(n.kind, p).slice(0, 150) } },
    { type: 'section', fields },
  ];
  const period = window(p.periodStart, p.periodEnd);
  if (period) blocks.push({ type: 'context', elements: [mrkdwn(`Period ${period}`)] });
  const buttons = [
    { label: 'Open in Ledgerflow', url: text(p.entityUrl), id: 'open_entity' },
    { label: 'Temporal run', url: text(p.workflowUrl), id: 'open_workflow_run' },
  ].flatMap((b) => (b.url ? [{ type: 'button' as const, text: { type: 'plain_text' as const, text: b.label }, url: b.url, action_id: b.id }] : []));
  if (buttons.length > 0) blocks.push({ type: 'actions', elements: buttons });
  return blocks;
}

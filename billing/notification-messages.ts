import { bpsPercent } from './margins';

/** A notification as the outbox holds it and the channels (activities/channels) send it. */
export interface OutgoingNotification {
  id: string;
  organizationId: string;
  /** e.g. `quota.warning`, `quota.exceeded` */
  kind: string;
  /** stable per notification; a channel with idempotency keys should pass it on */
  dedupeKey: string;
  payload: unknown;
  createdAt: Date;
}

/**
 * What a person reads: a one-line title (the email subject, Slack's first
 * line) and a few lines of detail. Payload fields are read defensively: a
 * field the producer did not send is left out rather than shown as
 * "undefined", and an unknown kind still shows everything it carries.
 *
 * Payload fields read, by kind:
 * - quota.warning / quota.exceeded (activities/ingest-steps.ts): customerExternalId,
 *   eventType, used, limit, mode, softWarningPercent, windowStart, windowEnd
 * - invoice.*: invoiceId, customerExternalId (or customerName), total, currency,
 *   periodStart, periodEnd; approval_reminder also waitingHours, remindersSent;
 *   uncollectible also attempts, lastDecline (a charged invoice) or dueAt, overdueNotices (a sent one);
 *   overdue also dueAt, notice, daysOverdue; auto_approved also afterHours
 * - margin.below_threshold / negative / worsened / resolved (activities/margins/evaluate-alerts.ts):
 *   scope, scopeKey, customerExternalId, feature, currency, revenue, cost, margin, marginBps,
 *   previousBps, thresholdBps, periodStart, periodEnd, entityUrl, workflowUrl
 * - billing_run.failed (workflows/billing-run.ts): the invoice fields when a draft exists, and
 *   workflowId, step (the activity that failed), reason, phase
 * - subscription.request_failed (workflows/subscription.ts): subscriptionId, request
 *   (changePlan or cancel), planKey, effectiveAt, atPeriodEnd, at, requestedBy { type, id }, reason
 * - credits.low_balance / credits.exhausted (activities/ingest-steps.ts after a burn, activities/credits.ts after a
 *   grant's expiry): customerExternalId, walletId, balance, threshold, and burned, uncovered (a burn) or expired,
 *   expiredGrantId (an expiry)
 * - credits.top_up_failed (activities/credit-top-ups.ts): customerExternalId, topUpId, automatic, credits, amount,
 *   currency, reason
 * - leak.finding (activities/reconcile/recovery.ts queueLeakAlert): findingId, kind, subject,
 *   customerExternalId, periodStart, periodEnd, expected, billed, leak, currency, confidence,
 *   reasons [{ code, detail, factor }], entityUrl, workflowUrl
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
        lines: text(p.dueAt)
          ? [
              ...invoiceLines(p),
              ...optional('Was due', text(p.dueAt)),
              ...optional('Overdue notices sent', text(p.overdueNotices)),
              'The customer did not pay the invoice sent to them by the last scheduled day; follow up with the customer.',
            ]
          : [
              ...invoiceLines(p),
              ...optional('Payment attempts', text(p.attempts)),
              ...optional('Last decline', text(p.lastDecline)),
              'Every scheduled payment retry failed; follow up with the customer.',
            ],
      };
    case 'invoice.overdue':
      return {
        title: `Invoice overdue: ${invoiceSummary(p)}`,
        lines: [
          ...invoiceLines(p),
          ...optional('Was due', text(p.dueAt)),
          ...optional('Days overdue', text(p.daysOverdue)),
          ...optional('Overdue notice', text(p.notice)),
          'The customer has not paid the invoice sent to them; Stripe\'s invoice page takes the payment.',
        ],
      };
    case 'invoice.auto_approved':
      return {
        title: `Invoice auto-approved: ${invoiceSummary(p)}`,
        lines: [...invoiceLines(p), ...optional('Approved automatically after', hours(p.afterHours)), 'Nobody decided within the organization\'s auto-approval window.'],
      };
    case 'billing_run.failed':
      return {
        title: `Billing run failed: ${text(p.workflowId) ?? 'a billing run'}${text(p.step) ? ` at ${text(p.step)}` : ''}`,
        lines: [
          ...optional('Reason', text(p.reason)),
          ...optional('Phase', text(p.phase)?.replace(/_/g, ' ')),
          ...invoiceLines(p),
          ...optional('Subscription', text(p.subscriptionId)),
          'Nothing more happens in this run until it is retried. Fix the cause, then retry it from Billing runs in Ledgerflow (or reset it in the Temporal UI); every step it already took is kept, nothing is billed twice.',
        ],
      };
    case 'subscription.request_failed':
      return {
        title: `Subscription request failed: ${p.request === 'cancel' ? 'cancellation' : `plan change${text(p.planKey) ? ` to ${text(p.planKey)}` : ''}`} for ${text(p.subscriptionId) ?? 'a subscription'}`,
        lines: [
          ...optional('Reason', text(p.reason)),
          ...optional('Requested by', isRecord(p.requestedBy) && text(p.requestedBy.id) ? `${text(p.requestedBy.type) ?? ''} ${text(p.requestedBy.id)}`.trim() : undefined),
          'The request was dropped; the subscription goes on as before. Fix the request and send it again.',
        ],
      };
    case 'margin.below_threshold':
    case 'margin.negative':
    case 'margin.worsened':
    case 'margin.resolved':
      return { title: marginTitle(n.kind, p), lines: [...marginLines(p), ...marginLinks(p)] };
    case 'leak.finding':
      return { title: leakTitle(p), lines: [...leakLines(p), ...leakReasons(p), ...marginLinks(p)] };
    case 'credits.low_balance':
      return {
        title: `Credits low: ${text(p.customerExternalId) ?? 'a customer'} has ${text(p.balance) ?? 'few'} credits left${text(p.threshold) ? ` (alert at ${text(p.threshold)})` : ''}`,
        lines: [...creditLines(p), 'Usage goes on; once the wallet is empty it is invoiced as overage, or refused on a prepaid-only plan. Add credits to keep it covered.'],
      };
    case 'credits.top_up_failed':
      return {
        title: `Credit top-up failed: ${text(p.customerExternalId) ?? 'a customer'}${text(p.credits) ? `, ${text(p.credits)} credits` : ''}${money(p.amount, p.currency) ? ` for ${money(p.amount, p.currency)}` : ''}`,
        lines: [
          ...optional('Customer', text(p.customerExternalId)),
          ...optional('Top-up', text(p.topUpId)),
          ...optional('Kind', p.automatic === true ? 'automatic (the wallet fell below its threshold)' : p.automatic === false ? 'asked for' : undefined),
          ...optional('Why', text(p.reason)),
          'No credits were granted. Fix the payment (or the card on file) and top up again; usage meanwhile is invoiced as overage, or refused on a prepaid-only plan, once the wallet is empty.',
        ],
      };
    case 'credits.exhausted':
      return {
        title: `Credits exhausted: ${text(p.customerExternalId) ?? 'a customer'} has no credits left`,
        lines: [
          ...creditLines(p),
          ...optional('Not covered by this batch', text(p.uncovered) && text(p.uncovered) !== '0' ? `${text(p.uncovered)} credits` : undefined),
          'Usage from here on is invoiced as overage, or refused on a prepaid-only plan, until credits are added.',
        ],
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

function creditLines(p: Fields): string[] {
  return [
    ...optional('Customer', text(p.customerExternalId)),
    ...optional('Balance', text(p.balance) ? `${text(p.balance)} credits` : undefined),
    ...optional('Low-balance threshold', text(p.threshold) ? `${text(p.threshold)} credits` : undefined),
    ...optional('Burned by the batch that crossed it', text(p.burned) ? `${text(p.burned)} credits` : undefined),
    ...optional('Expired', text(p.expired) ? `${text(p.expired)} credits of grant ${text(p.expiredGrantId) ?? ''}`.trim() : undefined),
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

// Revenue-leak findings --------------------------------------------------------

const LEAK_KINDS: Record<string, string> = {
  unbilled_usage: 'Unbilled usage',
  missed_overage: 'Missed overage',
  under_reported_usage: 'Under-reported usage',
  renewal_drift: 'Renewal drift',
  stale_rating: 'Stale rating',
};

function leakTitle(p: Fields): string {
  const kind = LEAK_KINDS[text(p.kind) ?? ''] ?? 'Revenue leak';
  const amount = money(p.leak, p.currency);
  return `${kind}: ${text(p.customerExternalId) ?? 'a customer'}${amount ? `, ${amount} leaked` : ''}`;
}

function leakLines(p: Fields): string[] {
  return [
    ...optional('Customer', text(p.customerExternalId)),
    ...optional('Kind', text(p.kind)),
    ...optional('About', text(p.subject)),
    ...optional('Expected', money(p.expected, p.currency)),
    ...optional('Billed', money(p.billed, p.currency)),
    ...optional('Leak', money(p.leak, p.currency)),
    ...optional('Confidence', text(p.confidence)),
    ...optional('Period', window(p.periodStart, p.periodEnd)),
    ...optional('Finding', text(p.findingId)),
  ];
}

/** One line per reason that lowered confidence, with the factor it applied. */
function leakReasons(p: Fields): string[] {
  const reasons = Array.isArray(p.reasons) ? p.reasons.filter(isRecord) : [];
  return reasons.flatMap((r) => optional('Less certain because', text(r.detail) && `${text(r.detail)} (× ${text(r.factor) ?? '?'})`));
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

/** Kinds sent with Block Kit: the alerts whose amounts a person compares at a glance. */
const BLOCK_KINDS = new Set([...Object.keys(MARGIN_HEADLINES), 'leak.finding']);

/** Detail lines that are not figures: they go to the context line or the buttons instead. */
const NOT_A_FIELD = /^(Period|Open in Ledgerflow|Temporal run|Finding|Less certain because): /;

/**
 * Block Kit for margin alerts and leak findings: a header, the figures as
 * fields (Slack shows at most 10), the period and any reasons as context,
 * and buttons to the entity in the web app and to the Temporal run.
 * undefined for other kinds, which are sent as text only. The text
 * rendering stays the message's `text` (notifications and fallbacks).
 */
export function renderSlackBlocks(n: OutgoingNotification): SlackBlock[] | undefined {
  if (!BLOCK_KINDS.has(n.kind)) return undefined;
  const p: Fields = isRecord(n.payload) ? n.payload : {};
  const { title, lines } = renderNotification(n);
  const mrkdwn = (s: string) => ({ type: 'mrkdwn' as const, text: s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') });
  const fields = lines
    .filter((line) => line.includes(': ') && !NOT_A_FIELD.test(line))
    .slice(0, 10)
    .map((line) => {
      const at = line.indexOf(': ');
      return mrkdwn(`*${line.slice(0, at)}*\n${line.slice(at + 2)}`);
    });
  const blocks: SlackBlock[] = [
    // Slack caps header text at 150 characters.
    { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150) } },
    { type: 'section', fields },
  ];
  const context = lines.filter((line) => /^(Period|Less certain because): /.test(line)).map(mrkdwn);
  if (context.length > 0) blocks.push({ type: 'context', elements: context.slice(0, 10) });
  const buttons = [
    { label: 'Open in Ledgerflow', url: text(p.entityUrl), id: 'open_entity' },
    { label: 'Temporal run', url: text(p.workflowUrl), id: 'open_workflow_run' },
  ].flatMap((b) => (b.url ? [{ type: 'button' as const, text: { type: 'plain_text' as const, text: b.label }, url: b.url, action_id: b.id }] : []));
  if (buttons.length > 0) blocks.push({ type: 'actions', elements: buttons });
  return blocks;
}

/**
 * The HTML part of an email, for every kind: the title as a heading, each
 * "Label: value" line as a row of a table (web links as links), other lines
 * as paragraphs, then the identifying keys. Everything the payload carries
 * is escaped; only http(s) links become anchors.
 */
export function renderHtml(n: OutgoingNotification): string {
  const { title, lines } = renderNotification(n);
  const rows: string[] = [];
  const paragraphs: string[] = [];
  for (const line of lines) {
    const label = /^([A-Z][A-Za-z ()]{0,40}): (.*)$/s.exec(line);
    if (label) rows.push(`<tr><th scope="row" style="text-align:left;padding:4px 12px 4px 0;vertical-align:top">${escapeHtml(label[1]!)}</th><td style="padding:4px 0">${htmlValue(label[2]!)}</td></tr>`);
    else paragraphs.push(`<p>${escapeHtml(line)}</p>`);
  }
  return [
    '<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#1a1a1a">',
    `<h1 style="font-size:18px">${escapeHtml(title)}</h1>`,
    rows.length > 0 ? `<table style="border-collapse:collapse">${rows.join('')}</table>` : '',
    ...paragraphs,
    `<p style="color:#555;font-size:12px">Organization ${escapeHtml(n.organizationId)} · notification ${escapeHtml(n.dedupeKey)}</p>`,
    '</body></html>',
  ].join('\n');
}

function htmlValue(value: string): string {
  return /^https?:\/\/\S+$/.test(value) ? `<a href="${escapeHtml(value)}">${escapeHtml(value)}</a>` : escapeHtml(value);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

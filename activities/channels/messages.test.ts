import { notificationMessageId } from './email';
import { renderNotification, renderPlainText } from '../../billing/notification-messages';
import { slackText } from './slack';
import type { OutgoingNotification } from '../notifier';

const base = { id: 'n1', organizationId: 'org-1', dedupeKey: 'key-1', createdAt: new Date('2026-11-22T00:00:00Z') };
const n = (kind: string, payload: unknown): OutgoingNotification => ({ ...base, kind, payload });
const invoice = { invoiceId: 'inv-1', customerExternalId: 'acme', total: '107.00', currency: 'usd', periodStart: '2026-11-01', periodEnd: '2026-12-01' };

describe('renderNotification', () => {
  it.each([
    ['quota.warning', { customerExternalId: 'acme', eventType: 'llm_call', used: '8.5', limit: '10' }, 'Quota warning: acme is at 85% of its llm_call quota'],
    ['quota.exceeded', { customerExternalId: 'acme', eventType: 'llm_call', used: '12', limit: '10', mode: 'SOFT' }, 'Quota exceeded: acme used 12 of 10 on its llm_call quota'],
    ['invoice.approval_reminder', invoice, 'Invoice awaiting approval: acme, 107.00 USD'],
    ['invoice.uncollectible', invoice, 'Invoice uncollectible: acme, 107.00 USD'],
    ['invoice.auto_approved', invoice, 'Invoice auto-approved: acme, 107.00 USD'],
    ['invoice.overdue', invoice, 'Invoice overdue: acme, 107.00 USD'],
    ['billing_run.failed', { workflowId: 'billing-run:s1:2026-11-01T00:00:00.000Z', step: 'closePeriod', reason: 'unknown currency "xyz"' }, 'Billing run failed: billing-run:s1:2026-11-01T00:00:00.000Z at closePeriod'],
    ['subscription.request_failed', { subscriptionId: 's1', request: 'changePlan', planKey: 'pro' }, 'Subscription request failed: plan change to pro for s1'],
    ['subscription.request_failed', { subscriptionId: 's1', request: 'cancel' }, 'Subscription request failed: cancellation for s1'],
    ['something.else', { a: 1 }, 'Ledgerflow notification: something.else'],
  ])('titles %s', (kind, payload, title) => {
    expect(renderNotification(n(kind, payload)).title).toBe(title);
  });

  it('leaves out fields the producer did not send instead of printing undefined', () => {
    const quota = renderNotification(n('quota.exceeded', {}));
    expect(quota.title).toBe('Quota exceeded: a customer exceeded its quota');
    const reminder = renderNotification(n('invoice.approval_reminder', { invoiceId: 'inv-2' }));
    expect(reminder.title).toBe('Invoice awaiting approval: customer');
    expect(reminder.lines).toEqual(['Invoice: inv-2', 'Approve, adjust or reject it in Ledgerflow.']);
    expect(JSON.stringify([quota, reminder])).not.toMatch(/undefined|null|NaN/);
  });

  it('tells finance why a billing run failed and what to do about it', () => {
    const failed = renderNotification(n('billing_run.failed', { ...invoice, workflowId: 'billing-run:s1:x', step: 'finalizeInvoiceInStripe', reason: 'Stripe refused the invoice item', phase: 'finalizing' }));
    expect(failed.lines.slice(0, 3)).toEqual(['Reason: Stripe refused the invoice item', 'Phase: finalizing', 'Invoice: inv-1']);
    expect(failed.lines.at(-1)).toMatch(/^Nothing more happens in this run until it is retried\. Fix the cause, then retry it from Billing runs/);
    const dropped = renderNotification(n('subscription.request_failed', { subscriptionId: 's1', request: 'changePlan', planKey: 'pro', reason: 'the database refused a value', requestedBy: { type: 'api_key', id: 'k1' } }));
    expect(dropped.lines).toEqual(['Reason: the database refused a value', 'Requested by: api_key k1', 'The request was dropped; the subscription goes on as before. Fix the request and send it again.']);
  });

  it('shows an unknown kind with its whole payload, and tolerates a payload that is not an object', () => {
    expect(renderNotification(n('custom', { nested: { x: [1, 2] } })).lines).toEqual(['kind: custom', 'payload: {"nested":{"x":[1,2]}}']);
    expect(renderNotification(n('custom', null)).lines).toEqual(['kind: custom', 'payload: null']);
    expect(renderNotification(n('quota.warning', 'oops')).title).toBe('Quota warning: a customer is at the warning level of its quota');
  });

  it('says how a sent invoice went overdue and was written off, with the fields the billing run sends', () => {
    expect(renderNotification(n('invoice.overdue', { ...invoice, dueAt: '2027-01-03T12:00:00.000Z', notice: 2, daysOverdue: 1 })).lines).toEqual([
      'Invoice: inv-1',
      'Customer: acme',
      'Total: 107.00 USD',
      'Period: 2026-11-01 – 2026-12-01',
      'Was due: 2027-01-03T12:00:00.000Z',
      'Days overdue: 1',
      'Overdue notice: 2',
      "The customer has not paid the invoice sent to them; Stripe's invoice page takes the payment.",
    ]);
    expect(renderNotification(n('invoice.uncollectible', { ...invoice, dueAt: '2027-01-03T12:00:00.000Z', overdueNotices: 3 })).lines.slice(4)).toEqual([
      'Was due: 2027-01-03T12:00:00.000Z',
      'Overdue notices sent: 3',
      'The customer did not pay the invoice sent to them by the last scheduled day; follow up with the customer.',
    ]);
  });

  it('ends the plain text with the organization and the dedupe key', () => {
    expect(renderPlainText(n('invoice.uncollectible', { ...invoice, attempts: 5, lastDecline: 'insufficient_funds' })).split('\n')).toEqual([
      'Invoice uncollectible: acme, 107.00 USD',
      '',
      'Invoice: inv-1',
      'Customer: acme',
      'Total: 107.00 USD',
      'Period: 2026-11-01 – 2026-12-01',
      'Payment attempts: 5',
      'Last decline: insufficient_funds',
      'Every scheduled payment retry failed; follow up with the customer.',
      '',
      'Organization: org-1',
      'Notification: key-1',
    ]);
  });
});

describe('slackText', () => {
  it('bolds the title and escapes Slack mrkdwn control characters', () => {
    expect(slackText(n('x.y', { note: '<!channel> & co' }))).toBe('*Ledgerflow notification: x.y*\nkind: x.y\npayload: {"note":"&lt;!channel&gt; &amp; co"}');
  });
});

describe('notificationMessageId', () => {
  it('is the same for the same notification, differs per organization and key, and uses the sender domain', () => {
    const id = notificationMessageId({ organizationId: 'org-1', dedupeKey: 'quota:1:acme:2026-11-01T00:00:00.000Z:exceeded' }, 'Ledgerflow <alerts@example.com>');
    expect(id).toMatch(/^<notification\.[0-9a-f]{40}@example\.com>$/);
    expect(notificationMessageId({ organizationId: 'org-1', dedupeKey: 'quota:1:acme:2026-11-01T00:00:00.000Z:exceeded' }, 'alerts@example.com')).toBe(id);
    expect(notificationMessageId({ organizationId: 'org-2', dedupeKey: 'quota:1:acme:2026-11-01T00:00:00.000Z:exceeded' }, 'alerts@example.com')).not.toBe(id);
    expect(notificationMessageId({ organizationId: 'org-1', dedupeKey: 'other' }, 'alerts@example.com')).not.toBe(id);
    expect(notificationMessageId({ organizationId: 'org-1', dedupeKey: 'k' }, 'no address')).toMatch(/@ledgerflow\.invalid>$/);
  });
});

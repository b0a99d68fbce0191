import { renderNotification, renderPlainText, renderSlackBlocks } from './notification-messages';
import type { OutgoingNotification } from './notification-messages';

const n = (kind: string, payload: unknown): OutgoingNotification => ({ id: 'n1', organizationId: 'org-1', kind, dedupeKey: 'margin-alert:a1:1', payload, createdAt: new Date('2026-11-22T00:00:00Z') });
const customer = {
  scope: 'customer',
  scopeKey: 'c-1',
  customerExternalId: 'acme & co',
  currency: 'usd',
  revenue: '100.00',
  cost: '85.00',
  margin: '15.00',
  marginBps: 1500,
  thresholdBps: 2000,
  periodStart: '2026-11-01T00:00:00.000Z',
  periodEnd: '2026-11-23T00:00:00.000Z',
  entityUrl: 'http://127.0.0.1:3000/customers/c-1',
  workflowUrl: 'http://127.0.0.1:8233/namespaces/default/workflows/margin-watch%3Aorg-1/run-1',
};

describe('margin notifications', () => {
  it.each([
    ['margin.below_threshold', customer, 'Margin below threshold: customer acme & co, margin 15.00 %'],
    ['margin.negative', { ...customer, margin: '-5.25', marginBps: -525 }, 'Negative margin: customer acme & co, margin -5.25 %'],
    ['margin.negative', { ...customer, revenue: '0.00', cost: '3.00', margin: '-3.00', marginBps: null }, 'Negative margin: customer acme & co, margin -3.00 USD (no revenue)'],
    ['margin.worsened', { ...customer, marginBps: 905, previousBps: 1500 }, 'Margin worsened: customer acme & co, margin 9.05 %, down from 15.00 %'],
    ['margin.resolved', { ...customer, scope: 'feature', feature: 'chat', marginBps: 2000 }, 'Margin recovered: feature chat, margin 20.00 %'],
    ['margin.resolved', { ...customer, scope: 'feature', feature: '', marginBps: 9000 }, 'Margin recovered: revenue and events without a feature, margin 90.00 %'],
  ])('titles %s', (kind, payload, title) => {
    expect(renderNotification(n(kind, payload)).title).toBe(title);
  });

  it('plain text (email) carries the amounts, the period and both links', () => {
    const text = renderPlainText(n('margin.below_threshold', customer));
    for (const line of ['Revenue: 100.00 USD', 'Cost: 85.00 USD', 'Margin: 15.00 USD', 'Margin (bps): 1500', 'Threshold (bps): 2000', `Open in Ledgerflow: ${customer.entityUrl}`, `Temporal run: ${customer.workflowUrl}`]) {
      expect(text).toContain(line);
    }
    expect(text).toContain('Period: 2026-11-01T00:00:00.000Z – 2026-11-23T00:00:00.000Z');
    expect(renderPlainText(n('margin.negative', { ...customer, marginBps: null }))).toContain('Margin (bps): n/a (no revenue)');
  });

  it('Block Kit: header, escaped amount fields, period, and buttons to the entity and the run', () => {
    expect(renderSlackBlocks(n('margin.below_threshold', customer))).toEqual([
      { type: 'header', text: { type: 'plain_text', text: 'Margin below threshold: customer acme & co, margin 15.00 %' } },
      {
        type: 'section',
        fields: ['*Revenue*\n100.00 USD', '*Cost*\n85.00 USD', '*Margin*\n15.00 USD', '*Margin (bps)*\n1500', '*Threshold (bps)*\n2000'].map((text) => ({ type: 'mrkdwn', text })),
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'Period: 2026-11-01T00:00:00.000Z – 2026-11-23T00:00:00.000Z' }] },
      {
        type: 'actions',
        elements: [
          { type: 'button', text: { type: 'plain_text', text: 'Open in Ledgerflow' }, url: customer.entityUrl, action_id: 'open_entity' },
          { type: 'button', text: { type: 'plain_text', text: 'Temporal run' }, url: customer.workflowUrl, action_id: 'open_workflow_run' },
        ],
      },
    ]);
  });

  it('without links there are no buttons; other kinds have no blocks', () => {
    const blocks = renderSlackBlocks(n('margin.resolved', { ...customer, entityUrl: undefined, workflowUrl: null }));
    expect(blocks?.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    expect(renderSlackBlocks(n('quota.warning', { customerExternalId: 'acme' }))).toBeUndefined();
  });
});

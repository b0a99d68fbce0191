import { renderHtml, renderNotification, renderSlackBlocks } from './notification-messages';
import type { OutgoingNotification } from './notification-messages';

const finding = {
  findingId: 'f-1',
  kind: 'missed_overage',
  subject: 'api_calls',
  customerExternalId: 'acme <&> co',
  periodStart: '2024-11-01T00:00:00.000Z',
  periodEnd: '2024-12-01T00:00:00.000Z',
  expected: '22.00',
  billed: '10.00',
  leak: '12.00',
  currency: 'usd',
  confidence: '0.600',
  reasons: [
    { code: 'late_events', detail: '2 of 4 events arrived after the period closed', factor: '0.750' },
    { code: 'no_stripe_mapping', detail: 'the customer has no Stripe customer id', factor: '0.800' },
  ],
  entityUrl: 'http://web.test/leaks?finding=f-1#finding-f-1',
  workflowUrl: 'http://temporal.test/namespaces/default/workflows/reconcile%3Ao%3A2024-11-01/run-1',
};
const n = (payload: unknown, kind = 'leak.finding'): OutgoingNotification => ({ id: 'n1', organizationId: 'org-1', dedupeKey: 'leak:f-1:notification', createdAt: new Date(), kind, payload });

describe('leak.finding messages', () => {
  it('titles the kind, customer and leak; lists the amounts, confidence, each reason and the links', () => {
    const { title, lines } = renderNotification(n(finding));
    expect(title).toBe('Missed overage: acme <&> co, 12.00 USD leaked');
    expect(lines).toEqual([
      'Customer: acme <&> co',
      'Kind: missed_overage',
      'About: api_calls',
      'Expected: 22.00 USD',
      'Billed: 10.00 USD',
      'Leak: 12.00 USD',
      'Confidence: 0.600',
      'Period: 2024-11-01T00:00:00.000Z – 2024-12-01T00:00:00.000Z',
      'Finding: f-1',
      'Less certain because: 2 of 4 events arrived after the period closed (× 0.750)',
      'Less certain because: the customer has no Stripe customer id (× 0.800)',
      `Open in Ledgerflow: ${finding.entityUrl}`,
      `Temporal run: ${finding.workflowUrl}`,
    ]);
  });

  it('Block Kit: header, escaped figures, period and reasons as context, buttons to the finding and the run', () => {
    const blocks = renderSlackBlocks(n(finding))!;
    expect(blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Missed overage: acme <&> co, 12.00 USD leaked' } });
    expect(blocks[1]).toEqual({
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: '*Customer*\nacme &lt;&amp;&gt; co' },
        { type: 'mrkdwn', text: '*Kind*\nmissed_overage' },
        { type: 'mrkdwn', text: '*About*\napi_calls' },
        { type: 'mrkdwn', text: '*Expected*\n22.00 USD' },
        { type: 'mrkdwn', text: '*Billed*\n10.00 USD' },
        { type: 'mrkdwn', text: '*Leak*\n12.00 USD' },
        { type: 'mrkdwn', text: '*Confidence*\n0.600' },
      ],
    });
    expect(blocks[2]).toEqual({
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: 'Period: 2024-11-01T00:00:00.000Z – 2024-12-01T00:00:00.000Z' },
        { type: 'mrkdwn', text: 'Less certain because: 2 of 4 events arrived after the period closed (× 0.750)' },
        { type: 'mrkdwn', text: 'Less certain because: the customer has no Stripe customer id (× 0.800)' },
      ],
    });
    expect(blocks[3]).toEqual({
      type: 'actions',
      elements: [
        { type: 'button', text: { type: 'plain_text', text: 'Open in Ledgerflow' }, url: finding.entityUrl, action_id: 'open_entity' },
        { type: 'button', text: { type: 'plain_text', text: 'Temporal run' }, url: finding.workflowUrl, action_id: 'open_workflow_run' },
      ],
    });
  });

  it('a finding without links or reasons has no context reasons and no buttons', () => {
    const blocks = renderSlackBlocks(n({ ...finding, reasons: [], entityUrl: undefined, workflowUrl: null }))!;
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
  });
});

describe('HTML email', () => {
  it('escapes every value, puts the figures in a table and links only http(s) URLs', () => {
    const html = renderHtml(n(finding));
    expect(html).toContain('<h1 style="font-size:18px">Missed overage: acme &lt;&amp;&gt; co, 12.00 USD leaked</h1>');
    expect(html).toContain('<th scope="row" style="text-align:left;padding:4px 12px 4px 0;vertical-align:top">Leak</th><td style="padding:4px 0">12.00 USD</td>');
    expect(html).toContain(`<a href="${finding.entityUrl}">${finding.entityUrl}</a>`);
    expect(html).not.toContain('acme <&>');
    const hostile = renderHtml(n({ ...finding, customerExternalId: '<script>alert(1)</script>', entityUrl: 'javascript:alert(1)' }));
    expect(hostile).not.toMatch(/<script>|href="javascript:/);
    expect(hostile).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('renders every kind, sentences as paragraphs', () => {
    const html = renderHtml(n({ invoiceId: 'inv-1', total: '5.00', currency: 'eur' }, 'invoice.approval_reminder'));
    expect(html).toContain('<p>Approve, adjust or reject it in Ledgerflow.</p>');
    expect(html).toContain('>Total</th><td style="padding:4px 0">5.00 EUR</td>');
  });
});

import { decideCollection, dueDateAt, sentInvoiceCheckpoints } from './collection';

const NOW = new Date('2026-12-04T12:00:00.000Z');

describe('decideCollection', () => {
  it('charges a customer whose invoices already have a default payment method', () => {
    expect(decideCollection('auto', { kind: 'default' })).toEqual({ method: 'charge_automatically', makeDefault: null });
  });

  it('charges a card saved through Checkout after making it the invoice default', () => {
    expect(decideCollection('auto', { kind: 'attached', paymentMethodId: 'pm_1' })).toEqual({ method: 'charge_automatically', makeDefault: 'pm_1' });
  });

  it('sends the invoice to a customer with no card', () => {
    expect(decideCollection('auto', { kind: 'none' })).toEqual({ method: 'send_invoice', makeDefault: null });
  });

  it('sends every invoice when the organization says so, card or not', () => {
    expect(decideCollection('send_invoice', { kind: 'default' })).toEqual({ method: 'send_invoice', makeDefault: null });
    expect(decideCollection('send_invoice', { kind: 'attached', paymentMethodId: 'pm_1' })).toEqual({ method: 'send_invoice', makeDefault: null });
  });
});

describe('dueDateAt', () => {
  it('is the organization\'s days after finalization, in whole seconds as Stripe keeps them', () => {
    expect(dueDateAt(NOW, 14)).toEqual(new Date('2026-12-18T12:00:00.000Z'));
    expect(dueDateAt(new Date('2026-12-04T12:00:00.999Z'), 1)).toEqual(new Date('2026-12-05T12:00:00.000Z'));
  });
});

describe('sentInvoiceCheckpoints', () => {
  it('looks at the due date, then at each retry day counted from it', () => {
    const due = Date.parse('2027-01-03T12:00:00.000Z');
    expect(sentInvoiceCheckpoints(due, [1, 3]).map((ms) => new Date(ms).toISOString())).toEqual(['2027-01-03T12:00:00.000Z', '2027-01-04T12:00:00.000Z', '2027-01-06T12:00:00.000Z']);
  });
});

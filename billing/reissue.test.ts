import { dec } from './decimal';
import type { InvoiceStatus } from './invoice-status';
import { planReissue, type ReissueCandidate } from './reissue';

const invoice = (status: InvoiceStatus, over: Partial<ReissueCandidate> = {}): ReissueCandidate => ({
  id: 'inv-1', kind: 'period', status, latest: true, total: dec('82.00'), credited: dec('0'), pendingCredits: 0, recoveries: [], ...over,
});

describe('planReissue', () => {
  it('re-issues a rejected or void invoice as it stands: it never billed', () => {
    expect(planReissue(invoice('rejected'))).toEqual({ ok: true, voidFirst: false });
    expect(planReissue(invoice('void'))).toEqual({ ok: true, voidFirst: false });
  });

  it('voids a finalized or uncollectible invoice in Stripe first when it has no credit note', () => {
    expect(planReissue(invoice('uncollectible'))).toEqual({ ok: true, voidFirst: true });
    expect(planReissue(invoice('finalized'))).toEqual({ ok: true, voidFirst: true });
  });

  it('re-issues an invoice credited in full, paid or not, without voiding it', () => {
    expect(planReissue(invoice('paid', { credited: dec('82.00') }))).toEqual({ ok: true, voidFirst: false });
    expect(planReissue(invoice('uncollectible', { credited: dec('82.00') }))).toEqual({ ok: true, voidFirst: false });
    // settled at zero: nothing was charged, so nothing is owed
    expect(planReissue(invoice('paid', { total: dec('0') }))).toEqual({ ok: true, voidFirst: false });
  });

  it('refuses a paid invoice not credited in full, naming what is left to do', () => {
    const plan = planReissue(invoice('paid', { credited: dec('10.00') }));
    expect(plan).toEqual({ ok: false, reason: 'invoice inv-1 is paid and credited 10 of 82; credit it in full first (a credit note), then re-issue' });
    expect(planReissue(invoice('paid'))).toMatchObject({ ok: false });
    expect(planReissue(invoice('finalized', { credited: dec('1.00') }))).toMatchObject({ ok: false });
  });

  it('waits for a credit note being issued', () => {
    expect(planReissue(invoice('paid', { credited: dec('82.00'), pendingCredits: 1 }))).toMatchObject({ ok: false, reason: expect.stringContaining('still being issued') });
  });

  it('refuses while a recovery invoice of the period still bills part of it; one rejected or credited in full is no obstacle', () => {
    const recovery = (status: InvoiceStatus, credited = '0') => ({ id: 'rec-1', status, total: dec('12.00'), credited: dec(credited), pendingCredits: 0 });
    for (const status of ['draft', 'approved', 'finalized', 'paid'] as const) {
      expect(planReissue(invoice('void', { recoveries: [recovery(status)] }))).toMatchObject({ ok: false, reason: expect.stringContaining('recovery invoice rec-1') });
    }
    expect(planReissue(invoice('void', { recoveries: [recovery('rejected')] }))).toEqual({ ok: true, voidFirst: false });
    expect(planReissue(invoice('void', { recoveries: [recovery('paid', '12.00')] }))).toEqual({ ok: true, voidFirst: false });
  });

  it('refuses drafts, approved and written-off invoices, recovery invoices and earlier revisions', () => {
    for (const status of ['draft', 'approved', 'written_off'] as const) expect(planReissue(invoice(status))).toMatchObject({ ok: false });
    expect(planReissue(invoice('void', { kind: 'recovery' }))).toMatchObject({ ok: false, reason: expect.stringContaining('recovery') });
    expect(planReissue(invoice('void', { latest: false }))).toMatchObject({ ok: false, reason: expect.stringContaining('latest revision') });
  });
});

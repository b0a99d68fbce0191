import { creditNoteAmount, CreditNoteRefused } from './credit-notes';
import { dec } from './decimal';

const note = (total: string, credited: string, requested: string | null, currency = 'usd') =>
  creditNoteAmount({ invoiceTotal: dec(total), alreadyCredited: dec(credited), requested: requested === null ? null : dec(requested), currency });

describe('creditNoteAmount', () => {
  it('credits what is left when no amount is asked (a full credit note)', () => {
    expect(note('137.00', '0', null).toFixed(2)).toBe('137.00');
    expect(note('137.00', '37.00', null).toFixed(2)).toBe('100.00');
  });

  it('credits a part, up to what is left', () => {
    expect(note('137.00', '37.00', '100').toFixed(2)).toBe('100.00');
    expect(note('137.00', '0', '0.01').toFixed(2)).toBe('0.01');
  });

  it('refuses more than is left, naming the amount field', () => {
    expect(() => note('137.00', '37.00', '100.01')).toThrow(/100\.01 is more than the 100\.00 left/);
    expect(() => note('137.00', '37.00', '100.01')).toThrow(CreditNoteRefused);
    try {
      note('137.00', '37.00', '100.01');
    } catch (err) {
      expect((err as CreditNoteRefused).field).toBe('amount');
    }
  });

  it('refuses zero, negative and sub-minor-unit amounts', () => {
    expect(() => note('10.00', '0', '0')).toThrow(/more than zero/);
    expect(() => note('10.00', '0', '-1')).toThrow(/more than zero/);
    expect(() => note('10.00', '0', '1.005')).toThrow(/more decimals than USD has \(2\)/);
    expect(() => note('1000', '0', '1.5', 'jpy')).toThrow(/more decimals than JPY has \(0\)/);
  });

  it('refuses a note on an invoice credited in full', () => {
    expect(() => note('10.00', '10.00', null)).toThrow(/credited in full already/);
  });
});

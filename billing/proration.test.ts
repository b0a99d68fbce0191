import { dec } from './decimal';
import { formatMoney } from './currency';
import { prorate, utcDaysBetween } from './proration';

const d = (s: string): Date => new Date(s);

describe('proration', () => {
  it('the public example: 30 → 60 on Nov 21 of Nov 1–Dec 1 credits 10.00 and charges 20.00', () => {
    const p = prorate({ periodStart: d('2024-11-01'), periodEnd: d('2024-12-01'), changeAt: d('2024-11-21'), fromAmount: dec(30), toAmount: dec(60), currency: 'usd' });
    expect([formatMoney(p.credit, 'usd'), formatMoney(p.charge, 'usd'), formatMoney(p.net, 'usd')]).toEqual(['-10.00', '20.00', '10.00']);
    expect([p.remaining, p.total]).toEqual([10, 30]);
  });

  it('counts the change day as remaining and uses UTC calendar days', () => {
    expect(utcDaysBetween(d('2024-11-30T23:59:59Z'), d('2024-12-01T00:00:00Z'))).toBe(1);
    const p = prorate({ periodStart: d('2024-02-01'), periodEnd: d('2024-03-01'), changeAt: d('2024-02-29T18:00:00Z'), fromAmount: dec(29), toAmount: dec(0), currency: 'usd' });
    expect(formatMoney(p.credit, 'usd')).toBe('-1.00');
  });

  it('a new start (from 0) has a zero credit, printed as 0.00, never -0.00', () => {
    const p = prorate({ periodStart: d('2024-11-01'), periodEnd: d('2024-12-01'), changeAt: d('2024-11-16'), fromAmount: dec(0), toAmount: dec(100), currency: 'usd' });
    expect(formatMoney(p.credit, 'usd')).toBe('0.00');
    expect(formatMoney(p.charge, 'usd')).toBe('50.00');
  });

  it('rounds credit and charge each on its own, half away from zero', () => {
    // 1/3 of 10.00 = 3.333… → -3.33 and 3.33; 1/3 of 0.05 = 0.01666… → 0.02
    const p = prorate({ periodStart: d('2024-01-01'), periodEnd: d('2024-01-04'), changeAt: d('2024-01-03'), fromAmount: dec(10), toAmount: dec('0.05'), currency: 'usd' });
    expect([p.credit.toFixed(2), p.charge.toFixed(2)]).toEqual(['-3.33', '0.02']);
  });

  it('second mode prorates to the second', () => {
    const p = prorate({ periodStart: d('2024-11-01'), periodEnd: d('2024-11-02'), changeAt: d('2024-11-01T18:00:00Z'), fromAmount: dec(24), toAmount: dec(48), currency: 'usd', mode: 'second' });
    expect([p.credit.toFixed(2), p.charge.toFixed(2)]).toEqual(['-6.00', '12.00']);
  });

  it('never credits or charges more than the full fees, for every change day of a year', () => {
    const start = d('2024-01-01');
    const end = d('2025-01-01');
    for (let day = 0; day < 366; day++) {
      const changeAt = new Date(start.getTime() + day * 86_400_000);
      const p = prorate({ periodStart: start, periodEnd: end, changeAt, fromAmount: dec('999.99'), toAmount: dec('0.01'), currency: 'usd' });
      expect(p.credit.abs().lte(dec('999.99'))).toBe(true);
      expect(p.charge.lte(dec('0.01'))).toBe(true);
      expect(p.credit.lte(0) && p.charge.gte(0)).toBe(true);
    }
  });

  it('rejects a period shorter than one unit instead of dividing by zero', () => {
    const sameDay = { periodStart: d('2024-11-01T01:00:00Z'), periodEnd: d('2024-11-01T23:00:00Z'), changeAt: d('2024-11-01T12:00:00Z'), fromAmount: dec(30), toAmount: dec(60), currency: 'usd' };
    expect(() => prorate(sameDay)).toThrow(expect.objectContaining({ field: 'period_end' }));
    expect(() => prorate({ ...sameDay, periodEnd: d('2024-11-01T01:00:00.500Z'), changeAt: d('2024-11-01T01:00:00.100Z'), mode: 'second' })).toThrow(expect.objectContaining({ field: 'period_end' }));
  });

  it('rejects a change outside the period, naming the field', () => {
    expect(() => prorate({ periodStart: d('2024-11-01'), periodEnd: d('2024-12-01'), changeAt: d('2024-12-01'), fromAmount: dec(1), toAmount: dec(1), currency: 'usd' })).toThrow(expect.objectContaining({ field: 'change_at' }));
  });
});

import { dec, toPlainString } from './decimal';
import { admitUnderLimit, quotaLevel, remaining, type QuotaPolicy } from './quota';

const now = new Date('2026-03-10T12:00:00Z');
const secondsAgo = (s: number) => new Date(now.getTime() - s * 1000);
const hard: QuotaPolicy = { mode: 'HARD', limit: '10', softWarningPercent: 80, gracePeriodSeconds: 0 };
const qs = (...values: string[]) => values.map((v) => dec(v));

describe('admitUnderLimit', () => {
  it('HARD admits while usage stays within the limit, in order', () => {
    const { admitted, state } = admitUnderLimit(hard, { used: dec(8), limitReachedAt: null }, qs('1', '1', '1'), now);
    expect(admitted).toEqual([true, true, false]);
    expect(toPlainString(state.used)).toBe('10');
    expect(state.limitReachedAt).toEqual(now);
  });

  it('HARD skips an event that does not fit but admits a later smaller one', () => {
    const { admitted, state } = admitUnderLimit(hard, { used: dec(8), limitReachedAt: null }, qs('5', '1.5'), now);
    expect(admitted).toEqual([false, true]);
    expect(toPlainString(state.used)).toBe('9.5');
    // The limit counts as reached once an event was turned away.
    expect(state.limitReachedAt).toEqual(now);
  });

  it('HARD counts decimals exactly at the limit', () => {
    const { admitted } = admitUnderLimit({ ...hard, limit: '0.3' }, { used: dec('0.1'), limitReachedAt: null }, qs('0.2', '0.000001'), now);
    expect(admitted).toEqual([true, false]);
  });

  it('HARD keeps admitting during the grace period after the limit was reached', () => {
    const graced = { ...hard, gracePeriodSeconds: 60 };
    const { admitted, state } = admitUnderLimit(graced, { used: dec(10), limitReachedAt: secondsAgo(59) }, qs('3'), now);
    expect(admitted).toEqual([true]);
    expect(toPlainString(state.used)).toBe('13');
    expect(state.limitReachedAt).toEqual(secondsAgo(59));
  });

  it('HARD rejects once the grace period has run out (the end is exclusive)', () => {
    const graced = { ...hard, gracePeriodSeconds: 60 };
    expect(admitUnderLimit(graced, { used: dec(10), limitReachedAt: secondsAgo(60) }, qs('1'), now).admitted).toEqual([false]);
  });

  it('HARD starts the grace period when an event first goes over', () => {
    const graced = { ...hard, gracePeriodSeconds: 60 };
    const { admitted, state } = admitUnderLimit(graced, { used: dec(9), limitReachedAt: null }, qs('5'), now);
    expect(admitted).toEqual([true]);
    expect(state.limitReachedAt).toEqual(now);
  });

  it('HARD without a grace period refuses even when the limit was reached by a clock ahead of ours', () => {
    const ahead = new Date(now.getTime() + 2_000);
    expect(admitUnderLimit(hard, { used: dec(10), limitReachedAt: ahead }, qs('1'), now).admitted).toEqual([false]);
  });

  it('SOFT and DISABLED admit everything but still count', () => {
    for (const mode of ['SOFT', 'DISABLED'] as const) {
      const { admitted, state } = admitUnderLimit({ ...hard, mode }, { used: dec(9), limitReachedAt: null }, qs('5', '5'), now);
      expect(admitted).toEqual([true, true]);
      expect(toPlainString(state.used)).toBe('19');
      expect(state.limitReachedAt).toEqual(now);
    }
  });
});

describe('quotaLevel', () => {
  const policy = { limit: '100', softWarningPercent: 80 };

  it('is null below the warning percent', () => {
    expect(quotaLevel(policy, dec('79.999999'))).toBeNull();
    expect(quotaLevel(policy, dec(0))).toBeNull();
  });

  it('warns from the warning percent up to the limit', () => {
    expect(quotaLevel(policy, dec(80))).toBe('warning');
    expect(quotaLevel(policy, dec('99.999999'))).toBe('warning');
  });

  it('is exceeded at and above the limit', () => {
    expect(quotaLevel(policy, dec(100))).toBe('exceeded');
    expect(quotaLevel(policy, dec(250))).toBe('exceeded');
  });

  it('computes the warning threshold of a fractional limit exactly', () => {
    expect(quotaLevel({ limit: '10.5', softWarningPercent: 80 }, dec('8.399999'))).toBeNull();
    expect(quotaLevel({ limit: '10.5', softWarningPercent: 80 }, dec('8.4'))).toBe('warning');
  });
});

describe('remaining', () => {
  it('is the limit minus usage, never negative', () => {
    expect(toPlainString(remaining('100', dec('30.5')))).toBe('69.5');
    expect(toPlainString(remaining('100', dec(120)))).toBe('0');
  });
});

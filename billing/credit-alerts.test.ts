import { dec } from './decimal';
import { creditAlertKey, creditAlertLevel } from './credit-alerts';

describe('creditAlertLevel', () => {
  it('says exhausted when nothing is left, whatever the threshold', () => {
    expect(creditAlertLevel({ after: dec(0), threshold: dec(100) })).toBe('exhausted');
    expect(creditAlertLevel({ after: dec(0), threshold: null })).toBe('exhausted');
  });

  it('says low at or below the threshold, to the last decimal, and nothing above it or without one', () => {
    expect(creditAlertLevel({ after: dec('100'), threshold: dec(100) })).toBe('low_balance');
    expect(creditAlertLevel({ after: dec('0.000001'), threshold: dec(100) })).toBe('low_balance');
    expect(creditAlertLevel({ after: dec('100.000001'), threshold: dec(100) })).toBeNull();
    expect(creditAlertLevel({ after: dec('3'), threshold: null })).toBeNull();
    // a threshold of 0: only exhaustion alerts
    expect(creditAlertLevel({ after: dec('0.5'), threshold: dec(0) })).toBeNull();
  });
});

describe('creditAlertKey', () => {
  it('is one per wallet, level and newest grant: a new grant starts a new episode', () => {
    expect(creditAlertKey('low_balance', 'w1', 'g1')).toBe('credits.low_balance:w1:g1');
    expect(creditAlertKey('low_balance', 'w1', 'g2')).not.toBe(creditAlertKey('low_balance', 'w1', 'g1'));
    expect(creditAlertKey('exhausted', 'w1', 'g1')).not.toBe(creditAlertKey('low_balance', 'w1', 'g1'));
    expect(creditAlertKey('exhausted', 'w1', null)).toBe('credits.exhausted:w1:no-grant');
  });
});

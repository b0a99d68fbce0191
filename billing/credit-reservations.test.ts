import fc from 'fast-check';
import { dec } from './decimal';
import { settleHold } from './credit-reservations';

const hold = [
  { grantId: 'a', credits: dec(3) },
  { grantId: 'b', credits: dec('2.5') },
];
const plain = (s: ReturnType<typeof settleHold>) => ({ commits: s.commits.map((c) => [c.grantId, c.credits.toFixed()]), excess: s.excess.toFixed() });

describe('settleHold', () => {
  it('commits what the event used from the hold\'s grants in order, and releases the rest', () => {
    expect(plain(settleHold(hold, dec(4)))).toEqual({ commits: [['a', '3'], ['b', '1']], excess: '0' });
    expect(plain(settleHold(hold, dec('5.5')))).toEqual({ commits: [['a', '3'], ['b', '2.5']], excess: '0' });
  });

  it('burns what the event used beyond the hold as excess, and commits nothing for a release', () => {
    expect(plain(settleHold(hold, dec(7)))).toEqual({ commits: [['a', '3'], ['b', '2.5']], excess: '1.5' });
    expect(plain(settleHold(hold, dec(0)))).toEqual({ commits: [], excess: '0' });
    expect(() => settleHold(hold, dec(-1))).toThrow(RangeError);
  });

  it('never commits more from a grant than it held, and commits plus excess is what was used', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 0, maxLength: 5 }), fc.integer({ min: 0, max: 60_000 }), (held, used) => {
        const draws = held.map((c, i) => ({ grantId: `g${i}`, credits: dec(c).div(100) }));
        const s = settleHold(draws, dec(used).div(100));
        s.commits.forEach((c, i) => expect(c.credits.lte(draws[i]!.credits)).toBe(true));
        expect(s.commits.reduce((sum, c) => sum.plus(c.credits), s.excess).eq(dec(used).div(100))).toBe(true);
        const total = draws.reduce((sum, d) => sum.plus(d.credits), dec(0));
        expect(s.excess.eq(dec(used).div(100).minus(total).clampedTo(0, Infinity))).toBe(true);
      }),
    );
  });
});

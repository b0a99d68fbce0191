import fc from 'fast-check';
import {
  allocateUncovered,
  billableUnits,
  burnOrder,
  eventBurn,
  eventMicroCredits,
  fromMicroCredits,
  judgeCredits,
  planBurn,
  walletBalance,
  type BurnableEvent,
  type BurnRate,
  type GrantBalance,
  type StoredBurnableEvent,
} from './credit-burn';
import { dec, Dec } from './decimal';

const now = new Date('2026-06-15T12:00:00Z');
const at = (s: string) => new Date(s);

const grant = (id: string, over: Partial<GrantBalance> = {}): GrantBalance => ({
  id,
  priority: 100,
  expiresAt: null,
  createdAt: at('2026-01-01T00:00:00Z'),
  balance: dec(100),
  ...over,
});

describe('burnOrder', () => {
  it('priority first, then the soonest expiry (never-expiring last), then the oldest; expired and empty grants are skipped', () => {
    const grants = [
      grant('never-old', { createdAt: at('2025-01-01T00:00:00Z') }),
      grant('never-new', { createdAt: at('2026-03-01T00:00:00Z') }),
      grant('expires-july', { expiresAt: at('2026-07-01T00:00:00Z') }),
      grant('expires-june', { expiresAt: at('2026-06-30T00:00:00Z') }),
      grant('promo-first', { priority: 10, expiresAt: null }),
      grant('expired', { priority: 1, expiresAt: now }),
      grant('empty', { priority: 1, balance: dec(0) }),
    ];
    expect(burnOrder(grants, now).map((g) => g.id)).toEqual(['promo-first', 'expires-june', 'expires-july', 'never-old', 'never-new']);
  });
});

describe('planBurn', () => {
  it('draws each grant down to zero before the next, and reports what no grant covers', () => {
    const grants = [grant('a', { balance: dec('2.5'), priority: 1 }), grant('b', { balance: dec(10), priority: 2 })];
    expect(planBurn(grants, dec(4), now)).toEqual({ draws: [{ grantId: 'a', credits: dec('2.5') }, { grantId: 'b', credits: dec('1.5') }], uncovered: dec(0) });
    expect(planBurn(grants, dec(20), now)).toEqual({ draws: [{ grantId: 'a', credits: dec('2.5') }, { grantId: 'b', credits: dec(10) }], uncovered: dec('7.5') });
    expect(planBurn([], dec(3), now)).toEqual({ draws: [], uncovered: dec(3) });
    expect(planBurn(grants, dec(0), now)).toEqual({ draws: [], uncovered: dec(0) });
  });

  it('refuses a negative burn', () => {
    expect(() => planBurn([grant('a')], dec(-1), now)).toThrow('negative');
  });

  const arbGrant = fc.record({
    id: fc.uuid(),
    priority: fc.integer({ min: 0, max: 3 }),
    expiresAt: fc.option(fc.integer({ min: -5, max: 5 }).map((d) => new Date(now.getTime() + d * 86_400_000)), { nil: null }),
    createdAt: fc.integer({ min: 0, max: 1000 }).map((d) => new Date(now.getTime() - d * 60_000)),
    balance: fc.integer({ min: 0, max: 1_000_000 }).map((n) => dec(n).div(1000)),
  });

  it('property: the draws and the uncovered rest add up to the burn exactly; no grant gives more than it holds; expired and empty grants give nothing', () => {
    fc.assert(
      fc.property(fc.uniqueArray(arbGrant, { selector: (g) => g.id, maxLength: 8 }), fc.integer({ min: 0, max: 5_000_000 }), (grants, milli) => {
        const credits = dec(milli).div(1000);
        const plan = planBurn(grants, credits, now);
        const drawn = plan.draws.reduce((s, d) => s.plus(d.credits), dec(0));
        expect(drawn.plus(plan.uncovered).eq(credits)).toBe(true);
        expect(plan.uncovered.gte(0)).toBe(true);
        for (const d of plan.draws) {
          const g = grants.find((x) => x.id === d.grantId)!;
          expect(d.credits.gt(0) && d.credits.lte(g.balance)).toBe(true);
          expect(g.expiresAt === null || g.expiresAt > now).toBe(true);
        }
        // Something is uncovered only when every spendable credit was drawn.
        if (plan.uncovered.gt(0)) expect(drawn.eq(walletBalance(grants, now))).toBe(true);
      }),
    );
  });

  it('property: burn order is honoured: every grant drawn before the last one is drawn in full, and no grant later in the order is drawn', () => {
    fc.assert(
      fc.property(fc.uniqueArray(arbGrant, { selector: (g) => g.id, maxLength: 8 }), fc.integer({ min: 0, max: 5_000_000 }), (grants, milli) => {
        const plan = planBurn(grants, dec(milli).div(1000), now);
        const order = burnOrder(grants, now).map((g) => g.id);
        expect(plan.draws.map((d) => d.grantId)).toEqual(order.slice(0, plan.draws.length));
        for (const d of plan.draws.slice(0, -1)) expect(d.credits.eq(grants.find((g) => g.id === d.grantId)!.balance)).toBe(true);
      }),
    );
  });
});

describe('eventBurn', () => {
  const from = new Date('2026-01-01T00:00:00Z');
  const rate = (over: Partial<BurnRate>): BurnRate => ({
    meterId: 'tokens',
    eventType: 'llm',
    aggregation: 'sum',
    dimension: 'model',
    dimensionValue: null,
    credits: dec(1),
    perUnits: dec(1000),
    effectiveFrom: from,
    effectiveTo: null,
    ...over,
  });
  const rates = [
    rate({}),
    rate({ dimensionValue: 'gpt-4o', credits: dec(5) }),
    rate({ meterId: 'calls', aggregation: 'count', dimension: null, credits: dec('0.5'), perUnits: dec(1), effectiveTo: new Date('2026-06-01T00:00:00Z') }),
    rate({ meterId: 'images', eventType: 'image', aggregation: 'count', dimension: null, credits: dec(3), perUnits: dec(1) }),
  ];
  const event = (over: Partial<BurnableEvent>) => ({ eventType: 'llm', quantity: dec(2000), timestamp: now, dimensions: { model: 'gpt-4o' }, ...over });

  const day = (n: number) => new Date(Date.UTC(2026, 0, 1 + n));
  // A meter has one event type, one aggregation and one dimension, as in the meters table.
  const meters = {
    tokens: { eventType: 'llm', aggregation: 'sum' as const, dimension: 'model' },
    calls: { eventType: 'llm', aggregation: 'count' as const, dimension: null },
    seconds: { eventType: 'llm', aggregation: 'sum' as const, dimension: null },
    requests: { eventType: 'llm', aggregation: 'count' as const, dimension: null },
    images: { eventType: 'image', aggregation: 'count' as const, dimension: null },
  };
  /** Random burn tables: versions in time, own values and defaults, rates of 0, per_units that are and are not powers of ten. */
  const arbTable = fc
    .array(
      fc.record({
        meterId: fc.constantFrom('tokens' as const, 'calls' as const, 'seconds' as const, 'requests' as const, 'images' as const),
        dimensionValue: fc.constantFrom(null, 'a', 'b'),
        credits: fc.constantFrom('0', '1', '0.5', '5', '7', '0.000001', '0.0025', '12.345678', '0.000031', '0.000223'),
        perUnits: fc.constantFrom('1', '3', '7', '13', '30', '1000', '0.3', '0.01', '100', '1000000', '0.000007'),
        from: fc.integer({ min: 0, max: 20 }),
        span: fc.option(fc.integer({ min: 1, max: 20 })),
      }),
      { maxLength: 10 },
    )
    .map((raw): BurnRate[] =>
      raw.map((r) => ({
        meterId: r.meterId,
        ...meters[r.meterId],
        dimensionValue: meters[r.meterId].dimension ? r.dimensionValue : null,
        credits: dec(r.credits),
        perUnits: dec(r.perUnits),
        effectiveFrom: day(r.from),
        effectiveTo: r.span === null ? null : day(r.from + r.span),
      })),
    );

  /** An exact fraction of a decimal's digits: "0.25" → 25 / 100. */
  const fraction = (d: Dec): [bigint, bigint] => {
    const [whole, decimals = ''] = d.toFixed().split('.');
    return [BigInt(whole + decimals), 10n ** BigInt(decimals.length)];
  };
  /**
   * The rule as the README states it, in exact fractions, without eventBurn's lookup table: per meter of the
   * event's type the rates in effect, the value's own before the default, units × credits ÷ per_units; the sum
   * rounded to 6 decimals, half up.
   */
  const literal = (table: readonly BurnRate[], e: BurnableEvent) => {
    let [num, den] = [0n, 1n];
    const meterIds: string[] = [];
    for (const meterId of new Set(table.filter((r) => r.eventType === e.eventType).map((r) => r.meterId))) {
      const current = table.filter((r) => r.meterId === meterId && r.effectiveFrom <= e.timestamp && (r.effectiveTo === null || r.effectiveTo > e.timestamp));
      const value = current[0]?.dimension ? (e.dimensions?.[current[0].dimension] ?? null) : null;
      const chosen = current.find((r) => r.dimensionValue !== null && r.dimensionValue === value) ?? current.find((r) => r.dimensionValue === null);
      if (!chosen || chosen.credits.isZero()) continue;
      const [un, ud] = chosen.aggregation === 'count' ? [1n, 1n] : fraction(e.quantity);
      const [cn, cd] = fraction(chosen.credits);
      const [pn, pd] = fraction(chosen.perUnits);
      const [tn, td] = [un * cn * pd, ud * cd * pn];
      [num, den] = [num * td + tn * den, den * td];
      meterIds.push(meterId);
    }
    const millionths = (num * 2_000_000n + den) / (2n * den);
    return { credits: dec(millionths.toString()).div(1_000_000).toFixed(), meterIds };
  };

  const eventCredits = (r: readonly BurnRate[], e: BurnableEvent) => eventBurn(r, e).credits;

  it('sums each meter of the event type at the rate in effect, the value\'s own rate before the default', () => {
    // before June: 2,000 gpt-4o tokens at 5/1,000 + one call at 0.5
    expect(eventCredits(rates, event({ timestamp: new Date('2026-05-01T00:00:00Z') })).toFixed()).toBe('10.5');
    // from June the call rate has ended; another model takes the default rate
    expect(eventCredits(rates, event({ dimensions: { model: 'claude' } })).toFixed()).toBe('2');
    expect(eventCredits(rates, event({ dimensions: null, quantity: dec('0.333') })).toFixed()).toBe('0.000333');
    expect(eventCredits(rates, event({ eventType: 'image' })).toFixed()).toBe('3');
    expect(eventCredits(rates, event({ eventType: 'other' })).toFixed()).toBe('0');
    expect(eventCredits(rates, event({ timestamp: new Date('2025-12-31T23:59:59Z') })).toFixed()).toBe('0');
  });

  it('names the meters whose rates priced the event, and only those', () => {
    expect(eventBurn(rates, event({ timestamp: new Date('2026-05-01T00:00:00Z') })).meterIds).toEqual(['tokens', 'calls']);
    expect(eventBurn(rates, event({})).meterIds).toEqual(['tokens']);
    expect(eventBurn(rates, event({ eventType: 'other' })).meterIds).toEqual([]);
  });

  it('agrees with the rule read literally (filter the rates in effect, the value\'s own before the default, units × credits ÷ per units, the sum rounded once) on random tables', () => {
    fc.assert(
      fc.property(
        arbTable,
        fc.record({ eventType: fc.constantFrom('llm', 'image'), quantity: fc.constantFrom('0', '1', '2000', '0.333', '123456.789'), day: fc.integer({ min: 0, max: 45 }), value: fc.constantFrom(null, 'a', 'b', 'c') }),
        (table, ev) => {
          const e: BurnableEvent = { eventType: ev.eventType, quantity: dec(ev.quantity), timestamp: new Date(day(ev.day).getTime() + 3_600_000), dimensions: { model: ev.value } };
          const got = eventBurn(table, e);
          expect({ credits: got.credits.toFixed(), meterIds: got.meterIds }).toEqual(literal(table, e));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rounds the sum of an event\'s meters once, exactly: three thirtieths that make a half round up', () => {
    // 0.000031 + 0.000031 + 0.000223 credits per 30 calls = 0.0000095 exactly; 40-digit decimals would round each
    // term down and the sum to 0.000009.
    const thirtieths = ['calls', 'seconds', 'requests'].map((meterId, i) =>
      rate({ meterId, aggregation: 'count', dimension: null, credits: dec(['0.000031', '0.000031', '0.000223'][i]!), perUnits: dec(30) }),
    );
    const e = { eventType: 'llm', quantity: dec(1), timestamp: now, dimensions: null };
    expect(eventBurn(thirtieths, e).credits.toFixed()).toBe('0.00001');
    expect(eventMicroCredits(thirtieths, { ...e, quantity: '1.000000' })).toBe(10n);
  });

  it('rounds a burn to the ledger\'s 6 decimals, half away from zero', () => {
    const perMillion = [rate({ dimension: null, credits: dec(1), perUnits: dec(1_000_000) })];
    const credits = (quantity: string) => eventBurn(perMillion, { eventType: 'llm', quantity: dec(quantity), timestamp: now, dimensions: null }).credits.toFixed();
    expect(credits('0.5')).toBe('0.000001');
    expect(credits('1234567.4')).toBe('1.234567');
  });

  it('in millionths of a credit (eventMicroCredits) is the rule read literally, for quantities as sent and as PostgreSQL prints them', () => {
    const micro = (table: readonly BurnRate[], e: StoredBurnableEvent) => fromMicroCredits(eventMicroCredits(table, e)).toFixed();
    // 2,000 gpt-4o tokens at 5/1,000 + one call at 0.5; a third of a credit per unit rounds half up at the 6th decimal
    expect(micro(rates, { eventType: 'llm', quantity: '2000', timestamp: new Date('2026-05-01T00:00:00Z'), dimensions: { model: 'gpt-4o' } })).toBe('10.5');
    const third = [rate({ meterId: 'tokens', dimension: null, credits: dec(1), perUnits: dec(3) })];
    expect(micro(third, { eventType: 'llm', quantity: '2', timestamp: now, dimensions: null })).toBe('0.666667');
    expect(micro(third, { eventType: 'llm', quantity: '0.000001', timestamp: now, dimensions: null })).toBe('0');
    expect(micro(third, { eventType: 'llm', quantity: '0.0000015', timestamp: now, dimensions: null })).toBe('0.000001');
    fc.assert(
      fc.property(
        arbTable,
        fc.record({
          eventType: fc.constantFrom('llm', 'image'),
          // as PostgreSQL prints numeric(20,6) (trailing zeros kept) and as sent (none)
          quantity: fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 14n }), fc.integer({ min: 0, max: 6 }), fc.boolean()).map(([digits, decimals, padded]) => {
            const text = decimals === 0 ? digits.toString() : `${digits / 10n ** BigInt(decimals)}.${(digits % 10n ** BigInt(decimals)).toString().padStart(decimals, '0')}`;
            return padded ? (text.includes('.') ? text.padEnd(text.indexOf('.') + 7, '0') : `${text}.000000`) : text;
          }),
          day: fc.integer({ min: 0, max: 45 }),
          value: fc.constantFrom(null, 'a', 'b', 'c'),
        }),
        (table, ev) => {
          const timestamp = new Date(day(ev.day).getTime() + 3_600_000);
          const stored: StoredBurnableEvent = { eventType: ev.eventType, quantity: ev.quantity, timestamp, dimensions: { model: ev.value } };
          expect(micro(table, stored)).toBe(literal(table, { ...stored, quantity: dec(ev.quantity) }).credits);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('eventBurn with a rate of 0', () => {
  it('leaves the meter out: nothing covers its usage, which is invoiced, while the event\'s other meter burns', () => {
    const base = { eventType: 'llm', aggregation: 'sum' as const, dimension: null, dimensionValue: null, perUnits: dec(1), effectiveFrom: new Date('2026-01-01T00:00:00Z'), effectiveTo: null };
    const burn = eventBurn(
      [
        { ...base, meterId: 'tokens', credits: dec('0.001') },
        { ...base, meterId: 'images', credits: dec(0) },
      ],
      { eventType: 'llm', quantity: dec(2000), timestamp: new Date('2026-02-01T00:00:00Z'), dimensions: null },
    );
    expect(burn.credits.toFixed()).toBe('2');
    expect(burn.meterIds).toEqual(['tokens']);
  });
});

describe('allocateUncovered', () => {
  const ds = (...xs: string[]) => xs.map((x) => dec(x));
  const fixed = (xs: ReturnType<typeof dec>[]) => xs.map((x) => x.toFixed());

  it('puts what the wallet did not cover on the last events: wholly on the tail, in part on the one where it ran out', () => {
    expect(fixed(allocateUncovered(ds('2', '3', '4'), dec('5.5')))).toEqual(['0', '1.5', '4']);
    expect(fixed(allocateUncovered(ds('2', '3', '4'), dec(0)))).toEqual(['0', '0', '0']);
    expect(fixed(allocateUncovered(ds('2', '0', '4'), dec(9 - 3)))).toEqual(['2', '0', '4']);
  });

  it('refuses more uncovered credits than the events cost', () => {
    expect(() => allocateUncovered(ds('1', '1'), dec('2.000001'))).toThrow(RangeError);
  });

  it('always sums to the uncovered credits, each event between none and all of its credits', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 1, maxLength: 30 }), fc.double({ min: 0, max: 1, noNaN: true }), (micro, share) => {
        const credits = micro.map((m) => dec(m).div(1_000_000));
        const total = credits.reduce((s, c) => s.plus(c), dec(0));
        const uncovered = total.times(share).toDecimalPlaces(6, Dec.ROUND_HALF_UP);
        const out = allocateUncovered(credits, uncovered);
        expect(out.reduce((s, c) => s.plus(c), dec(0)).eq(uncovered)).toBe(true);
        out.forEach((u, i) => expect(u.gte(0) && u.lte(credits[i]!)).toBe(true));
        // covered first: once an event has uncovered credits, every later one is wholly uncovered
        const first = out.findIndex((u) => u.gt(0));
        if (first >= 0) out.slice(first + 1).forEach((u, i) => expect(u.eq(credits[first + 1 + i]!)).toBe(true));
      }),
    );
  });
});

describe('billableUnits', () => {
  it('bills a burned event\'s uncovered share of its units, to 6 decimals', () => {
    expect(billableUnits(dec(1000), dec(4), dec(0)).toFixed()).toBe('0');
    expect(billableUnits(dec(1000), dec(4), dec(4)).toFixed()).toBe('1000');
    expect(billableUnits(dec(1000), dec(4), dec(1)).toFixed()).toBe('250');
    expect(billableUnits(dec(1), dec(3), dec(1)).toFixed()).toBe('0.333333');
    expect(billableUnits(dec(1), dec(3), dec(2)).toFixed()).toBe('0.666667');
    // no credits burned (a rate of 0, or credits that rounded to 0): nothing covered it, billed in full
    expect(billableUnits(dec(7), dec(0), dec(0)).toFixed()).toBe('7');
  });
});

describe('judgeCredits', () => {
  const q = { planKey: 'ai-prepaid', eventType: 'llm_call', quantity: dec(2000) };
  it('allows what the wallet covers, to the last credit, and refuses what it does not, saying how much is missing', () => {
    expect(judgeCredits({ ...q, required: dec('2.5'), balance: dec('2.5') }).allowed).toBe(true);
    const refused = judgeCredits({ ...q, required: dec('2.5'), balance: dec('2.499999') });
    expect(refused).toMatchObject({ allowed: false });
    expect(refused.reason).toBe('plan ai-prepaid is prepaid only: 2000 llm_call needs 2.5 credits, but the wallet has 2.499999; add credits first');
  });
  it('allows usage that burns no credits, even from an empty wallet', () => {
    expect(judgeCredits({ ...q, required: dec(0), balance: dec(0) })).toMatchObject({ allowed: true, reason: 'plan ai-prepaid is prepaid only, and llm_call burns no credits' });
  });
});

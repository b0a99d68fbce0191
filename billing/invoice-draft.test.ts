import { dec } from './decimal';
import { draftInvoice, InvalidDraftError, sumLines, type DraftInput } from './invoice-draft';
import type { PriceModel } from './price-models';

const basic = { planId: 'p-basic', name: 'Basic', baseFee: dec(30) };
const pro = { planId: 'p-pro', name: 'Pro', baseFee: dec(60) };
const graduated: PriceModel = {
  model: 'graduated',
  tiers: [
    { upTo: dec(100), unitAmount: dec('0.10'), flatAmount: dec(0) },
    { upTo: dec(1000), unitAmount: dec('0.08'), flatAmount: dec(0) },
    { upTo: null, unitAmount: dec('0.05'), flatAmount: dec(0) },
  ],
};

const november = (overrides: Partial<DraftInput> = {}): DraftInput => ({
  currency: 'usd',
  periodStart: new Date('2024-11-01T00:00:00Z'),
  periodEnd: new Date('2024-12-01T00:00:00Z'),
  prorationMode: 'day',
  subscriptionStart: new Date('2024-10-01T00:00:00Z'),
  initialPlan: basic,
  planChanges: [],
  canceledAt: null,
  usage: [],
  late: [],
  ...overrides,
});

const amounts = (input: DraftInput) => draftInvoice(input).lines.map((l) => [l.kind, l.amount.toFixed(2)]);

describe('draftInvoice', () => {
  it('charges the full base fee for a whole period', () => {
    expect(amounts(november())).toEqual([['base_fee', '30.00']]);
  });

  it('prorates a mid-period start from its day (10 of 30 days)', () => {
    const draft = draftInvoice(november({ subscriptionStart: new Date('2024-11-21T15:00:00Z') }));
    expect(draft.lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([['proration_charge', '10.00']]);
    expect(draft.lines[0]!.description).toBe('Basic: base fee from 2024-11-21 (prorated)');
  });

  it('credits the unused old fee and charges the remaining new fee on a plan change, each as its own line', () => {
    const draft = draftInvoice(november({ planChanges: [{ at: new Date('2024-11-21T00:00:00Z'), from: basic, to: pro }] }));
    expect(draft.lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([
      ['base_fee', '30.00'],
      ['proration_credit', '-10.00'],
      ['proration_charge', '20.00'],
    ]);
    expect(draft.total.toFixed(2)).toBe('40.00');
  });

  it('credits the unused fee of a cancellation inside the period', () => {
    expect(amounts(november({ canceledAt: new Date('2024-11-21T00:00:00Z') }))).toEqual([
      ['base_fee', '30.00'],
      ['proration_credit', '-10.00'],
    ]);
  });

  it('uses second precision when the organization asks for it', () => {
    // 10 days and 12 hours of a 30-day period remain: 30 × 10.5 / 30 = 10.50
    const draft = draftInvoice(november({ prorationMode: 'second', canceledAt: new Date('2024-11-20T12:00:00Z') }));
    expect(draft.lines[1]!.amount.toFixed(2)).toBe('-10.50');
  });

  it('prices usage by its model with the tier breakdown (1,500 graduated units → 107.00)', () => {
    const draft = draftInvoice(november({ usage: [{ meterId: 'm1', meterName: 'API calls', dimensionValue: null, price: graduated, quantity: dec(1500), snapshotIds: ['s1', 's2'] }] }));
    const usage = draft.lines[1]!;
    expect(usage.kind).toBe('usage');
    expect(usage.amount.toFixed(2)).toBe('107.00');
    expect(usage.tiers.map((t) => t.quantity.toNumber())).toEqual([100, 900, 500]);
    expect(usage.snapshotIds).toEqual(['s1', 's2']);
    expect(draft.total.toFixed(2)).toBe('137.00');
  });

  it('prices only what prepaid credits did not cover: credits burn from the first unit, so included units and tiers apply to the rest', () => {
    const draft = draftInvoice(
      november({
        usage: [
          { meterId: 't', meterName: 'Tokens', dimensionValue: null, price: { model: 'per_unit', unitAmount: dec('0.001'), includedUnits: dec(1000) }, quantity: dec(4500), credited: dec(3000), snapshotIds: [] },
          { meterId: 'c', meterName: 'API calls', dimensionValue: null, price: graduated, quantity: dec(1500), credited: dec(1000), snapshotIds: [] },
        ],
      }),
    );
    const [tokens, calls] = draft.lines.filter((l) => l.kind === 'usage');
    // 4,500 used, 3,000 covered: 1,500 billed, of which the plan includes 1,000 → 500 × 0.001
    expect([tokens!.description, tokens!.quantity?.toFixed(), tokens!.creditedQuantity?.toFixed() ?? null, tokens!.amount.toFixed(2)]).toEqual([
      'Tokens: usage (4500 used, 3000 covered by prepaid credits)',
      '1500',
      '3000',
      '0.50',
    ]);
    // 500 billed from the first tier up: 100 × 0.10 + 400 × 0.08
    expect(calls!.tiers.map((t) => t.quantity.toNumber())).toEqual([100, 400]);
    expect(calls!.amount.toFixed(2)).toBe('42.00');
  });

  it('bills late usage as the difference between what the earlier period costs now and what it was billed', () => {
    const draft = draftInvoice(
      november({
        late: [
          {
            meterId: 'm1',
            meterName: 'API calls',
            dimensionValue: null,
            price: graduated,
            periodStart: new Date('2024-10-01T00:00:00Z'),
            periodEnd: new Date('2024-11-01T00:00:00Z'),
            quantity: dec(1500),
            billedQuantity: dec(1000),
            billedAmount: dec('82.00'),
            lateEvents: 3,
            snapshotIds: ['s9'],
          },
        ],
      }),
    );
    const late = draft.lines[1]!;
    expect(late.kind).toBe('late_usage');
    expect(late.amount.toFixed(2)).toBe('25.00');
    expect(late.quantity!.toNumber()).toBe(500);
    expect(late.description).toBe('API calls: adjustment for 2024-10-01 – 2024-11-01, 3 events received after that period closed');
  });

  it('rounds each line to the currency minor unit on its own; the total is the sum of the rounded lines', () => {
    const jpy = draftInvoice(
      november({
        currency: 'jpy',
        initialPlan: { planId: 'j', name: 'Yen', baseFee: dec(1000) },
        usage: [{ meterId: 'm', meterName: 'Calls', dimensionValue: null, price: { model: 'per_unit', unitAmount: dec('0.5') }, quantity: dec(3), snapshotIds: [] }],
        canceledAt: new Date('2024-11-30T00:00:00Z'),
      }),
    );
    // 1000 × 1/30 = 33.33 → 33; 3 × 0.5 = 1.5 → 2 (half away from zero)
    expect(jpy.lines.map((l) => l.amount.toString())).toEqual(['1000', '-33', '2']);
    expect(jpy.total.toString()).toBe(sumLines(jpy.lines).toString());
    expect(jpy.total.toString()).toBe('969');
  });

  it('refuses a plan change outside the period', () => {
    expect(() => draftInvoice(november({ planChanges: [{ at: new Date('2024-12-01T00:00:00Z'), from: basic, to: pro }] }))).toThrow(InvalidDraftError);
  });

  it('refuses a price it cannot compute, naming the meter and the field', () => {
    const outOfOrder: PriceModel = {
      model: 'graduated',
      tiers: [
        { upTo: dec(1000), unitAmount: dec('0.08'), flatAmount: dec(0) },
        { upTo: dec(100), unitAmount: dec('0.10'), flatAmount: dec(0) },
        { upTo: null, unitAmount: dec('0.05'), flatAmount: dec(0) },
      ],
    };
    const usage = [{ meterId: 'm1', meterName: 'API calls', dimensionValue: null, price: outOfOrder, quantity: dec(10), snapshotIds: [] }];
    expect(() => draftInvoice(november({ usage }))).toThrow(new InvalidDraftError('the price of API calls: price.tiers[1].up_to: tiers must be in ascending order of up_to (100 ≤ 1000)'));
  });
});

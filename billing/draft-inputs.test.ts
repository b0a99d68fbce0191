import { dec } from './decimal';
import { inSlice, sliceOf } from './dimension-slices';
import {
  billedOf,
  draftInput,
  groupLateEvents,
  lateGroupsToBill,
  lateUsage,
  meterUsage,
  periodPlans,
  planTimeline,
  pricedMeter,
  type PlanChangeRow,
  type PriceRow,
  type SubscriptionRow,
} from './draft-inputs';
import { draftInvoice } from './invoice-draft';

const basic = { id: 'p-basic', name: 'Basic', baseFee: '30' };
const pro = { id: 'p-pro', name: 'Pro', baseFee: '60' };
const team = { id: 'p-team', name: 'Team', baseFee: '90' };
const at = (iso: string) => new Date(iso);
const november = { start: at('2024-11-01T00:00:00Z'), end: at('2024-12-01T00:00:00Z') };

const subscription = (overrides: Partial<SubscriptionRow> = {}): SubscriptionRow => ({
  startDate: at('2024-10-01T00:00:00Z'),
  billingAnchorDay: 1,
  status: 'active',
  canceledAt: null,
  plan: { ...basic, currency: 'usd', interval: 'month' },
  organization: { prorationMode: 'day' },
  ...overrides,
});

const change = (iso: string, fromPlan: typeof basic, toPlan: typeof basic): PlanChangeRow => ({ effectiveAt: at(iso), fromPlan, toPlan });

const apiCalls: PriceRow = {
  model: 'graduated',
  unitAmount: null,
  tiers: [
    { up_to: 100, unit_amount: '0.10', flat_amount: '0' },
    { up_to: 1000, unit_amount: '0.08', flat_amount: '0' },
    { up_to: null, unit_amount: '0.05', flat_amount: '0' },
  ],
  packageSize: null,
  packageAmount: null,
  freeUnits: null,
  includedUnits: '0',
  meter: { id: 'm-calls', name: 'API calls', eventType: 'api_call', aggregation: 'sum', property: null, dimension: null },
  dimensionValue: null,
};
const seats: PriceRow = {
  model: 'per_unit',
  unitAmount: '5',
  tiers: null,
  packageSize: null,
  packageAmount: null,
  freeUnits: null,
  includedUnits: '0',
  meter: { id: 'm-seats', name: 'Seats', eventType: 'seat_count', aggregation: 'latest', property: null, dimension: null },
  dimensionValue: null,
};

/** One plan for the whole period (no change splits it), pricing `prices`. */
const wholePeriod = (prices: PriceRow[]) => (period: { start: Date; end: Date }) => [{ ...period, plan: basic, prices }];


describe('planTimeline', () => {
  const changes = [change('2024-11-10T00:00:00Z', basic, pro), change('2024-11-20T12:00:00Z', pro, team)];
  const planAt = planTimeline(team, changes);

  it('is the first change\'s old plan before it, each change\'s new plan from its instant on', () => {
    expect(planAt(at('2024-11-09T23:59:59Z')).id).toBe('p-basic');
    expect(planAt(at('2024-11-10T00:00:00Z')).id).toBe('p-pro');
    expect(planAt(at('2024-11-20T11:59:59Z')).id).toBe('p-pro');
    expect(planAt(at('2024-11-20T12:00:00Z')).id).toBe('p-team');
  });

  it('is the subscription\'s plan when it never changed', () => {
    expect(planTimeline(basic, [])(at('2030-01-01T00:00:00Z')).id).toBe('p-basic');
  });
});

describe('periodPlans', () => {
  it('starts on the plan in effect at the period start and keeps the changes inside the period; usage is priced by the final plan', () => {
    const changes = [change('2024-10-15T00:00:00Z', basic, pro), change('2024-11-21T00:00:00Z', pro, team), change('2024-12-01T00:00:00Z', team, basic)];
    const plans = periodPlans(subscription(), changes, november);
    expect(plans.initialPlan).toEqual({ planId: 'p-pro', name: 'Pro', baseFee: dec(60) });
    expect(plans.planChanges.map((c) => [c.at.toISOString(), c.from.planId, c.to.planId])).toEqual([['2024-11-21T00:00:00.000Z', 'p-pro', 'p-team']]);
    expect(plans.finalPlan.id).toBe('p-team');
  });

  it('a change at the period end (recorded during the period) bills this period whole on the old plan and the next whole on the new one', () => {
    const changes = [change('2024-12-01T00:00:00Z', basic, pro)];
    const sub = subscription({ startDate: at('2024-10-01T00:00:00Z') });
    const nov = periodPlans(sub, changes, november);
    expect([nov.initialPlan.planId, nov.planChanges, nov.finalPlan.id]).toEqual(['p-basic', [], 'p-basic']);
    const dec1 = periodPlans(sub, changes, { start: at('2024-12-01T00:00:00Z'), end: at('2025-01-01T00:00:00Z') });
    expect([dec1.initialPlan.planId, dec1.planChanges, dec1.finalPlan.id]).toEqual(['p-pro', [], 'p-pro']);
  });

  it('starts a mid-period subscription on the plan of its start; a change at that very instant is the starting plan, not a change', () => {
    const sub = subscription({ startDate: at('2024-11-11T00:00:00Z') });
    const plans = periodPlans(sub, [change('2024-11-11T00:00:00Z', basic, pro)], november);
    expect(plans.initialPlan.planId).toBe('p-pro');
    expect(plans.planChanges).toEqual([]);
  });
});

describe('meterUsage and lateUsage', () => {
  it('prices the meter\'s quantity by the stored row', () => {
    const usage = meterUsage(apiCalls, [apiCalls], dec(1500), ['s1']);
    expect(usage).toMatchObject({ meterId: 'm-calls', meterName: 'API calls', snapshotIds: ['s1'] });
    expect(usage.quantity.toString()).toBe('1500');
    expect(usage.price.model).toBe('graduated');
    expect(meterUsage(seats, [seats], dec(7), []).price.model).toBe(seats.model);
  });

  it('measures a late group\'s period as it now stands against what it was billed; nothing billed counts as zero', () => {
    const group = { price: apiCalls, planPrices: [apiCalls], period: { start: at('2024-10-01T00:00:00Z'), end: november.start }, stretch: null, eventIds: ['late'] };
    const late = lateUsage(group, { quantity: dec(1500), credited: dec(0) }, { quantity: dec(1000), amount: dec('82.00') }, []);
    expect(late).toMatchObject({ periodStart: group.period.start, periodEnd: group.period.end, lateEvents: 1 });
    expect([late.quantity, late.billedQuantity, late.billedAmount].map(String)).toEqual(['1500', '1000', '82']);
    const never = lateUsage(group, { quantity: dec(1500), credited: dec(0) }, undefined, []);
    expect([never.billedQuantity, never.billedAmount].map(String)).toEqual(['0', '0']);
  });
});

describe('groupLateEvents', () => {
  it('groups by priced meter and the period each event falls in, leaving out meters the plan does not price', () => {
    const groups = groupLateEvents(subscription({ billingAnchorDay: 15, startDate: at('2024-09-15T00:00:00Z') }), wholePeriod([apiCalls, seats]), [
      { id: 'a', meterId: 'm-calls', timestamp: at('2024-10-14T23:59:59Z') },
      { id: 'b', meterId: 'm-calls', timestamp: at('2024-10-15T00:00:00Z') },
      { id: 'c', meterId: 'm-calls', timestamp: at('2024-10-20T00:00:00Z') },
      { id: 'd', meterId: 'm-seats', timestamp: at('2024-10-20T00:00:00Z') },
      { id: 'e', meterId: 'm-llm', timestamp: at('2024-10-20T00:00:00Z') },
    ]);
    expect(groups.map((g) => [g.price.meter.id, g.period.start.toISOString().slice(0, 10), g.period.end.toISOString().slice(0, 10), g.eventIds])).toEqual([
      ['m-calls', '2024-09-15', '2024-10-15', ['a']],
      ['m-calls', '2024-10-15', '2024-11-15', ['b', 'c']],
      ['m-seats', '2024-10-15', '2024-11-15', ['d']],
    ]);
  });
});

describe('groupLateEvents with two meters of one event type', () => {
  it('bills a late event once for each meter that reads it, on a line of each', () => {
    const tokens = { ...apiCalls, meter: { ...apiCalls.meter, id: 'm-tokens', name: 'Tokens', property: 'tokens' } };
    const groups = groupLateEvents(subscription({ billingAnchorDay: 1, startDate: at('2024-09-01T00:00:00Z') }), wholePeriod([apiCalls, tokens]), [
      { id: 'a', meterId: 'm-calls', timestamp: at('2024-09-10T00:00:00Z') },
      { id: 'a', meterId: 'm-tokens', timestamp: at('2024-09-10T00:00:00Z') },
      { id: 'b', meterId: 'm-tokens', timestamp: at('2024-09-11T00:00:00Z') },
    ]);
    expect(groups.map((g) => [g.price.meter.id, g.eventIds])).toEqual([
      ['m-calls', ['a']],
      ['m-tokens', ['a', 'b']],
    ]);
  });
});

describe('groupLateEvents across a plan change', () => {
  it('groups by the stretch of the period each event falls in, priced by the plan of that stretch; a meter that plan does not price is left out', () => {
    const stretches = (period: { start: Date; end: Date }) => [
      { start: period.start, end: at('2024-10-20T00:00:00Z'), plan: basic, prices: [apiCalls] },
      { start: at('2024-10-20T00:00:00Z'), end: period.end, plan: pro, prices: [seats] },
    ];
    const groups = groupLateEvents(subscription(), stretches, [
      { id: 'a', meterId: 'm-calls', timestamp: at('2024-10-05T00:00:00Z') },
      { id: 'b', meterId: 'm-calls', timestamp: at('2024-10-25T00:00:00Z') },
      { id: 'c', meterId: 'm-seats', timestamp: at('2024-10-25T00:00:00Z') },
    ]);
    expect(groups.map((g) => [g.price.meter.id, g.stretch?.start.toISOString().slice(0, 10), g.stretch?.planName, g.eventIds])).toEqual([
      ['m-calls', '2024-10-01', 'Basic', ['a']],
      ['m-seats', '2024-10-20', 'Pro', ['c']],
    ]);
    const late = lateUsage(groups[1]!, { quantity: dec(0), credited: dec(0) }, undefined, []);
    expect(late).toMatchObject({ periodStart: at('2024-10-20T00:00:00Z'), periodEnd: at('2024-11-01T00:00:00Z'), planName: 'Pro' });
  });
});

describe('lateGroupsToBill', () => {
  it('bills late events of periods that closed and are settled or written off; a rejected draft waiting for finance, or a period not closed, keeps them', () => {
    const sub = subscription({ billingAnchorDay: 1, startDate: at('2024-08-01T00:00:00Z') });
    const groups = groupLateEvents(sub, wholePeriod([apiCalls]), [
      { id: 'aug', meterId: 'm-calls', timestamp: at('2024-08-10T00:00:00Z') },
      { id: 'sep', meterId: 'm-calls', timestamp: at('2024-09-10T00:00:00Z') },
      { id: 'oct', meterId: 'm-calls', timestamp: at('2024-10-10T00:00:00Z') },
      { id: 'nov', meterId: 'm-calls', timestamp: at('2024-11-10T00:00:00Z') },
    ]);
    const standings = new Map([
      [at('2024-08-01T00:00:00Z').getTime(), 'paid' as const],
      [at('2024-09-01T00:00:00Z').getTime(), 'written_off' as const],
      [at('2024-10-01T00:00:00Z').getTime(), 'rejected' as const],
    ]);
    expect(lateGroupsToBill(groups, standings).map((g) => g.eventIds)).toEqual([['aug'], ['sep']]);
  });
});

describe('draftInput', () => {
  it('composes what draftInvoice prices: a plan change credits and charges, usage is priced, late usage billed as the difference', () => {
    const sub = subscription({ plan: { ...pro, currency: 'usd', interval: 'month' } });
    const plans = periodPlans(sub, [change('2024-11-21T00:00:00Z', basic, pro)], november);
    const usage = [meterUsage(apiCalls, [apiCalls], dec(1500), [])];
    const group = { price: apiCalls, planPrices: [apiCalls], period: { start: at('2024-10-01T00:00:00Z'), end: november.start }, stretch: null, eventIds: ['late'] };
    const late = [lateUsage(group, { quantity: dec(1500), credited: dec(0) }, { quantity: dec(1000), amount: dec(82) }, [])];
    const draft = draftInvoice(draftInput(sub, november, plans, usage, late));
    expect(draft.lines.map((l) => [l.kind, l.amount.toFixed(2)])).toEqual([
      ['base_fee', '30.00'],
      ['proration_credit', '-10.00'],
      ['proration_charge', '20.00'],
      ['usage', '107.00'],
      ['late_usage', '25.00'],
    ]);
    expect(draft.total.toFixed(2)).toBe('172.00');
  });

  it('credits a cancellation only for a canceled subscription, and refuses an unknown proration mode', () => {
    const canceledAt = at('2024-11-21T00:00:00Z');
    const plans = periodPlans(subscription(), [], november);
    expect(draftInput(subscription({ status: 'canceled', canceledAt }), november, plans, [], []).canceledAt).toEqual(canceledAt);
    expect(draftInput(subscription({ canceledAt }), november, plans, [], []).canceledAt).toBeNull();
    expect(draftInput(subscription({ organization: { prorationMode: 'second' } }), november, plans, [], []).prorationMode).toBe('second');
    expect(() => draftInput(subscription({ organization: { prorationMode: 'hour' } }), november, plans, [], [])).toThrow('unknown proration mode "hour"');
  });
});

describe('meters with a dimension', () => {
  const tokens = { id: 'm-tokens', name: 'Tokens', eventType: 'llm', aggregation: 'sum' as const, property: null, dimension: 'model' };
  const perUnit = (unitAmount: string, dimensionValue: string | null): PriceRow => ({
    model: 'per_unit',
    unitAmount,
    tiers: null,
    packageSize: null,
    packageAmount: null,
    freeUnits: null,
    includedUnits: '0',
    meter: tokens,
    dimensionValue,
  });
  const fallback = perUnit('0.001', null);
  const gpt4o = perUnit('0.01', 'gpt-4o');
  const mini = perUnit('0.0005', 'gpt-4o-mini');
  // as readPlanPrices returns them: by meter key, the default before the values
  const plan = [fallback, gpt4o, mini];

  it('slices a priced value to its events, and the default to every value the same plan does not price (or none)', () => {
    expect(sliceOf(gpt4o, plan)).toEqual({ dimension: 'model', value: 'gpt-4o' });
    expect(sliceOf(fallback, plan)).toEqual({ dimension: 'model', value: null, others: ['gpt-4o', 'gpt-4o-mini'] });
    expect(sliceOf(apiCalls, [apiCalls])).toBeUndefined();
    expect(pricedMeter(apiCalls, [apiCalls])).not.toHaveProperty('slice');
    const fallbackSlice = sliceOf(fallback, plan);
    expect(['gpt-4o', 'gpt-4o-mini', 'claude', null].map((v) => inSlice(fallbackSlice, v))).toEqual([false, false, true, true]);
    expect(['gpt-4o', 'gpt-4o-mini', null].map((v) => inSlice(sliceOf(gpt4o, plan), v))).toEqual([true, false, false]);
    // a plan pricing the default alone takes every value
    expect(inSlice(sliceOf(fallback, [fallback]), 'gpt-4o')).toBe(true);
  });

  it('names the slice on the line: the value, "other values" for a default beside priced values, the meter alone otherwise', () => {
    expect(meterUsage(gpt4o, plan, dec(10), []).meterName).toBe('Tokens (model gpt-4o)');
    expect(meterUsage(fallback, plan, dec(10), [])).toMatchObject({ meterName: 'Tokens (model: other values)', dimensionValue: null });
    expect(meterUsage(fallback, [fallback], dec(10), []).meterName).toBe('Tokens');
    expect(meterUsage(gpt4o, plan, dec(10), []).dimensionValue).toBe('gpt-4o');
  });

  it('groups late events by the slice their dimension value falls in, in the order of the plan\'s prices, and reads what was billed of that slice only', () => {
    const groups = groupLateEvents(subscription({ startDate: at('2024-09-01T00:00:00Z') }), wholePeriod(plan), [
      { id: 'a', meterId: 'm-tokens', timestamp: at('2024-10-02T00:00:00Z'), dimensions: { model: 'gpt-4o' } },
      { id: 'b', meterId: 'm-tokens', timestamp: at('2024-10-03T00:00:00Z'), dimensions: { model: 'claude' } },
      { id: 'c', meterId: 'm-tokens', timestamp: at('2024-10-04T00:00:00Z'), dimensions: { model: null } },
      { id: 'd', meterId: 'm-tokens', timestamp: at('2024-10-05T00:00:00Z'), dimensions: { model: 'gpt-4o' } },
    ]);
    // the plan lists the default first (as usage lines come), whichever event came first
    expect(groups.map((g) => [g.price.dimensionValue, g.eventIds])).toEqual([
      [null, ['b', 'c']],
      ['gpt-4o', ['a', 'd']],
    ]);
    const billed = [
      { meterId: 'm-tokens', dimensionValue: null, amount: '1' },
      { meterId: 'm-tokens', dimensionValue: 'gpt-4o', amount: '2' },
    ];
    expect(groups.map((g) => billedOf(billed, g)?.amount)).toEqual(['1', '2']);
    expect(lateUsage(groups[1]!, { quantity: dec(5), credited: dec(0) }, undefined, [])).toMatchObject({ meterName: 'Tokens (model gpt-4o)', dimensionValue: 'gpt-4o' });
  });
});

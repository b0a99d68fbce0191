import { usageSegments } from './usage-segments';

const basic = { id: 'basic', name: 'Basic', baseFee: '30' };
const pro = { id: 'pro', name: 'Pro', baseFee: '60' };
const november = { start: new Date('2024-11-01T00:00:00Z'), end: new Date('2024-12-01T00:00:00Z') };
const at = (iso: string) => new Date(iso);
const view = (segments: ReturnType<typeof usageSegments>) => segments.map((s) => [s.start.toISOString().slice(0, 10), s.end.toISOString().slice(0, 10), s.plan.id]);

describe('usageSegments', () => {
  it('is the whole period on one plan when no change falls inside it', () => {
    expect(view(usageSegments(pro, [{ effectiveAt: at('2024-10-15T00:00:00Z'), fromPlan: basic, toPlan: pro }], november, at('2024-10-01T00:00:00Z')))).toEqual([['2024-11-01', '2024-12-01', 'pro']]);
  });

  it('splits at each change inside the period, each stretch on the plan in effect during it', () => {
    const changes = [
      { effectiveAt: at('2024-11-10T00:00:00Z'), fromPlan: basic, toPlan: pro },
      { effectiveAt: at('2024-11-20T00:00:00Z'), fromPlan: pro, toPlan: basic },
    ];
    expect(view(usageSegments(basic, changes, november, at('2024-10-01T00:00:00Z')))).toEqual([
      ['2024-11-01', '2024-11-10', 'basic'],
      ['2024-11-10', '2024-11-20', 'pro'],
      ['2024-11-20', '2024-12-01', 'basic'],
    ]);
  });

  it('takes a change at the period start as the whole period on the new plan', () => {
    expect(view(usageSegments(pro, [{ effectiveAt: november.start, fromPlan: basic, toPlan: pro }], november, at('2024-10-01T00:00:00Z')))).toEqual([['2024-11-01', '2024-12-01', 'pro']]);
  });

  it('prices a subscription that starts inside the period by its first plan, even before a later change', () => {
    const changes = [{ effectiveAt: at('2024-11-20T00:00:00Z'), fromPlan: basic, toPlan: pro }];
    expect(view(usageSegments(pro, changes, november, at('2024-11-05T00:00:00Z')))).toEqual([
      ['2024-11-01', '2024-11-20', 'basic'],
      ['2024-11-20', '2024-12-01', 'pro'],
    ]);
  });
});

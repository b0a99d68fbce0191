import { LocalBudgets } from './rate-limit';

describe('LocalBudgets', () => {
  it('keeps this process\'s share of a limit: the limit divided by the live API processes, rounded up', async () => {
    let live = 2;
    const budgets = new LocalBudgets(() => live);
    const spend = () => budgets.spend('organization', 'org-a', 5);
    const outcomes = [await spend(), await spend(), await spend(), await spend()].map((s) => s?.allowed);
    // ⌈5 ÷ 2⌉ = 3 here, the other process has its own 3.
    expect(outcomes).toEqual([true, true, true, false]);
    live = 1;
    // Alone, the whole limit: a fresh budget of 5 for the same organization.
    const alone = [];
    for (let i = 0; i < 6; i++) alone.push((await spend())?.allowed);
    expect(alone).toEqual([true, true, true, true, true, false]);
  });

  it('reports the limit as configured, never this process\'s share, and 0 means no limit', async () => {
    const budgets = new LocalBudgets(() => 4);
    const spent = await budgets.spend('key', 'k', 100);
    expect(spent).toMatchObject({ allowed: true, points: 100 });
    expect(await budgets.spend('key', 'k', 0)).toBeNull();
  });

  it('keeps ids of one scope apart and scopes apart', async () => {
    const budgets = new LocalBudgets(() => 1);
    expect((await budgets.spend('ip', 'x', 1))?.allowed).toBe(true);
    expect((await budgets.spend('ip', 'x', 1))?.allowed).toBe(false);
    expect((await budgets.spend('ip', 'y', 1))?.allowed).toBe(true);
    expect((await budgets.spend('organization', 'x', 1))?.allowed).toBe(true);
  });
});

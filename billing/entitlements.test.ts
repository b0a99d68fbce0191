import { judgeFeature, upgradeOptions, type PlanFeatureGrant } from './entitlements';

const grant = (planKey: string, g: Partial<PlanFeatureGrant>): PlanFeatureGrant => ({ planKey, planName: planKey.toUpperCase(), kind: 'boolean', enabled: null, limit: null, value: null, ...g });

describe('judgeFeature', () => {
  it('allows a switched-on feature and refuses a switched-off one, naming the plan', () => {
    expect(judgeFeature('sso', [{ planKey: 'pro', grant: grant('pro', { enabled: true }) }], '1')).toMatchObject({ allowed: true, reason: 'plan pro includes sso', planKey: 'pro' });
    expect(judgeFeature('sso', [{ planKey: 'free', grant: grant('free', { enabled: false }) }], '1')).toMatchObject({ allowed: false, reason: 'plan free has sso switched off' });
  });

  it('allows a numeric limit up to and including it, exactly', () => {
    const seats = [{ planKey: 'team', grant: grant('team', { kind: 'limit', limit: '10' }) }];
    expect(judgeFeature('seats', seats, '10')).toMatchObject({ allowed: true, limit: '10' });
    expect(judgeFeature('seats', seats, '10.000001')).toMatchObject({ allowed: false, reason: 'plan team allows seats up to 10; 10.000001 is more' });
  });

  it('allows a config feature with its value', () => {
    expect(judgeFeature('model', [{ planKey: 'pro', grant: grant('pro', { kind: 'config', value: 'gpt-4o' }) }], '1')).toMatchObject({ allowed: true, value: 'gpt-4o', reason: 'plan pro sets model to "gpt-4o"' });
  });

  it('allows what any active plan allows; otherwise the first refusal; and says when no plan has the feature or there is no subscription', () => {
    const two = [
      { planKey: 'base', grant: grant('base', { kind: 'limit', limit: '5' }) },
      { planKey: 'addon', grant: grant('addon', { kind: 'limit', limit: '50' }) },
    ];
    expect(judgeFeature('projects', two, '20')).toMatchObject({ allowed: true, planKey: 'addon' });
    expect(judgeFeature('projects', two, '60')).toMatchObject({ allowed: false, planKey: 'base' });
    expect(judgeFeature('sso', [{ planKey: 'free', grant: null }], '1')).toMatchObject({ allowed: false, planKey: null, reason: 'plan free does not include sso' });
    expect(judgeFeature('sso', [], '1')).toMatchObject({ allowed: false, reason: 'no active subscription, so no plan grants sso' });
  });
});

describe('upgradeOptions', () => {
  it('lists the other plans whose feature allows the request, in the order given', () => {
    const plans = [grant('pro', { kind: 'limit', limit: '20' }), grant('scale', { kind: 'limit', limit: '100' }), grant('free', { kind: 'limit', limit: '1' })];
    expect(upgradeOptions('seats', plans, '25').map((o) => o.planKey)).toEqual(['scale']);
    expect(upgradeOptions('seats', plans, '5').map((o) => o.planKey)).toEqual(['pro', 'scale']);
  });
});

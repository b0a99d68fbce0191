import { dec, toPlainString } from './decimal';

/*
 * What a plan's feature allows (issue 14, point 4). A feature is a switch
 * (boolean: on or off), a numeric limit (a request for up to that much is
 * allowed: seats, context tokens, projects) or a config value (allowed, with
 * the value the app uses: a model name, a retention). A customer is entitled
 * to what any of its active subscriptions' plans grants; a plan without the
 * feature does not grant it.
 */

export const FEATURE_KINDS = ['boolean', 'limit', 'config'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

export interface PlanFeatureGrant {
  planKey: string;
  planName: string;
  kind: FeatureKind;
  enabled: boolean | null;
  /** decimal string */
  limit: string | null;
  value: string | null;
}

export interface FeatureVerdict {
  allowed: boolean;
  reason: string;
  /** the plan whose feature decided it (the granting one when allowed), null when no plan has the feature */
  planKey: string | null;
  kind: FeatureKind | null;
  limit: string | null;
  value: string | null;
}

/** Whether one plan's feature allows `quantity`, and why, in words. */
function judgeOne(feature: string, grant: PlanFeatureGrant, quantity: string): FeatureVerdict {
  const base = { planKey: grant.planKey, kind: grant.kind, limit: grant.limit, value: grant.value };
  if (grant.kind === 'boolean') {
    return grant.enabled
      ? { ...base, allowed: true, reason: `plan ${grant.planKey} includes ${feature}` }
      : { ...base, allowed: false, reason: `plan ${grant.planKey} has ${feature} switched off` };
  }
  if (grant.kind === 'limit') {
    const limit = dec(grant.limit ?? '0');
    const wanted = dec(quantity);
    return wanted.lte(limit)
      ? { ...base, allowed: true, reason: `plan ${grant.planKey} allows ${feature} up to ${toPlainString(limit)} (asked: ${toPlainString(wanted)})` }
      : { ...base, allowed: false, reason: `plan ${grant.planKey} allows ${feature} up to ${toPlainString(limit)}; ${toPlainString(wanted)} is more` };
  }
  return { ...base, allowed: true, reason: `plan ${grant.planKey} sets ${feature} to "${grant.value ?? ''}"` };
}

/**
 * The verdict for a customer on the plans of its active subscriptions: allowed
 * when any of them allows it (the first that does, in the order given), else
 * the first refusal, else "no plan includes it". No subscription, no feature.
 */
export function judgeFeature(feature: string, customerPlans: readonly { planKey: string; grant: PlanFeatureGrant | null }[], quantity: string): FeatureVerdict {
  const none = { planKey: null, kind: null, limit: null, value: null };
  if (customerPlans.length === 0) return { ...none, allowed: false, reason: `no active subscription, so no plan grants ${feature}` };
  const verdicts = customerPlans.flatMap((p) => (p.grant ? [judgeOne(feature, p.grant, quantity)] : []));
  const granted = verdicts.find((v) => v.allowed);
  if (granted) return granted;
  if (verdicts[0]) return verdicts[0];
  const keys = customerPlans.map((p) => p.planKey).join(', ');
  return { ...none, allowed: false, reason: `${customerPlans.length === 1 ? 'plan' : 'plans'} ${keys} ${customerPlans.length === 1 ? 'does' : 'do'} not include ${feature}` };
}

/** The plans (not the customer's own) whose feature would allow it: what an upgrade would bring, in the order given. */
export function upgradeOptions(feature: string, otherPlans: readonly PlanFeatureGrant[], quantity: string): { planKey: string; planName: string; reason: string }[] {
  return otherPlans.flatMap((grant) => {
    const verdict = judgeOne(feature, grant, quantity);
    return verdict.allowed ? [{ planKey: grant.planKey, planName: grant.planName, reason: verdict.reason }] : [];
  });
}

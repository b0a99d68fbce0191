import type { AppLoadContext } from 'react-router';
import { listPlansWithFeatures, PlanFeatureParamsSchema, PlanFeatureSetSchema, removePlanFeature, setPlanFeature, type PlanWithFeatures } from '../../../services/plan-features';
import type { SignedInUser } from './auth.server';
import { formProblem, formText, refusal } from './forms.server';

/** The plans page's forms, through the same service and rules as the API's /plans/:key/features. */

export type PlanFeatureOutcome = { ok: boolean; message: string; field?: string };

const LABELS: Record<string, string> = { key: 'Plan', feature: 'Feature', kind: 'Kind', enabled: 'Included', limit: 'Limit', value: 'Value' };

export async function readPlans(context: AppLoadContext, organizationId: string): Promise<PlanWithFeatures[]> {
  return listPlansWithFeatures(context.prisma, organizationId);
}

export async function applyPlanFeatureForm(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<PlanFeatureOutcome> {
  const intent = form.get('intent');
  const actor = { type: 'user' as const, id: user.email };
  const params = PlanFeatureParamsSchema.safeParse({ key: formText(form, 'plan'), feature: formText(form, 'feature') });
  if (!params.success) return formProblem(params.error, LABELS);
  const { key, feature } = params.data;
  try {
    if (intent === 'remove') {
      await removePlanFeature(context.prisma, user.organizationId, key, feature, actor);
      return { ok: true, message: `Removed ${feature} from plan ${key}.` };
    }
    if (intent !== 'set') return { ok: false, message: `Unknown action "${String(intent)}".` };
    const kind = formText(form, 'kind');
    // Fields of another kind filled in are a mistake to show, not to drop: a limit typed under "boolean" would grant without limit.
    const stray = (
      [
        ['enabled', formText(form, 'enabled') === 'on', 'boolean'],
        ['limit', formText(form, 'limit') !== '', 'limit'],
        ['value', formText(form, 'value') !== '', 'config'],
      ] as const
    ).find(([, filled, owner]) => filled && kind !== owner);
    if (stray && kind !== '') {
      return { ok: false, field: stray[0], message: `${LABELS[stray[0]]}: only for kind ${stray[2]}; this feature is kind ${kind}, so leave it empty (or choose kind ${stray[2]})` };
    }
    const parsed = PlanFeatureSetSchema.safeParse(
      kind === 'boolean' ? { kind, enabled: formText(form, 'enabled') === 'on' } : kind === 'limit' ? { kind, limit: formText(form, 'limit') } : { kind, value: formText(form, 'value') },
    );
    if (!parsed.success) return formProblem(parsed.error, LABELS);
    const { feature: saved, created } = await setPlanFeature(context.prisma, user.organizationId, key, feature, parsed.data, actor);
    const what = saved.kind === 'boolean' ? (saved.enabled ? 'included' : 'switched off') : saved.kind === 'limit' ? `up to ${saved.limit}` : `set to "${saved.value}"`;
    return { ok: true, message: `${created ? 'Added' : 'Changed'} ${feature} on plan ${key}: ${what}.` };
  } catch (err) {
    return refusal(err);
  }
}

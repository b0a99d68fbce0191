import type { AppLoadContext } from 'react-router';
import type { z } from 'zod';
import { createMeter, listMeters, type MeterJson } from '../../../services/meters';
import { createPlan, createPlanVersion, listPlanVersions, listPlans, type PlanJson } from '../../../services/plans';
import { KeyParamsSchema, MeterCreateSchema, PlanCreateSchema, PlanVersionCreateSchema } from '../../../services/schemas/catalog';
import type { SignedInUser } from './auth.server';
import { formProblem, formText, refusal } from './forms.server';

/** The catalog page's reads and forms, through the same services and schemas as the API's /meters and /plans. */

export type CatalogOutcome = { ok: boolean; message: string; field?: string };

export interface CatalogPlan extends PlanJson {
  /** every version, newest first, with its subscriptions not canceled */
  versions: { version: number; base_fee: string; active: boolean; created_at: string; subscriptions: number }[];
}

/** What one page shows: a hundred meters and a hundred plans, by key (the API pages through more). */
const PAGE = 100;

export async function readCatalog(context: AppLoadContext, organizationId: string): Promise<{ meters: MeterJson[]; plans: CatalogPlan[]; more: boolean }> {
  const [meters, plans] = await Promise.all([listMeters(context.prisma, organizationId, { limit: PAGE }), listPlans(context.prisma, organizationId, { limit: PAGE })]);
  const withVersions = await Promise.all(
    plans.data.map(async (p) => ({
      ...p,
      versions: (await listPlanVersions(context.prisma, organizationId, p.key)).data.map((v) => ({ version: v.version, base_fee: v.base_fee, active: v.active, created_at: v.created_at, subscriptions: v.subscriptions })),
    })),
  );
  return { meters: meters.data, plans: withVersions, more: meters.has_more || plans.has_more };
}

const LABELS: Record<string, string> = {
  key: 'Key',
  name: 'Name',
  event_type: 'Event type',
  aggregation: 'Aggregation',
  property: 'Property',
  dimension: 'Dimension',
  currency: 'Currency',
  interval: 'Interval',
  base_fee: 'Base fee',
  prices: 'Prices',
  active: 'Takes new subscriptions',
  'period_credits.credits': 'Credits each period',
};

/** The plan form's period credits: none when the field is empty. */
const periodCredits = (form: FormData) => {
  const credits = optional(form, 'period_credits');
  return credits === undefined ? null : { credits, rollover: form.get('period_credits_rollover') === 'on' };
};

/** A problem in the prices: the field path ("prices.0.unit_amount") reads as "Prices, #1, unit_amount". */
function labelled(error: z.ZodError): CatalogOutcome {
  const problem = formProblem(error, LABELS);
  const path = problem.field?.match(/^prices\.(\d+)\.?(.*)$/);
  if (!path) return problem;
  const where = `Prices, #${Number(path[1]) + 1}${path[2] ? `, ${path[2]}` : ''}`;
  return { ok: false, field: 'prices', message: `${where}: ${error.issues[0]?.message ?? 'invalid'}` };
}

/** The prices box: a JSON array in the API's shape. */
function pricesOf(form: FormData): { ok: true; prices: unknown } | { ok: false; outcome: CatalogOutcome } {
  const text = formText(form, 'prices');
  if (text === '') return { ok: true, prices: [] };
  try {
    return { ok: true, prices: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, outcome: { ok: false, field: 'prices', message: `Prices: not JSON (${(err as Error).message}); write a list like [{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.002"}]` } };
  }
}

/** A form field left empty is a field not sent. */
const optional = (form: FormData, name: string): string | undefined => formText(form, name) || undefined;

export async function applyCatalogForm(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<CatalogOutcome> {
  const intent = form.get('intent');
  const actor = { type: 'user' as const, id: user.email };
  try {
    if (intent === 'create-meter') {
      const parsed = MeterCreateSchema.safeParse({
        key: formText(form, 'key'),
        name: formText(form, 'name'),
        event_type: formText(form, 'event_type'),
        aggregation: formText(form, 'aggregation'),
        property: optional(form, 'property'),
        dimension: optional(form, 'dimension'),
      });
      if (!parsed.success) return formProblem(parsed.error, LABELS);
      const meter = await createMeter(context.prisma, user.organizationId, parsed.data, actor);
      const priced = meter.dimension ? `, priced by ${meter.dimension}` : '';
      return { ok: true, message: `Created meter ${meter.key}: ${meter.aggregation} of ${meter.event_type} events${priced}.` };
    }
    const prices = pricesOf(form);
    if (!prices.ok) return prices.outcome;
    if (intent === 'create-plan') {
      const parsed = PlanCreateSchema.safeParse({
        key: formText(form, 'key'),
        name: formText(form, 'name'),
        currency: formText(form, 'currency'),
        interval: formText(form, 'interval'),
        base_fee: optional(form, 'base_fee'),
        prepaid_only: form.get('prepaid_only') === 'on',
        prices: prices.prices,
        period_credits: periodCredits(form),
      });
      if (!parsed.success) return labelled(parsed.error);
      const plan = await createPlan(context.prisma, user.organizationId, parsed.data, actor);
      return { ok: true, message: `Created plan ${plan.key} (version 1) with ${plan.prices.length} price${plan.prices.length === 1 ? '' : 's'}.` };
    }
    if (intent === 'new-version') {
      const key = KeyParamsSchema.safeParse({ key: formText(form, 'plan') });
      if (!key.success) return formProblem(key.error, LABELS);
      const parsed = PlanVersionCreateSchema.safeParse({ name: optional(form, 'name'), base_fee: optional(form, 'base_fee'), active: form.get('active') === 'on', prepaid_only: form.get('prepaid_only') === 'on', prices: prices.prices, period_credits: periodCredits(form) });
      if (!parsed.success) return labelled(parsed.error);
      const version = await createPlanVersion(context.prisma, user.organizationId, key.data.key, parsed.data, actor);
      return {
        ok: true,
        message: `Created version ${version.version} of plan ${version.key}. New subscriptions take it; running ones stay on theirs until moved (a plan change to ${version.key} on the customer's page).`,
      };
    }
    return { ok: false, message: `Unknown action "${String(intent)}".` };
  } catch (err) {
    return refusal(err);
  }
}

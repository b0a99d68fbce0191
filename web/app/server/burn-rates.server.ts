import type { AppLoadContext } from 'react-router';
import { addBurnRate, BurnRateCreateSchema, listBurnRates, type BurnRateJson } from '../../../services/credit-burn-rates';
import type { SignedInUser } from './auth.server';
import { formProblem, formText, localInstant, refusal } from './forms.server';

/** The credit burn rates page's form, through the same service and rules as the API's /credit-burn-rates. */

export type BurnRateOutcome = { ok: true; message: string } | { ok: false; message: string; field?: string };

const LABELS: Record<string, string> = {
  meter: 'Meter',
  dimension_value: 'Dimension value',
  credits: 'Credits',
  per_units: 'Per units',
  effective_from: 'Effective from',
};

/** The rates, and the meters a rate can be for (sum and count meters, with their dimension). */
export async function readBurnRatesPage(context: AppLoadContext, organizationId: string) {
  const [rates, meters] = await Promise.all([
    listBurnRates(context.prisma, organizationId, {}),
    context.prisma.meter.findMany({ where: { organizationId, aggregation: { in: ['sum', 'count'] } }, orderBy: { key: 'asc' }, select: { key: true, name: true, dimension: true, eventType: true } }),
  ]);
  return { rates: rates.data satisfies BurnRateJson[], meters };
}

export async function applyBurnRateForm(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<BurnRateOutcome> {
  if (form.get('intent') !== 'add') return { ok: false, message: `Unknown action "${String(form.get('intent'))}".` };
  const parsed = BurnRateCreateSchema.safeParse({
    meter: formText(form, 'meter'),
    dimension_value: formText(form, 'dimension_value') || undefined,
    credits: formText(form, 'credits'),
    per_units: formText(form, 'per_units') || undefined,
    effective_from: localInstant(formText(form, 'effective_from')),
  });
  if (!parsed.success) return formProblem(parsed.error, LABELS);
  try {
    const rate = await addBurnRate(context.prisma, user.organizationId, parsed.data, { type: 'user', id: user.email });
    const value = rate.dimension_value === null ? '' : ` (${rate.dimension_value})`;
    return { ok: true, message: `Added ${rate.meter}${value}: ${rate.credits} credits per ${rate.per_units}, from ${rate.effective_from.replace('T', ' ').slice(0, 16)} UTC.` };
  } catch (err) {
    return refusal(err);
  }
}

import type { AppLoadContext } from 'react-router';
import { addVendorRate, listVendorRates, VendorRateCreateSchema, type VendorRateJson } from '../../../services/vendor-rates';
import { describePrices, RATE_PRICES } from '../../../billing/token-cost';
import type { SignedInUser } from './auth.server';
import { formProblem, formText, localInstant, refusal } from './forms.server';

/** The rates page's form, through the same service and rules as the API's /vendor-rates. */

export type VendorRateOutcome = { ok: true; message: string } | { ok: false; message: string; field?: string };

const LABELS: Record<string, string> = {
  vendor: 'Vendor',
  model: 'Model',
  currency: 'Currency',
  ...Object.fromEntries(RATE_PRICES.map((p) => [p.name, p.label])),
  effective_from: 'Effective from',
};

export async function readVendorRates(context: AppLoadContext, organizationId: string): Promise<VendorRateJson[]> {
  return (await listVendorRates(context.prisma, organizationId, {})).data;
}

export async function applyVendorRateForm(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<VendorRateOutcome> {
  if (form.get('intent') !== 'add') return { ok: false, message: `Unknown action "${String(form.get('intent'))}".` };
  const parsed = VendorRateCreateSchema.safeParse({
    vendor: formText(form, 'vendor'),
    model: formText(form, 'model'),
    currency: formText(form, 'currency') || undefined,
    // An empty price field is a price the rate does not set.
    ...Object.fromEntries(RATE_PRICES.map(({ name }) => [name, formText(form, name) || undefined])),
    effective_from: localInstant(formText(form, 'effective_from')),
  });
  if (!parsed.success) return formProblem(parsed.error, LABELS);
  try {
    const rate = await addVendorRate(context.prisma, user.organizationId, parsed.data, { type: 'user', id: user.email });
    return {
      ok: true,
      message: `Added ${rate.vendor}/${rate.model}: ${describePrices(rate)} (${rate.currency.toUpperCase()}), from ${rate.effective_from.replace('T', ' ').slice(0, 16)} UTC.`,
    };
  } catch (err) {
    return refusal(err);
  }
}

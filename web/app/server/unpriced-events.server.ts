import type { AppLoadContext } from 'react-router';
import { listUnpricedEvents, rerateUnpricedEvents, type UnpricedEventsJson } from '../../../services/unpriced-events';
import type { SignedInUser } from './auth.server';
import { formText, refusal } from './forms.server';

/** The unpriced-events page: the same list and re-rate as the API's /unpriced-events. */

export type RerateOutcome = { ok: boolean; message: string };

export async function readUnpricedEvents(context: AppLoadContext, organizationId: string): Promise<UnpricedEventsJson> {
  return listUnpricedEvents(context.prisma, organizationId, { limit: 100 });
}

/** "Re-rate" for one vendor and model (the summary's rows) or for every unpriced event. */
export async function applyRerateForm(context: AppLoadContext, user: SignedInUser, form: FormData): Promise<RerateOutcome> {
  if (form.get('intent') !== 'rerate') return { ok: false, message: `Unknown action "${String(form.get('intent'))}".` };
  const vendor = formText(form, 'vendor');
  const model = formText(form, 'model');
  const which = vendor && model ? `${vendor}/${model}` : 'all vendors and models';
  let result;
  try {
    result = await rerateUnpricedEvents(context.prisma, user.organizationId, { ...(vendor && model ? { vendor, model } : {}) }, { type: 'user', id: user.email });
  } catch (err) {
    return refusal(err);
  }
  const lines = (n: number) => `${n} line${n === 1 ? '' : 's'}`;
  return {
    ok: true,
    message:
      result.events_rerated === 0
        ? `Nothing to re-rate for ${which}: no rate prices its unpriced lines yet (${lines(result.lines_still_unpriced)} still unpriced).`
        : `Re-rated ${result.events_rerated} event${result.events_rerated === 1 ? '' : 's'} (${which}): ${lines(result.lines_priced)} priced, ${lines(result.lines_still_unpriced)} still unpriced.`,
  };
}

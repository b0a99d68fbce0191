import { data, Form, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { requireFormAction, requireUser } from '../server/auth.server';
import { applyBurnRateForm, readBurnRatesPage } from '../server/burn-rates.server';

const PATH = '/settings/burn-rates';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_settings');
  return { ...(await readBurnRatesPage(context, user.organizationId)), now: new Date().toISOString() };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_settings');
  const outcome = await applyBurnRateForm(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Credit burn rates · Settings · Ledgerflow' }];
}

const minute = (iso: string | null): string => (iso ? iso.replace('T', ' ').slice(0, 16) : '—');

export default function BurnRates() {
  const { rates, meters, now } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const invalid = (field: string) => (outcome && !outcome.ok && outcome.field === field ? true : undefined);
  return (
    <>
      <h1>Credit burn rates</h1>
      <SettingsNav />
      <p>
        How many prepaid credits usage burns: credits per so many units of a sum or count meter, for one value of its dimension (a model, say) or for every
        other value. A rate is never edited: a change is a new rate from an instant on, which ends the one before. A rate may not start at or before usage
        that already burned credits at the rates then in effect. The API has the same: <code>/api/v1/credit-burn-rates</code>.
      </p>
      <OutcomeNotice outcome={outcome} />
      {meters.length === 0 ? (
        <p>No sum or count meter yet: add one under Catalog first.</p>
      ) : (
        <Form method="post" action={PATH} key={outcome?.ok ? outcome.message : 'add'}>
          <fieldset>
            <legend>Add a burn rate (or a change)</legend>
            <CsrfField />
            <input type="hidden" name="intent" value="add" />
            <label htmlFor="burn-meter">Meter</label>
            <select id="burn-meter" name="meter" aria-invalid={invalid('meter')}>
              {meters.map((m) => (
                <option key={m.key} value={m.key}>
                  {m.name} ({m.key}, {m.eventType}
                  {m.dimension ? `, by ${m.dimension}` : ''})
                </option>
              ))}
            </select>
            <label htmlFor="burn-value">Dimension value (optional)</label>
            <p className="hint" id="burn-value-hint">
              For a meter with a dimension: the value this rate is for (e.g. gpt-4o). Empty: every value without a rate of its own.
            </p>
            <input id="burn-value" name="dimension_value" aria-describedby="burn-value-hint" maxLength={255} aria-invalid={invalid('dimension_value')} />
            <label htmlFor="burn-credits">Credits</label>
            <input id="burn-credits" name="credits" inputMode="decimal" required aria-invalid={invalid('credits')} />
            <label htmlFor="burn-per-units">Per units</label>
            <input id="burn-per-units" name="per_units" inputMode="decimal" defaultValue="1" aria-invalid={invalid('per_units')} />
            <label htmlFor="burn-from">Effective from (UTC; empty = now)</label>
            <input id="burn-from" name="effective_from" type="datetime-local" aria-invalid={invalid('effective_from')} />
            <button type="submit" disabled={busy}>
              Add burn rate
            </button>
          </fieldset>
        </Form>
      )}

      <h2 id="burn-rates">Rates</h2>
      {rates.length === 0 ? (
        <p>No burn rates: usage burns no credits, and customers with wallets are invoiced for all of it.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="burn-rates">
            <thead>
              <tr>
                <th scope="col">Meter</th>
                <th scope="col">Value</th>
                <th scope="col">Credits</th>
                <th scope="col">From (UTC)</th>
                <th scope="col">Until (UTC)</th>
                <th scope="col">Now</th>
              </tr>
            </thead>
            <tbody>
              {rates.map((r) => (
                <tr key={r.id} data-testid="burn-rate-row">
                  <td>{r.meter}</td>
                  <td>{r.dimension_value ?? 'every other value'}</td>
                  <td>
                    {r.credits} per {r.per_units}
                  </td>
                  <td>{minute(r.effective_from)}</td>
                  <td>{minute(r.effective_to)}</td>
                  <td>{r.effective_from > now ? 'Upcoming' : r.effective_to !== null && r.effective_to <= now ? 'Past' : 'In effect'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

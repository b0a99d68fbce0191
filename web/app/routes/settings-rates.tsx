import { Fragment } from 'react';
import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { describePrices, RATE_PRICES } from '../../../billing/token-cost';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { requireFormAction, requireUser } from '../server/auth.server';
import { applyVendorRateForm, readVendorRates } from '../server/vendor-rates.server';

const PATH = '/settings/rates';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_settings');
  return { rates: await readVendorRates(context, user.organizationId), now: new Date().toISOString() };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_settings');
  const outcome = await applyVendorRateForm(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Vendor rates · Settings · Ledgerflow' }];
}

const minute = (iso: string | null): string => (iso ? iso.replace('T', ' ').slice(0, 16) : '—');
/** When a rate stopped (or stops) pricing: the next rate's start or its own end, whichever comes first. */
const earliest = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a < b ? a : b);

export default function VendorRates() {
  const { rates, now } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  return (
    <>
      <h1>Vendor rates</h1>
      <SettingsNav />
      <p>
        What each model vendor charges you, per million tokens of each kind, per image, second or request: the cost side of every rated event, behind margins and leak detection. A rate is never edited: a
        price change is a new rate from an instant on, which supersedes the one before. Events already rated keep the rate they were rated with. The API has the
        same: <code>/api/v1/vendor-rates</code>.
      </p>
      <OutcomeNotice outcome={outcome} />
      <Form method="post" action={PATH} key={outcome?.ok ? outcome.message : 'add'}>
        <fieldset>
          <legend>Add a rate (or a price change)</legend>
          <CsrfField />
          <input type="hidden" name="intent" value="add" />
          <label htmlFor="rate-vendor">Vendor (as events name it)</label>
          <input id="rate-vendor" name="vendor" required maxLength={255} />
          <label htmlFor="rate-model">Model (as events name it)</label>
          <input id="rate-model" name="model" required maxLength={255} />
          <label htmlFor="rate-currency">Currency</label>
          <input id="rate-currency" name="currency" defaultValue="usd" maxLength={3} />
          <p className="hint">
            Fill in the prices the vendor charges for this model, leave the others empty. Cache reads and writes without a price of their own cost the input
            price, reasoning tokens the output price; any other usage without a price leaves its line unpriced (listed under Unpriced events, where it can be re-rated once a rate prices it).
          </p>
          {RATE_PRICES.map((p) => (
            <Fragment key={p.name}>
              <label htmlFor={`rate-${p.name}`}>{p.label}</label>
              <input id={`rate-${p.name}`} name={p.name} inputMode="decimal" placeholder="not set" />
            </Fragment>
          ))}
          <label htmlFor="rate-from">Effective from (UTC; empty = now)</label>
          <p className="hint">Now or later; earlier only where this vendor and model had no rate (events already rated keep the rate they were rated with).</p>
          <input id="rate-from" name="effective_from" type="datetime-local" />
          <button type="submit" disabled={busy}>
            Add rate
          </button>
        </fieldset>
      </Form>

      <h2 id="rates">Rates</h2>
      {rates.length === 0 ? (
        <p>
          No vendor rates: the usage lines of events are left unpriced (their cost unknown, not zero) and listed under{' '}
          <Link to="/settings/unpriced">Unpriced events</Link>, to be re-rated once a rate prices them.
        </p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="rates">
            <thead>
              <tr>
                <th scope="col">Vendor / model</th>
                <th scope="col">Prices</th>
                <th scope="col">From (UTC)</th>
                <th scope="col">Superseded (UTC)</th>
                <th scope="col">Now</th>
              </tr>
            </thead>
            <tbody>
              {rates.map((r) => (
                <tr key={r.id} data-testid="vendor-rate-row">
                  <td>
                    {r.vendor} / {r.model}
                  </td>
                  <td>
                    {describePrices(r)} ({r.currency.toUpperCase()})
                  </td>
                  <td>{minute(r.effective_from)}</td>
                  <td>{minute(earliest(r.superseded_at, r.effective_to))}</td>
                  <td>{r.in_effect ? 'In effect' : r.effective_from > now ? 'Upcoming' : 'Past'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

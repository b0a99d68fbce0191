import { data, Form, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { sliceLabel, sliceOf } from '../../../billing/dimension-slices';
import type { PlanJson } from '../../../services/plans';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { requireFormAction, requireUser } from '../server/auth.server';
import { applyCatalogForm, readCatalog } from '../server/catalog.server';

const PATH = '/settings/catalog';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_settings');
  return readCatalog(context, user.organizationId);
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_settings');
  const outcome = await applyCatalogForm(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Catalog · Settings · Ledgerflow' }];
}

const AGGREGATIONS = [
  ['sum', 'sum of the quantities'],
  ['count', 'count of the events'],
  ['max', 'largest quantity'],
  ['unique_count', 'distinct values of a property'],
  ['latest', 'latest quantity'],
] as const;

const PRICES_HINT =
  'A JSON list, one entry per meter: {"meter": "api_calls", "model": "per_unit", "unit_amount": "0.002"}; graduated or volume: "tiers": [{"up_to": 1000, "unit_amount": "0.01"}, {"up_to": null, "unit_amount": "0.005"}]; package: "package_size": 50, "package_amount": "3.00" ("free_units" optional). "included_units" (any model) come off the quantity first. Amounts are decimal strings.';

const PRICES_EXAMPLE = '[\n  { "meter": "api_calls", "model": "per_unit", "unit_amount": "0.002" }\n]';

type Price = PlanJson['prices'][number];

/** A price in words, as finance reads it. */
function describePrice(p: Price): string {
  const included = p.included_units !== '0' ? `; ${p.included_units} included` : '';
  switch (p.model) {
    case 'per_unit':
      return `${p.unit_amount} per unit${included}`;
    case 'graduated':
    case 'volume':
      return `${p.model}: ${(p.tiers ?? []).map((t) => `${t.up_to === null ? 'above' : `up to ${t.up_to}`} @ ${t.unit_amount}${t.flat_amount !== '0' ? ` + ${t.flat_amount}` : ''}`).join(', ')}${included}`;
    case 'package':
      return `${p.package_amount} per ${p.package_size}${p.free_units && p.free_units !== '0' ? ` (${p.free_units} free)` : ''}${included}`;
  }
}

/** What a price prices, named as invoice lines name it (billing's sliceLabel); a meter past the listed page reads as "dimension". */
function pricedWhat(p: Price, prices: readonly Price[], dimensions: ReadonlyMap<string, string | null>): string {
  const row = (o: Price) => ({ meter: { id: o.meter, dimension: dimensions.get(o.meter) ?? 'dimension' }, dimensionValue: o.dimension_value });
  return sliceLabel(p.meter, sliceOf(row(p), prices.map(row)));
}

/** The plan's prices as the form takes them: the API's shape, without the meter-less fields. */
const pricesText = (p: PlanJson): string => JSON.stringify(p.prices, null, 2);

export default function Catalog() {
  const { meters, plans, more } = useLoaderData<typeof loader>();
  const dimensions = new Map(meters.map((m) => [m.key, m.dimension]));
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  // A refused form keeps what was typed (the form is not re-keyed); a success clears it.
  const formKey = (name: string) => (outcome?.ok ? `${name}-${outcome.message}` : name);
  return (
    <>
      <h1>Catalog</h1>
      <SettingsNav />
      <p>
        Meters turn usage events into quantities; plans price them. A plan&apos;s prices and base fee belong to a <strong>version</strong>: a price change makes
        the next version, which new subscriptions take, while running subscriptions keep theirs until moved on purpose (a plan change to the same plan on the
        customer&apos;s page, now or at the period end). The API has the same: <code>/api/v1/meters</code>, <code>/api/v1/plans</code>,{' '}
        <code>/api/v1/plans/:key/versions</code>. Every change is in the audit history.
      </p>
      <OutcomeNotice outcome={outcome} />
      {more ? <p>Showing the first 100 meters and plans by key; the API lists them all.</p> : null}

      <h2 id="meters">Meters</h2>
      {meters.length === 0 ? (
        <p>No meters yet: add one below, then price it in a plan.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="meters">
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Name</th>
                <th scope="col">Event type</th>
                <th scope="col">Quantity</th>
                <th scope="col">Priced by</th>
              </tr>
            </thead>
            <tbody>
              {meters.map((m) => (
                <tr key={m.key} data-testid="meter-row">
                  <td>{m.key}</td>
                  <td>{m.name}</td>
                  <td>{m.event_type}</td>
                  <td>{m.aggregation === 'unique_count' ? `distinct ${m.property}` : m.aggregation}</td>
                  <td>{m.dimension ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Form method="post" action={PATH} key={formKey('meter')}>
        <fieldset>
          <legend>Add a meter</legend>
          <CsrfField />
          <input type="hidden" name="intent" value="create-meter" />
          <label htmlFor="meter-key">Key (plans name the meter by it)</label>
          <input id="meter-key" name="key" required maxLength={100} />
          <label htmlFor="meter-name">Name (shown on invoices)</label>
          <input id="meter-name" name="name" required maxLength={255} />
          <label htmlFor="meter-event-type">Event type (the event_type of the usage events it reads)</label>
          <input id="meter-event-type" name="event_type" required maxLength={255} />
          <label htmlFor="meter-aggregation">Quantity</label>
          <select id="meter-aggregation" name="aggregation" defaultValue="sum">
            {AGGREGATIONS.map(([value, label]) => (
              <option key={value} value={value}>
                {value}: {label}
              </option>
            ))}
          </select>
          <label htmlFor="meter-property">Property (distinct values only: the event property counted, e.g. user_id)</label>
          <input id="meter-property" name="property" maxLength={255} />
          <label htmlFor="meter-dimension">Dimension (optional: an event property plans may price value by value, e.g. model; set once)</label>
          <input id="meter-dimension" name="dimension" maxLength={255} />
          <button type="submit" disabled={busy}>
            Add meter
          </button>
        </fieldset>
      </Form>

      <h2 id="plans">Plans</h2>
      {plans.length === 0 ? <p>No plans yet: add one below.</p> : null}
      {plans.map((p) => (
        <section key={p.key} aria-labelledby={`plan-${p.key}`} data-testid="catalog-plan">
          <h3 id={`plan-${p.key}`}>
            {p.name} ({p.key}) · version {p.version}
            {p.active ? '' : ' · takes no new subscriptions'}
            {p.prepaid_only ? ' · prepaid credits only' : ''}
            {p.period_credits ? ` · ${p.period_credits.credits} credits each period${p.period_credits.rollover ? ', rolling over' : ''}` : ''}
          </h3>
          <p>
            {p.base_fee} {p.currency.toUpperCase()} per {p.interval}
          </p>
          {p.prices.length === 0 ? (
            <p>No usage prices: the base fee only.</p>
          ) : (
            <ul aria-label={`Prices of ${p.key} version ${p.version}`}>
              {p.prices.map((price) => (
                <li key={`${price.meter}|${price.dimension_value ?? ''}`}>
                  {pricedWhat(price, p.prices, dimensions)}: {describePrice(price)}
                </li>
              ))}
            </ul>
          )}
          <div className="table-wrap" tabIndex={0}>
            <table aria-label={`Versions of ${p.key}`}>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Base fee</th>
                  <th scope="col">Created</th>
                  <th scope="col">Subscriptions on it</th>
                </tr>
              </thead>
              <tbody>
                {p.versions.map((v) => (
                  <tr key={v.version} data-testid="plan-version-row">
                    <td>
                      {v.version}
                      {v.version === p.version ? ' (newest)' : ''}
                      {v.active ? '' : ' · inactive'}
                    </td>
                    <td>{v.base_fee}</td>
                    <td>{v.created_at.slice(0, 10)}</td>
                    <td>{v.subscriptions}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <details>
            <summary>Change prices: make version {p.version + 1}</summary>
            <Form method="post" action={PATH} key={formKey(`version-${p.key}-${p.version}`)}>
              <fieldset>
                <legend>
                  Version {p.version + 1} of {p.key}
                </legend>
                <CsrfField />
                <input type="hidden" name="intent" value="new-version" />
                <input type="hidden" name="plan" value={p.key} />
                <label htmlFor={`version-name-${p.key}`}>Name</label>
                <input id={`version-name-${p.key}`} name="name" defaultValue={p.name} maxLength={255} />
                <label htmlFor={`version-fee-${p.key}`}>Base fee ({p.currency.toUpperCase()} per {p.interval})</label>
                <input id={`version-fee-${p.key}`} name="base_fee" inputMode="decimal" defaultValue={p.base_fee} />
                <label htmlFor={`version-prices-${p.key}`}>Prices</label>
                <p className="hint" id={`version-prices-hint-${p.key}`}>
                  {PRICES_HINT}
                </p>
                <textarea id={`version-prices-${p.key}`} name="prices" rows={8} cols={70} aria-describedby={`version-prices-hint-${p.key}`} defaultValue={pricesText(p)} />
                <label>
                  <input type="checkbox" name="active" defaultChecked={p.active} /> Takes new subscriptions
                </label>
                <label>
                  <input type="checkbox" name="prepaid_only" defaultChecked={p.prepaid_only} /> Prepaid credits only (the entitlement check refuses usage the wallet cannot cover)
                </label>
                <PeriodCreditsFields idPrefix={`version-${p.key}`} current={p.period_credits} />
                <button type="submit" disabled={busy}>
                  Create version {p.version + 1}
                </button>
              </fieldset>
            </Form>
          </details>
        </section>
      ))}
      <Form method="post" action={PATH} key={formKey('plan')}>
        <fieldset>
          <legend>Add a plan</legend>
          <CsrfField />
          <input type="hidden" name="intent" value="create-plan" />
          <label htmlFor="plan-key">Key (subscriptions name the plan by it)</label>
          <input id="plan-key" name="key" required maxLength={100} />
          <label htmlFor="plan-name">Name</label>
          <input id="plan-name" name="name" required maxLength={255} />
          <label htmlFor="plan-currency">Currency (ISO 4217, e.g. usd)</label>
          <input id="plan-currency" name="currency" required maxLength={3} defaultValue="usd" />
          <label htmlFor="plan-interval">Billed every</label>
          <select id="plan-interval" name="interval" defaultValue="month">
            <option value="month">month</option>
            <option value="quarter">quarter</option>
            <option value="year">year</option>
          </select>
          <label htmlFor="plan-fee">Base fee per interval (empty: 0)</label>
          <input id="plan-fee" name="base_fee" inputMode="decimal" />
          <label htmlFor="plan-prices">Prices</label>
          <p className="hint" id="plan-prices-hint">
            {PRICES_HINT}
          </p>
          <textarea id="plan-prices" name="prices" rows={6} cols={70} aria-describedby="plan-prices-hint" defaultValue={meters.length > 0 ? PRICES_EXAMPLE.replace('api_calls', meters[0]!.key) : '[]'} />
          <label>
            <input type="checkbox" name="prepaid_only" /> Prepaid credits only (the entitlement check refuses usage the wallet cannot cover)
          </label>
          <PeriodCreditsFields idPrefix="plan" current={null} />
          <button type="submit" disabled={busy}>
            Add plan
          </button>
        </fieldset>
      </Form>
    </>
  );
}

/** A plan's credits granted each billing period (a recurring grant): empty for none. */
function PeriodCreditsFields({ idPrefix, current }: { idPrefix: string; current: { credits: string; rollover: boolean } | null }) {
  return (
    <>
      <label htmlFor={`${idPrefix}-period-credits`}>Credits each period (granted to the customer's wallet at each period start; empty: none)</label>
      <input id={`${idPrefix}-period-credits`} name="period_credits" inputMode="decimal" defaultValue={current?.credits ?? ''} />
      <label>
        <input type="checkbox" name="period_credits_rollover" defaultChecked={current?.rollover ?? false} /> What is left rolls over to the next period (else it expires at the period end)
      </label>
    </>
  );
}

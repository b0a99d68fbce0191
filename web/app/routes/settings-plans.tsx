import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { FEATURE_KINDS } from '../../../billing/entitlements';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { requireFormAction, requireUser } from '../server/auth.server';
import { applyPlanFeatureForm, readPlans } from '../server/plan-features.server';

const PATH = '/settings/plans';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_settings');
  return { plans: await readPlans(context, user.organizationId) };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_settings');
  const outcome = await applyPlanFeatureForm(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Plan features · Settings · Ledgerflow' }];
}

const KIND_HINT =
  'boolean: the plan includes the feature (tick Included) or not. limit: a request for up to that much is allowed (seats, projects, context tokens). config: a value apps read (a model name, a retention). Fill in only the field of the kind you choose.';

export default function PlanFeatures() {
  const { plans } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  return (
    <>
      <h1>Plan features</h1>
      <SettingsNav />
      <p>
        What each plan grants. <code>POST /api/v1/entitlements/check</code> with a feature answers from these: a customer is entitled to what any of its
        active subscriptions&apos; plans grants, and a refusal lists the plans that would grant it. The API has the same:{' '}
        <code>/api/v1/plans/:key/features</code>.
      </p>
      <OutcomeNotice outcome={outcome} />
      {plans.length === 0 ? (
        <p>
          No plans yet: add one on the <Link to="/settings/catalog">catalog page</Link>.
        </p>
      ) : (
        <Form method="post" action={PATH} key={outcome?.ok ? outcome.message : 'set'}>
          <fieldset>
            <legend>Set a feature (added, or replaced)</legend>
            <CsrfField />
            <input type="hidden" name="intent" value="set" />
            <label htmlFor="feature-plan">Plan</label>
            <select id="feature-plan" name="plan">
              {plans.map((p) => (
                <option key={p.key} value={p.key}>
                  {p.name} ({p.key})
                </option>
              ))}
            </select>
            <label htmlFor="feature-key">Feature (as apps ask for it)</label>
            <input id="feature-key" name="feature" required maxLength={128} />
            <label htmlFor="feature-kind">Kind</label>
            <p className="hint" id="feature-kind-hint">
              {KIND_HINT}
            </p>
            <select id="feature-kind" name="kind" aria-describedby="feature-kind-hint" defaultValue="" required>
              <option value="" disabled>
                Choose a kind
              </option>
              {FEATURE_KINDS.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
            <label>
              <input type="checkbox" name="enabled" /> Included (boolean)
            </label>
            <label htmlFor="feature-limit">Limit (limit)</label>
            <input id="feature-limit" name="limit" inputMode="decimal" />
            <label htmlFor="feature-value">Value (config)</label>
            <input id="feature-value" name="value" maxLength={255} />
            <button type="submit" disabled={busy}>
              Set feature
            </button>
          </fieldset>
        </Form>
      )}
      {plans.map((p) => (
        <section key={p.key} aria-labelledby={`plan-${p.key}`}>
          <h2 id={`plan-${p.key}`}>
            {p.name} ({p.key}) · version {p.version}
            {p.active ? '' : ' · inactive'}
          </h2>
          <p>
            {p.base_fee} {p.currency.toUpperCase()} per {p.interval}
          </p>
          {p.features.length === 0 ? (
            <p>No features: this plan grants none.</p>
          ) : (
            <div className="table-wrap" tabIndex={0}>
              <table aria-labelledby={`plan-${p.key}`}>
                <thead>
                  <tr>
                    <th scope="col">Feature</th>
                    <th scope="col">Grants</th>
                    <th scope="col">Action</th>
                  </tr>
                </thead>
                <tbody>
                  {p.features.map((f) => (
                    <tr key={f.feature} data-testid="plan-feature-row">
                      <td>{f.feature}</td>
                      <td>{f.kind === 'boolean' ? (f.enabled ? 'included' : 'switched off') : f.kind === 'limit' ? `up to ${f.limit}` : `"${f.value}"`}</td>
                      <td>
                        <Form method="post" action={PATH}>
                          <CsrfField />
                          <input type="hidden" name="intent" value="remove" />
                          <input type="hidden" name="plan" value={p.key} />
                          <input type="hidden" name="feature" value={f.feature} />
                          <button type="submit" disabled={busy}>
                            Remove {f.feature} from {p.key}
                          </button>
                        </Form>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      ))}
    </>
  );
}

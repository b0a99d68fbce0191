import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { QUOTA_MODES } from '../../../billing/quota';
import { QUOTA_WINDOWS } from '../../../billing/quota-window';
import type { QuotaLimitJson } from '../../../services/quota-limits';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { ConfirmAction } from '../components/confirm-action';
import { requireFormAction, requireUser } from '../server/auth.server';
import { applyQuotaLimitForm, findQuotaLimit, readQuotaLimits } from '../server/quota-limits.server';

const PATH = '/settings/quotas';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_settings');
  const params = new URL(request.url).searchParams;
  const [{ limits, more }, editing, removing] = await Promise.all([
    readQuotaLimits(context, user.organizationId),
    findQuotaLimit(context, user.organizationId, params.get('edit')),
    findQuotaLimit(context, user.organizationId, params.get('remove')),
  ]);
  return { limits, more, editing, removing };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_settings');
  const outcome = await applyQuotaLimitForm(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Quota limits · Settings · Ledgerflow' }];
}

const MODE_HINT =
  'HARD refuses events past the limit (after the grace period); SOFT accepts everything and warns at the percentage and at 100 %; DISABLED is no limit (it switches the default off for one customer).';

const whose = (l: QuotaLimitJson): string => l.customer_external_id ?? 'every customer (default)';

/** The fields a limit's settings take; `current` fills them in for an edit. */
function LimitFields({ prefix, current }: { prefix: string; current?: QuotaLimitJson }) {
  return (
    <>
      <label htmlFor={`${prefix}-mode`}>Mode</label>
      <select id={`${prefix}-mode`} name="mode" defaultValue={current?.mode ?? 'HARD'} aria-describedby={`${prefix}-mode-hint`}>
        {QUOTA_MODES.map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </select>
      <p id={`${prefix}-mode-hint`} className="hint">
        {MODE_HINT}
      </p>
      <label htmlFor={`${prefix}-limit`}>Limit (units of the event type per window; not needed for DISABLED)</label>
      <input id={`${prefix}-limit`} name="limit" inputMode="decimal" defaultValue={current && current.mode !== 'DISABLED' ? current.limit : ''} />
      <label htmlFor={`${prefix}-window`}>Resets every</label>
      <select id={`${prefix}-window`} name="reset_window" defaultValue={current?.reset_window ?? 'month'}>
        {QUOTA_WINDOWS.map((w) => (
          <option key={w} value={w}>
            {w === 'never' ? 'never (all time)' : `${w} (UTC)`}
          </option>
        ))}
      </select>
      <label htmlFor={`${prefix}-warn`}>Warn at (% of the limit, SOFT)</label>
      <input id={`${prefix}-warn`} name="soft_warning_percent" inputMode="numeric" defaultValue={String(current?.soft_warning_percent ?? 80)} />
      <label htmlFor={`${prefix}-grace`}>Grace (seconds a HARD limit keeps accepting once reached)</label>
      <input id={`${prefix}-grace`} name="grace_period_seconds" inputMode="numeric" defaultValue={String(current?.grace_period_seconds ?? 0)} />
    </>
  );
}

export default function QuotaLimits() {
  const { limits, more, editing, removing } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  return (
    <>
      <h1>Quota limits</h1>
      <SettingsNav />
      <p>
        A limit counts one event type&apos;s quantities per customer in a UTC window. A customer&apos;s own limit wins over the organization default (one per event
        type). Ingest applies a change to its next request; every change is in the audit history. The API has the same: <code>/api/v1/quota-limits</code>.
      </p>
      <OutcomeNotice outcome={outcome} />

      {removing ? (
        <ConfirmAction
          path={PATH}
          intent="remove"
          id={removing.id}
          question={`Remove the ${removing.mode} limit on ${removing.event_type} for ${whose(removing)}?`}
          consequence="Its usage counters go with it: a limit created again later starts counting from zero."
          confirm="Yes, remove this limit"
          busy={busy}
        />
      ) : null}

      {editing ? (
        <Form method="post" action={PATH} key={`edit-${editing.id}-${editing.updated_at}`}>
          <fieldset>
            <legend>
              Change the limit on {editing.event_type} for {whose(editing)}
            </legend>
            <CsrfField />
            <input type="hidden" name="intent" value="update" />
            <input type="hidden" name="id" value={editing.id} />
            <input type="hidden" name="updated_at" value={editing.updated_at} />
            <LimitFields prefix="edit" current={editing} />
            <button type="submit" disabled={busy}>
              Save limit
            </button>{' '}
            <Link to={PATH}>Cancel</Link>
          </fieldset>
        </Form>
      ) : (
        <Form method="post" action={PATH} key={outcome?.ok ? outcome.message : 'create'}>
          <fieldset>
            <legend>Add a limit</legend>
            <CsrfField />
            <input type="hidden" name="intent" value="create" />
            <label htmlFor="new-event-type">Event type</label>
            <input id="new-event-type" name="event_type" required maxLength={255} />
            <label htmlFor="new-customer">Customer (external id; empty = the organization default)</label>
            <input id="new-customer" name="customer_external_id" maxLength={255} />
            <LimitFields prefix="new" />
            <button type="submit" disabled={busy}>
              Add limit
            </button>
          </fieldset>
        </Form>
      )}

      <h2 id="limits">Limits</h2>
      {limits.length === 0 ? (
        <p>No quota limits: every event is accepted and none is counted against a limit.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="limits">
            <thead>
              <tr>
                <th scope="col">Event type</th>
                <th scope="col">Customer</th>
                <th scope="col">Mode</th>
                <th scope="col">Limit per window</th>
                <th scope="col">Warn / grace</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {limits.map((l) => (
                <tr key={l.id} data-testid="quota-limit-row">
                  <td>{l.event_type}</td>
                  <td>{whose(l)}</td>
                  <td>{l.mode}</td>
                  <td>{l.mode === 'DISABLED' ? '—' : `${l.limit} per ${l.reset_window === 'never' ? 'all time' : l.reset_window}`}</td>
                  <td>
                    {l.soft_warning_percent} % / {l.grace_period_seconds} s
                  </td>
                  <td>
                    <Link to={`${PATH}?edit=${l.id}`} aria-label={`Change the limit on ${l.event_type} for ${whose(l)}`}>
                      Change
                    </Link>{' '}
                    ·{' '}
                    <Link to={`${PATH}?remove=${l.id}`} aria-label={`Remove the limit on ${l.event_type} for ${whose(l)}`}>
                      Remove…
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more ? <p>More limits than this page shows: list them all through the API.</p> : null}
    </>
  );
}

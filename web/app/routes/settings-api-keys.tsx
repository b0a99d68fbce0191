import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { API_SCOPES } from '../../../prisma/api-scopes';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { ConfirmAction } from '../components/confirm-action';
import { applyApiKeyForm, findApiKey, listApiKeys } from '../server/api-keys.server';
import { requireFormAction, requireUser } from '../server/auth.server';
import { OutcomeNotice } from '../components/outcome-notice';

const PATH = '/settings/api-keys';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_api_keys');
  const confirming = await findApiKey(context, user.organizationId, new URL(request.url).searchParams.get('revoke'));
  return { keys: await listApiKeys(context, user.organizationId), confirming: confirming && !confirming.revokedAt ? confirming : null };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_api_keys');
  const outcome = await applyApiKeyForm(context, user, form);
  // The new key travels in this response only: never cached, never stored.
  return data(outcome, { status: outcome.ok ? 200 : 400, headers: { 'Cache-Control': 'no-store' } });
}

export function meta() {
  return [{ title: 'API keys · Settings · Ledgerflow' }];
}

const day = (iso: string | null): string => (iso ? iso.replace('T', ' ').slice(0, 16) : '—');

export default function ApiKeys() {
  const { keys, confirming } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  return (
    <>
      <h1>API keys</h1>
      <SettingsNav />
      <p>Systems send usage events and manage the catalog with these keys. A key is shown once, when it is created; only its hash is stored.</p>
      <p>
        Each key does only what its scopes allow: <strong>ingest</strong> posts usage events and asks entitlement checks, <strong>read</strong> reads everything,{' '}
        <strong>billing</strong> makes finance&apos;s changes (invoice decisions, credit notes, catalog, subscriptions), <strong>admin</strong> changes the
        organization&apos;s settings (its Stripe key, alert channels), <strong>proxy</strong> calls models through the AI proxy (and nothing else). An app
        that meters its usage needs ingest only.
      </p>
      <OutcomeNotice outcome={outcome}>
        {outcome?.ok && outcome.created ? (
          <div className="notice ok">
            <label htmlFor="new-key">New API key “{outcome.created.name}” — copy it now, it will not be shown again</label>
            <input id="new-key" readOnly value={outcome.created.key} onFocus={(e) => e.currentTarget.select()} data-testid="new-api-key" />
          </div>
        ) : null}
      </OutcomeNotice>

      {confirming ? (
        <ConfirmAction
          path={PATH}
          intent="revoke"
          id={confirming.id}
          question={`Revoke “${confirming.name}” (${confirming.prefix}…)?`}
          consequence="The API refuses requests with this key within seconds. This cannot be undone; systems using it need a new key."
          confirm="Yes, revoke this key"
          busy={busy}
        />
      ) : null}

      {/* Keyed on the new key: a successful create clears the form. */}
      <Form method="post" action={PATH} key={outcome?.ok && outcome.created ? outcome.created.prefix : 'create'}>
        <fieldset>
          <legend>Create a key</legend>
          <CsrfField />
          <input type="hidden" name="intent" value="create" />
          <label htmlFor="key-name">Name (who uses it)</label>
          <input id="key-name" name="name" required maxLength={100} />
          <fieldset>
            <legend>Scopes</legend>
            {API_SCOPES.map((scope) => (
              <label key={scope} className="inline">
                <input type="checkbox" name="scope" value={scope} defaultChecked={scope === 'ingest'} /> {scope}
              </label>
            ))}
          </fieldset>
          <button type="submit" disabled={busy}>
            Create key
          </button>
        </fieldset>
      </Form>

      <h2 id="keys">Keys</h2>
      {keys.length === 0 ? (
        <p>No API keys yet.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="keys">
            <thead>
              <tr>
                <th scope="col">Name and prefix</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created (UTC)</th>
                <th scope="col">Last used (UTC)</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id}>
                  <td>
                    {k.name}
                    <br />
                    <code data-testid="api-key-prefix">{k.prefix}…</code>
                  </td>
                  <td data-testid="api-key-scopes">{k.scopes.join(', ')}</td>
                  <td>{day(k.createdAt)}</td>
                  <td>{day(k.lastUsedAt)}</td>
                  <td>
                    {k.revokedAt ? (
                      `Revoked ${day(k.revokedAt)}`
                    ) : (
                      <>
                        Active · <Link to={`${PATH}?revoke=${k.id}`} aria-label={`Revoke ${k.name}`}>Revoke…</Link>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

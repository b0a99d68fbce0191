import { data, Form, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { requireFormAction, requireUser } from '../server/auth.server';
import { applyProxyUpstreamForm, readProxyUpstreams, VENDOR_NAMES } from '../server/proxy-upstreams.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_settings');
  const upstreams = await readProxyUpstreams(context, user.organizationId);
  return { upstreams, vendors: Object.entries(VENDOR_NAMES).map(([vendor, name]) => ({ vendor, name })) };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_settings');
  const outcome = await applyProxyUpstreamForm(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'AI proxy · Settings · Ledgerflow' }];
}

export default function AiProxySettings() {
  const { upstreams, vendors } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  return (
    <>
      <h1>AI proxy</h1>
      <SettingsNav />
      <p>
        Apps that point their OpenAI or Anthropic client at the Ledgerflow proxy (with a key of the <strong>proxy</strong> scope, made on the API keys page)
        are metered without code: the proxy checks the customer&apos;s quota and credits, forwards the call to the upstream set here with its vendor key, and
        records one usage event per call. The vendor key is stored encrypted and never shown again.
      </p>
      <OutcomeNotice outcome={outcome} />

      <h2 id="upstreams">Upstreams</h2>
      {upstreams.length === 0 ? (
        <p>No upstream yet: the proxy refuses calls until one is set for their vendor.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="upstreams">
            <thead>
              <tr>
                <th scope="col">Vendor protocol</th>
                <th scope="col">Base URL</th>
                <th scope="col">Vendor key</th>
                <th scope="col">Event type</th>
                <th scope="col">Changed (UTC)</th>
              </tr>
            </thead>
            <tbody>
              {upstreams.map((u) => (
                <tr key={u.vendor} data-testid={`upstream-${u.vendor}`}>
                  <td>{vendors.find((v) => v.vendor === u.vendor)?.name ?? u.vendor}</td>
                  <td>
                    <code>{u.base_url}</code>
                  </td>
                  <td>{u.api_key.last4 ? `…${u.api_key.last4}` : 'does not open: set it again'}</td>
                  <td>
                    <code>{u.event_type}</code>
                  </td>
                  <td>{u.updated_at.replace('T', ' ').slice(0, 16)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {vendors.map(({ vendor, name }) => {
        const current = upstreams.find((u) => u.vendor === vendor);
        return (
          <Form method="post" key={`${vendor}-${current?.updated_at ?? 'new'}`}>
            <fieldset>
              <legend>{`${current ? 'Change' : 'Set'} the ${name} upstream`}</legend>
              <CsrfField />
              <input type="hidden" name="vendor" value={vendor} />
              <label htmlFor={`${vendor}-base-url`}>Base URL, up to and including the version path</label>
              <input id={`${vendor}-base-url`} name="base_url" required defaultValue={current?.base_url ?? (vendor === 'openai' ? 'https://api.openai.com/v1' : 'https://api.anthropic.com/v1')} />
              <label htmlFor={`${vendor}-api-key`}>Vendor API key{current ? ' (enter it again to change anything)' : ''}</label>
              <input id={`${vendor}-api-key`} name="api_key" type="password" required autoComplete="off" />
              <label htmlFor={`${vendor}-event-type`}>Event type each call is metered as</label>
              <input id={`${vendor}-event-type`} name="event_type" defaultValue={current?.event_type ?? 'llm.completion'} />
              <button type="submit" disabled={busy}>
                {`Save the ${name} upstream`}
              </button>
            </fieldset>
          </Form>
        );
      })}
    </>
  );
}

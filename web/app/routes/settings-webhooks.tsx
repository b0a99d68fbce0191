import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { WEBHOOK_EVENT_TYPE_NAMES, WEBHOOK_EVENT_TYPES, attemptSummary } from '../../../billing/webhooks';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { ConfirmAction } from '../components/confirm-action';
import { requireFormAction, requireUser } from '../server/auth.server';
import { applyWebhookForm, readWebhooks, type WebhookEndpointJson } from '../server/webhooks.server';

const PATH = '/settings/webhooks';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_settings');
  return readWebhooks(context, user.organizationId, new URL(request.url).searchParams);
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_settings');
  const outcome = await applyWebhookForm(context, user, form);
  // A new signing secret travels in this response only: never cached.
  return data(outcome, { status: outcome.ok ? 200 : 400, headers: { 'Cache-Control': 'no-store' } });
}

export function meta() {
  return [{ title: 'Webhooks · Settings · Ledgerflow' }];
}

const time = (iso: string | null): string => (iso ? iso.replace('T', ' ').slice(0, 19) : '—');
const types = (e: WebhookEndpointJson): string => (e.event_types.length === 0 ? 'every type' : e.event_types.join(', '));

/** A one-button form posting `intent` for `id`. */
function ActionButton({ intent, id, label, busy, className }: { intent: string; id: string; label: string; busy: boolean; className?: string }) {
  return (
    <Form method="post" action={PATH} style={{ display: 'inline' }}>
      <CsrfField />
      <input type="hidden" name="intent" value={intent} />
      <input type="hidden" name="id" value={id} />
      <button type="submit" disabled={busy} {...(className ? { className } : {})}>
        {label}
      </button>
    </Form>
  );
}

export default function Webhooks() {
  const { endpoints, deliveries, moreDeliveries, endpointId, delivery, removing } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const filtered = endpoints.find((e) => e.id === endpointId);
  return (
    <>
      <h1>Webhooks</h1>
      <SettingsNav />
      <p>
        Your systems hear about invoices, quota crossings, revenue leaks and margin alerts as they happen. Each event is a signed POST (Standard Webhooks: verify
        the <code>webhook-signature</code> header with the endpoint&apos;s secret and drop repeats by <code>webhook-id</code>). A delivery that gets no 2xx is
        tried again after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, then marked failed; you can send it again. The API has the same:{' '}
        <code>/api/v1/webhook-endpoints</code>.
      </p>
      <OutcomeNotice outcome={outcome}>
        {outcome?.ok && outcome.secret ? (
          <div className="notice ok">
            <label htmlFor="new-secret">Signing secret for {outcome.secret.url} — copy it now, it will not be shown again</label>
            <input id="new-secret" readOnly value={outcome.secret.value} onFocus={(e) => e.currentTarget.select()} data-testid="webhook-secret" />
          </div>
        ) : null}
      </OutcomeNotice>

      {removing ? (
        <ConfirmAction
          path={PATH}
          intent="remove"
          id={removing.id}
          question={`Remove the endpoint ${removing.url}?`}
          consequence="Its delivery log goes with it, and deliveries still being retried stop. To pause it instead, disable it."
          confirm="Yes, remove this endpoint"
          busy={busy}
        />
      ) : null}

      <Form method="post" action={PATH} key={outcome?.ok ? outcome.message : 'create'}>
        <fieldset>
          <legend>Add an endpoint</legend>
          <CsrfField />
          <input type="hidden" name="intent" value="create" />
          <label htmlFor="new-url">URL (https, on a public address)</label>
          <input
            id="new-url"
            name="url"
            type="url"
            required
            maxLength={2000}
            placeholder="https://erp.example.com/hooks/ledgerflow"
            {...(outcome && !outcome.ok && outcome.field === 'url' ? { 'aria-invalid': true } : {})}
          />
          <label htmlFor="new-description">Description (optional)</label>
          <input id="new-description" name="description" maxLength={200} />
          <fieldset>
            <legend>Event types (none ticked: every type, including ones added later)</legend>
            {WEBHOOK_EVENT_TYPE_NAMES.map((t) => (
              <div key={t}>
                <input type="checkbox" id={`type-${t}`} name="event_types" value={t} aria-describedby={`type-${t}-hint`} />{' '}
                <label htmlFor={`type-${t}`} style={{ display: 'inline' }}>
                  <code>{t}</code>
                </label>{' '}
                <span id={`type-${t}-hint`} className="hint">
                  {WEBHOOK_EVENT_TYPES[t]}
                </span>
              </div>
            ))}
          </fieldset>
          <button type="submit" disabled={busy}>
            Add endpoint
          </button>
        </fieldset>
      </Form>

      <h2 id="endpoints">Endpoints</h2>
      {endpoints.length === 0 ? (
        <p>No endpoints: events are recorded, and sent nowhere.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="endpoints">
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Receives</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {endpoints.map((e) => (
                <tr key={e.id} data-testid="webhook-endpoint-row">
                  <td>
                    {e.url}
                    {e.description ? <div className="hint">{e.description}</div> : null}
                  </td>
                  <td>{types(e)}</td>
                  <td>{e.enabled ? 'enabled' : 'disabled'}</td>
                  <td>
                    <Link to={`${PATH}?endpoint=${e.id}#deliveries`} aria-label={`Deliveries to ${e.url}`}>
                      Deliveries
                    </Link>{' '}
                    · <ActionButton intent={e.enabled ? 'disable' : 'enable'} id={e.id} label={e.enabled ? 'Disable' : 'Enable'} busy={busy} /> ·{' '}
                    <ActionButton intent="rotate" id={e.id} label="New secret" busy={busy} /> ·{' '}
                    <Link to={`${PATH}?remove=${e.id}`} aria-label={`Remove ${e.url}`}>
                      Remove…
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {delivery ? (
        <section aria-labelledby="delivery" className="breakable">
          <h2 id="delivery">
            Delivery of {delivery.event_type} to {delivery.endpoint_url}
          </h2>
          <p>
            Event <code>{delivery.event_id}</code> (the <code>webhook-id</code> header) · {delivery.status}
            {delivery.status === 'pending' && delivery.next_attempt_at ? `, next attempt at ${time(delivery.next_attempt_at)} UTC` : ''} · round {delivery.round}
          </p>
          {delivery.status === 'pending' ? null : <ActionButton intent="redeliver" id={delivery.id} label="Send again" busy={busy} />}
          <div className="table-wrap" tabIndex={0}>
            <table aria-labelledby="delivery">
              <thead>
                <tr>
                  <th scope="col">Round</th>
                  <th scope="col">Attempt</th>
                  <th scope="col">At (UTC)</th>
                  <th scope="col">Result</th>
                  <th scope="col">Took</th>
                  <th scope="col">Sent to</th>
                </tr>
              </thead>
              <tbody>
                {delivery.attempts_log.map((a) => (
                  <tr key={`${a.round}-${a.attempt}`} data-testid="webhook-attempt-row">
                    <td>{a.round}</td>
                    <td>{a.attempt}</td>
                    <td>{time(a.attempted_at)}</td>
                    <td>{a.succeeded ? `delivered (HTTP ${a.status_code})` : attemptSummary({ statusCode: a.status_code, error: a.error })}</td>
                    <td>{a.duration_ms} ms</td>
                    <td>
                      <code>{a.url || 'not recorded'}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h3>Body sent</h3>
          <pre className="body">
            {JSON.stringify(JSON.parse(delivery.body), null, 2)}
          </pre>
        </section>
      ) : null}

      <h2 id="deliveries">Delivery log{filtered ? ` for ${filtered.url}` : ''}</h2>
      {filtered ? <Link to={PATH}>Show deliveries to every endpoint</Link> : null}
      {deliveries.length === 0 ? (
        <p>No deliveries yet.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="deliveries">
            <thead>
              <tr>
                <th scope="col">Created (UTC)</th>
                <th scope="col">Event</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last result</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id} data-testid="webhook-delivery-row">
                  <td>{time(d.created_at)}</td>
                  <td>{d.event_type}</td>
                  <td>{d.endpoint_url}</td>
                  <td>{d.status === 'pending' && d.next_attempt_at ? `retrying at ${time(d.next_attempt_at)}` : d.status}</td>
                  <td>{d.round > 1 ? `${d.attempts} (round ${d.round})` : d.attempts}</td>
                  <td>{d.attempts === 0 ? '—' : d.status === 'succeeded' ? `HTTP ${d.last_status_code}` : attemptSummary({ statusCode: d.last_status_code, error: d.last_error })}</td>
                  <td>
                    <Link to={`${PATH}?delivery=${d.id}${endpointId ? `&endpoint=${endpointId}` : ''}#delivery`} aria-label={`Attempts of ${d.event_type} to ${d.endpoint_url}`}>
                      Attempts
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {moreDeliveries ? <p>Older deliveries are listed through the API (GET /api/v1/webhook-deliveries).</p> : null}
    </>
  );
}

import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { requireFormAction, requireUser } from '../server/auth.server';
import { applyRerateForm, readUnpricedEvents } from '../server/unpriced-events.server';

const PATH = '/settings/unpriced';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_settings');
  return readUnpricedEvents(context, user.organizationId);
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_settings');
  const outcome = await applyRerateForm(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Unpriced events · Settings · Ledgerflow' }];
}

const minute = (iso: string): string => iso.replace('T', ' ').slice(0, 16);
const lineText = (line: unknown): string => (typeof line === 'object' && line !== null ? JSON.stringify(line) : String(line));

function RerateButton({ vendor, model, label, disabled }: { vendor?: string; model?: string; label: string; disabled: boolean }) {
  return (
    <Form method="post" action={PATH}>
      <CsrfField />
      <input type="hidden" name="intent" value="rerate" />
      {vendor !== undefined ? <input type="hidden" name="vendor" value={vendor} /> : null}
      {model !== undefined ? <input type="hidden" name="model" value={model} /> : null}
      <button type="submit" disabled={disabled}>
        {label}
      </button>
    </Form>
  );
}

export default function UnpricedEvents() {
  const { summary, data: events } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const priceable = summary.reduce((n, s) => n + s.priceable_now, 0);
  return (
    <>
      <h1>Unpriced events</h1>
      <SettingsNav />
      <p>
        Usage lines rating could not price: no rate of their vendor and model was in effect at the event&apos;s time, the rate in effect has no price for one
        of their counts, or they are not usage lines. Their cost is unknown, not zero; the event&apos;s cost holds its other lines. Once a rate prices them —
        for the time before a model&apos;s first rate, add one with an earlier start on <Link to="/settings/rates">Vendor rates</Link> — re-rate: lines priced
        before keep their cost, each event re-rated is in the audit log. The API has the same: <code>/api/v1/unpriced-events</code>.
      </p>
      <OutcomeNotice outcome={outcome} />
      <h2 id="by-model">By vendor and model</h2>
      {summary.length === 0 ? (
        <p>No unpriced usage: every usage line of every rated event has its cost.</p>
      ) : (
        <>
          <div className="table-wrap" tabIndex={0}>
            <table aria-labelledby="by-model">
              <thead>
                <tr>
                  <th scope="col">Vendor / model</th>
                  <th scope="col">Events</th>
                  <th scope="col">Unpriced lines</th>
                  <th scope="col">A rate prices now</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {summary.map((s) => (
                  <tr key={`${s.vendor}/${s.model}`} data-testid="unpriced-summary-row">
                    <td>{s.vendor === '' ? 'Not usage lines' : `${s.vendor} / ${s.model}`}</td>
                    <td>{s.events}</td>
                    <td>{s.lines}</td>
                    <td>{s.priceable_now}</td>
                    <td>
                      {s.priceable_now > 0 ? <RerateButton vendor={s.vendor} model={s.model} label={`Re-rate ${s.vendor}/${s.model}`} disabled={busy} /> : 'Needs a rate'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {priceable > 0 ? <RerateButton label="Re-rate everything a rate now prices" disabled={busy} /> : null}
        </>
      )}
      {events.length > 0 ? (
        <>
          <h2 id="events">Newest unpriced events</h2>
          <div className="table-wrap" tabIndex={0}>
            <table aria-labelledby="events">
              <thead>
                <tr>
                  <th scope="col">Time (UTC)</th>
                  <th scope="col">Customer / event</th>
                  <th scope="col">Priced cost</th>
                  <th scope="col">Unpriced lines, and why</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => (
                  <tr key={e.id} data-testid="unpriced-event-row">
                    <td>{minute(e.timestamp)}</td>
                    <td>
                      {e.customer_external_id} · {e.event_type} · <code>{e.idempotency_key}</code>
                    </td>
                    <td>{e.cost ?? '—'}</td>
                    <td>
                      <ul>
                        {e.unpriced.map((u, i) => (
                          <li key={i}>
                            <code>{lineText(u.line)}</code>: {u.detail}
                          </li>
                        ))}
                      </ul>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </>
  );
}

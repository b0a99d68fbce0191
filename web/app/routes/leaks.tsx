import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { CsrfField, useCan } from '../components/session';
import { usePolling } from '../components/use-polling';
import { requireFormAction, requireUser } from '../server/auth.server';
import { FINDING_KINDS, FINDING_STATUSES } from '../leak-options';
import { dismissFromWeb, listFindings } from '../server/leaks.server';
import { OutcomeNotice } from '../components/outcome-notice';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const params = new URL(request.url).searchParams;
  return { ...(await listFindings(context, user.organizationId, params)), highlight: params.get('finding') };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'dismiss_leaks');
  const outcome = await dismissFromWeb(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 409 });
}

export function meta() {
  return [{ title: 'Revenue leaks · Ledgerflow' }];
}

function Dismiss({ findingId }: { findingId: string }) {
  const busy = useNavigation().state === 'submitting';
  return (
    <Form method="post" className="inline-form">
      <CsrfField />
      <input type="hidden" name="finding" value={findingId} />
      <label htmlFor={`reason-${findingId}`}>Reason for dismissing</label>
      <input id={`reason-${findingId}`} name="reason" required maxLength={500} />
      <button type="submit" disabled={busy}>
        Dismiss
      </button>
    </Form>
  );
}

export default function Leaks() {
  const { findings, recovered, status, kind, highlight } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const mayDismiss = useCan('dismiss_leaks');
  // Findings and their actions change while a reconciliation runs.
  usePolling();
  return (
    <>
      <h1>Revenue leaks</h1>
      <p>
        Recovered so far: <strong>{recovered.length === 0 ? 'nothing yet' : recovered.join(', ')}</strong>
      </p>
      <Form method="get" className="filters" aria-label="Filter findings">
        <div className="field">
          <label htmlFor="leak-status">Status</label>
          <select id="leak-status" name="status" defaultValue={status ?? ''}>
            <option value="">any</option>
            {FINDING_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="leak-kind">Kind</label>
          <select id="leak-kind" name="kind" defaultValue={kind ?? ''}>
            <option value="">any</option>
            {FINDING_KINDS.map((k) => (
              <option key={k} value={k}>
                {k.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </div>
        <div className="actions">
          <button type="submit">Filter</button>
          <Link to="/leaks">Clear</Link>
        </div>
      </Form>
      <OutcomeNotice outcome={outcome} />
      {findings.length === 0 ? <p>No findings match.</p> : null}
      {findings.map((f) => (
        <article key={f.id} className={`finding${highlight === f.id ? ' highlight' : ''}`} aria-labelledby={`finding-${f.id}`} data-testid="finding">
          <h2 id={`finding-${f.id}`}>
            {f.kind}: {f.customer}, {f.subject}
          </h2>
          <p>
            {f.period} · Status <span className="status">{f.status}</span> · Confidence {f.confidence}
          </p>
          <dl className="amounts">
            <dt>Expected</dt>
            <dd>{f.expected}</dd>
            <dt>Billed</dt>
            <dd>{f.billed}</dd>
            <dt>Leak</dt>
            <dd>{f.leak}</dd>
          </dl>
          {f.reasons.length > 0 ? (
            <>
              <h3>Why the confidence is lower</h3>
              <ul>
                {f.reasons.map((r) => (
                  <li key={r}>{r}</li>
                ))}
              </ul>
            </>
          ) : null}
          <h3>Actions taken</h3>
          {f.actions.length === 0 ? <p>None yet.</p> : <ul>{f.actions.map((a) => <li key={a}>{a}</li>)}</ul>}
          <p>
            <Link to={`/audit?entity_type=leak_finding&entity_id=${f.id}`}>Audit history of this finding</Link>
          </p>
          {mayDismiss && (f.status === 'open' || f.status === 'actioned') ? <Dismiss findingId={f.id} /> : null}
        </article>
      ))}
    </>
  );
}

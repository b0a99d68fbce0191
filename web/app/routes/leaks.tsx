import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { CsrfField, useCan } from '../components/session';
import { usePolling } from '../components/use-polling';
import { requireFormAction, requireUser } from '../server/auth.server';
import { FINDING_KINDS, FINDING_STATUSES } from '../leak-options';
import { dismissFromWeb, lastFullMonth, listFindings, startReconciliationFromWeb, type ReconcileOutcome } from '../server/leaks.server';
import { OutcomeNotice } from '../components/outcome-notice';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const params = new URL(request.url).searchParams;
  return { ...(await listFindings(context, user.organizationId, params)), highlight: params.get('finding'), defaultMonth: lastFullMonth() };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, (f) => (f.get('intent') === 'reconcile' ? 'run_reconciliations' : 'dismiss_leaks'));
  if (form.get('intent') === 'reconcile') {
    const outcome: ReconcileOutcome = await startReconciliationFromWeb(context, user, form);
    return data(outcome, { status: outcome.ok ? 202 : 400 });
  }
  const outcome: ReconcileOutcome = await dismissFromWeb(context, user, form);
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

function RunReconciliation({ defaultMonth }: { defaultMonth: string }) {
  const busy = useNavigation().state === 'submitting';
  return (
    <Form method="post" className="inline-form" aria-label="Run a reconciliation">
      <CsrfField />
      <input type="hidden" name="intent" value="reconcile" />
      <label htmlFor="reconcile-month">Reconcile month (UTC)</label>
      <input id="reconcile-month" name="month" type="month" required defaultValue={defaultMonth} aria-describedby="reconcile-month-hint" />
      <small id="reconcile-month-hint" className="hint">
        Looks for leaks in the invoices whose period starts in that month, and takes the recovery actions.
      </small>
      <button type="submit" disabled={busy}>
        Run reconciliation
      </button>
    </Form>
  );
}

type Runs = ReturnType<typeof useLoaderData<typeof loader>>['runs'];

function RecentRuns({ runs }: { runs: Runs }) {
  if (runs.length === 0) return <p>No reconciliation has run yet.</p>;
  return (
    <div className="table-wrap" tabIndex={0}>
      <table>
        <caption className="skip">Recent reconciliations</caption>
        <thead>
          <tr>
            <th scope="col">Period</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">
              Findings
            </th>
            <th scope="col" className="num">
              Actioned
            </th>
            <th scope="col">Started (UTC)</th>
            <th scope="col">Completed (UTC)</th>
            <th scope="col">Temporal</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} data-testid="reconciliation-run">
              <td>{r.period}</td>
              <td>{r.status}</td>
              <td className="num">{r.findings}</td>
              <td className="num">{r.actions}</td>
              <td>{r.started}</td>
              <td>{r.completed ?? '—'}</td>
              <td>
                <a href={r.temporalUrl}>
                  run<span className="skip"> of {r.period}</span>
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function Leaks() {
  const { findings, recovered, status, kind, highlight, runs, defaultMonth } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const mayDismiss = useCan('dismiss_leaks');
  const mayReconcile = useCan('run_reconciliations');
  // Findings and their actions change while a reconciliation runs.
  usePolling();
  return (
    <>
      <h1>Revenue leaks</h1>
      <p>
        Recovered so far: <strong>{recovered.length === 0 ? 'nothing yet' : recovered.join(', ')}</strong>
      </p>
      <OutcomeNotice outcome={outcome} />
      <h2>Reconciliations</h2>
      {mayReconcile ? <RunReconciliation defaultMonth={defaultMonth} /> : null}
      <RecentRuns runs={runs} />
      <h2>Findings</h2>
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
          {f.actions.length === 0 ? (
            <p>None yet.</p>
          ) : (
            <ul>
              {f.actions.map((a) => (
                <li key={a.id}>
                  {a.label}
                  {a.invoiceId ? (
                    <>
                      {' '}
                      (<Link to={`/invoices/${a.invoiceId}`}>open the recovery invoice</Link>)
                    </>
                  ) : null}
                </li>
              ))}
            </ul>
          )}
          <p>
            <Link to={`/audit?entity_type=leak_finding&entity_id=${f.id}`}>Audit history of this finding</Link>
          </p>
          {mayDismiss && (f.status === 'open' || f.status === 'actioned') ? <Dismiss findingId={f.id} /> : null}
        </article>
      ))}
    </>
  );
}

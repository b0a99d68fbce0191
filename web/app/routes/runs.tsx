import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField, useCan } from '../components/session';
import { usePolling } from '../components/use-polling';
import { requireFormAction, requireUser } from '../server/auth.server';
import { listBillingRuns, parseRunStatusFilter, retryRunFromWeb, RUN_STATUS_FILTERS } from '../server/runs.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const status = parseRunStatusFilter(new URL(request.url).searchParams.get('status'));
  const filters = Object.entries(RUN_STATUS_FILTERS).map(([value, f]) => ({ value, label: f.label }));
  return { status: status ? { value: status, label: RUN_STATUS_FILTERS[status].label } : null, filters, ...(await listBillingRuns(context, user.organizationId, status)) };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'operate_runs');
  const outcome = await retryRunFromWeb(context, user, form);
  return data(outcome, { status: outcome.ok ? 202 : 409 });
}

function Retry({ workflowId }: { workflowId: string }) {
  const busy = useNavigation().state === 'submitting';
  return (
    <Form method="post" className="inline-form">
      <CsrfField />
      <input type="hidden" name="workflow" value={workflowId} />
      <button type="submit" disabled={busy} aria-label={`Retry ${workflowId}`}>
        Retry
      </button>
    </Form>
  );
}

export function meta() {
  return [{ title: 'Billing runs · Ledgerflow' }];
}

export default function Runs() {
  const { runs, status, filters, visibilityError } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const mayRetry = useCan('operate_runs');
  // Phases and statuses move on by themselves: keep the list current.
  usePolling();
  return (
    <>
      <h1>Billing runs</h1>
      <p>
        Each run is a Temporal workflow; open it in the Temporal UI to see its history, or to replay or reset it. A run that failed (a price that cannot be computed, a step that
        failed for good) can be retried here once its cause is fixed: it starts over and resumes where its invoice stands, so nothing is billed twice. This page refreshes every
        few seconds.
      </p>
      <OutcomeNotice outcome={outcome} />
      <Form method="get" className="filters">
        <label htmlFor="status">Status</label>
        <select id="status" name="status" defaultValue={status?.value ?? ''} key={status?.value ?? ''} style={{ font: 'inherit' }}>
          <option value="">All</option>
          {filters.map((f) => (
            <option key={f.value} value={f.value}>
              {f.label}
            </option>
          ))}
        </select>{' '}
        <button type="submit">Filter</button>
      </Form>
      {visibilityError ? (
        <p className="notice error" role="status">
          {visibilityError}
        </p>
      ) : null}
      {runs.length === 0 ? (
        <p>{status ? `No ${status.label.toLowerCase()} billing runs.` : 'No billing runs yet.'}</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Customer and period</th>
                <th scope="col">Status and phase</th>
                <th scope="col">Failure reason</th>
                <th scope="col" className="num">
                  Total
                </th>
                <th scope="col">Temporal UI</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.workflowId} data-testid={`run-${r.workflowId}`}>
                  <td>
                    {r.invoiceId ? <Link to={`/invoices/${r.invoiceId}`}>{r.customer}</Link> : r.customer}
                    <br />
                    {r.period}
                  </td>
                  <td>
                    <span className="status" data-testid="run-status">
                      {r.temporalStatus.replace(/_/g, ' ').toLowerCase()}
                    </span>
                    <br />
                    phase: <span data-testid="run-phase">{r.phase}</span>
                  </td>
                  <td data-testid="run-failure">
                    {r.failure ?? ''}
                    {mayRetry && r.retryable ? <Retry workflowId={r.workflowId} /> : null}
                  </td>
                  <td className="num">{r.total ?? ''}</td>
                  <td>
                    <a href={r.temporalUrl} aria-label={`Open ${r.workflowId} in the Temporal UI`}>
                      {r.workflowId}
                    </a>
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

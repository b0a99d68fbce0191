import { Link, useLoaderData, type LoaderFunctionArgs } from 'react-router';
import { EventsPerMinuteChart } from '../components/events-chart';
import { usePolling } from '../components/use-polling';
import { requireUser } from '../server/auth.server';
import { lookUpRequest, readOverview, type ProcessingBatchRow } from '../server/overview.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const requestId = new URL(request.url).searchParams.get('request');
  const [overview, lookup] = await Promise.all([
    readOverview(context, user.organizationId),
    requestId ? lookUpRequest(context, user.organizationId, requestId) : Promise.resolve(null),
  ]);
  return { ...overview, lookup };
}

function WorkflowLink({ batch }: { batch: ProcessingBatchRow }) {
  if (!batch.workflowId || !batch.temporalUrl) return <>not started yet</>;
  return (
    <a href={batch.temporalUrl} aria-label={`Open ${batch.workflowId} in the Temporal UI`}>
      {batch.workflowId}
    </a>
  );
}

export function meta() {
  return [{ title: 'Overview · Ledgerflow' }];
}

export default function Overview() {
  const o = useLoaderData<typeof loader>();
  // Workflow counts and drafts change as runs move on: keep them current.
  usePolling();
  return (
    <>
      <h1>Overview</h1>
      <section aria-labelledby="headline" className="cards">
        <h2 id="headline" className="skip">
          Headline figures
        </h2>
        <div className="card">
          Drafts awaiting approval
          <strong>{o.draftsAwaitingApproval}</strong>
          <Link to="/invoices">Review drafts</Link>
        </div>
        {'unavailable' in o.workflows ? (
          <div className="card" role="status">
            Workflows: {o.workflows.unavailable}
          </div>
        ) : (
          <>
            <div className="card">
              Running workflows
              <strong>{o.workflows.running}</strong>
            </div>
            <div className="card">
              Failed workflows
              <strong>{o.workflows.failed}</strong>
              <Link to="/runs">Billing runs</Link>
            </div>
          </>
        )}
        {o.recurring.map((r) => (
          <div className="card" key={r.currency}>
            MRR ({r.currency.toUpperCase()})<strong>{r.mrr}</strong>
            ARR {r.arr} · {r.activeCustomers} active customer{r.activeCustomers === 1 ? '' : 's'}
          </div>
        ))}
      </section>
      <h2>This month so far</h2>
      {o.thisPeriod.length === 0 ? (
        <p>No rated usage or invoice revenue this month yet.</p>
      ) : (
        <div className="cards">
          {o.thisPeriod.map((p) => (
            <div className="card" key={p.currency} data-testid="period-margin">
              Revenue {p.revenue}
              <br />
              Cost {p.cost}
              <strong>Margin {p.margin}</strong>
              {p.marginPercent} of revenue
            </div>
          ))}
        </div>
      )}
      <h2>Ingest</h2>
      <p data-testid="ingest-backlog">
        {o.backlog.pendingEvents === 0
          ? 'Every accepted event is rated.'
          : `${o.backlog.atLeast ? 'At least ' : ''}${o.backlog.pendingEvents.toLocaleString('en-US')} accepted event${o.backlog.pendingEvents === 1 ? '' : 's'} not rated yet; the oldest has waited ${o.backlog.oldestPendingAgeSeconds ?? 0} s.`}
      </p>
      <EventsPerMinuteChart points={o.eventsPerMinute} />
      <form method="get" className="filters">
        <div className="field">
          <label htmlFor="request-lookup">Find a request by its batch_id</label>
          <input id="request-lookup" name="request" defaultValue={o.lookup?.id ?? ''} placeholder="batch_id from POST /api/v1/events" />
        </div>
        <div className="actions">
          <button type="submit">Find</button>
        </div>
      </form>
      {o.lookup ? (
        <p role="status" data-testid="request-lookup">
          {!o.lookup.found ? (
            <>No request {o.lookup.id} in this organization.</>
          ) : o.lookup.batch ? (
            <>
              Request {o.lookup.id}: {o.lookup.rated} of {o.lookup.accepted} accepted events rated, in processing batch {o.lookup.batch.id} ({o.lookup.batch.status.replace(/_/g, ' ')}
              , {o.lookup.batch.events} events from {o.lookup.batch.requests} request{o.lookup.batch.requests === 1 ? '' : 's'}); workflow{' '}
              <WorkflowLink batch={o.lookup.batch} />.
            </>
          ) : (
            <>
              Request {o.lookup.id}: {o.lookup.accepted === 0 ? 'nothing was accepted, so there is nothing to rate.' : `${o.lookup.accepted} accepted events waiting for a processing batch.`}
            </>
          )}
        </p>
      ) : null}
      {o.recentBatches.length === 0 ? (
        <p>No processing batches yet.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <caption>Newest processing batches (up to 1,000 events or 250 ms of arrivals each, one workflow per batch)</caption>
            <thead>
              <tr>
                <th scope="col">Formed</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Events
                </th>
                <th scope="col" className="num">
                  Requests
                </th>
                <th scope="col">Workflow</th>
              </tr>
            </thead>
            <tbody>
              {o.recentBatches.map((b) => (
                <tr key={b.id}>
                  <td>{b.createdAt.slice(0, 19).replace('T', ' ')} UTC</td>
                  <td>{b.status.replace(/_/g, ' ')}</td>
                  <td className="num">{b.events}</td>
                  <td className="num">{b.requests}</td>
                  <td>
                    <WorkflowLink batch={b} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {o.batchesByStatus.length > 0 ? (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <caption>Processing batches of the last 24 hours by status</caption>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Batches
                </th>
              </tr>
            </thead>
            <tbody>
              {o.batchesByStatus.map((b) => (
                <tr key={b.status}>
                  <td>{b.status.replace(/_/g, ' ')}</td>
                  <td className="num">{b.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <h2>Invoices by status</h2>
      {o.invoicesByStatus.length === 0 ? (
        <p>No invoices yet.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Invoices
                </th>
              </tr>
            </thead>
            <tbody>
              {o.invoicesByStatus.map((r) => (
                <tr key={r.status}>
                  <td>{r.status}</td>
                  <td className="num">{r.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

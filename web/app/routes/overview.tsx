import { Link, useLoaderData, type LoaderFunctionArgs } from 'react-router';
import { EventsPerMinuteChart } from '../components/events-chart';
import { usePolling } from '../components/use-polling';
import { requireUser } from '../server/auth.server';
import { readOverview } from '../server/overview.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  return readOverview(context, user.organizationId);
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
      <EventsPerMinuteChart points={o.eventsPerMinute} />
      {o.batchesByStatus.length === 0 ? (
        <p>No event batches yet.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <caption>Event batches by status</caption>
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
      )}
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

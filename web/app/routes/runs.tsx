import { Link, useLoaderData, type LoaderFunctionArgs } from 'react-router';
import { requireUser } from '../server/auth.server';
import { listBillingRuns } from '../server/runs.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  return { runs: await listBillingRuns(context, user.organizationId) };
}

export function meta() {
  return [{ title: 'Billing runs · Ledgerflow' }];
}

export default function Runs() {
  const { runs } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Billing runs</h1>
      <p>Each run is a Temporal workflow; open it in the Temporal UI to see its history, or to replay or reset it.</p>
      {runs.length === 0 ? (
        <p>No billing runs have drafted an invoice yet.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Customer</th>
                <th scope="col">Period</th>
                <th scope="col">Phase (invoice)</th>
                <th scope="col">Workflow</th>
                <th scope="col" className="num">
                  Total
                </th>
                <th scope="col">Temporal UI</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.workflowId}>
                  <td>
                    <Link to={`/invoices/${r.invoiceId}`}>{r.customer}</Link>
                  </td>
                  <td>{r.period}</td>
                  <td className="status">{r.phase}</td>
                  <td>{r.temporalStatus}</td>
                  <td className="num">{r.total}</td>
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

import { Link, useLoaderData, type LoaderFunctionArgs } from 'react-router';
import { requireUser } from '../server/auth.server';
import { listInvoices, type InvoiceSummary } from '../server/invoices.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  return listInvoices(context, user.organizationId);
}

export function meta() {
  return [{ title: 'Invoices · Ledgerflow' }];
}

function InvoiceTable({ invoices, caption }: { invoices: InvoiceSummary[]; caption: string }) {
  return (
    <div className="table-wrap" tabIndex={0}>
      <table>
        <caption className="skip">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Customer</th>
            <th scope="col">Period</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">
              Total
            </th>
          </tr>
        </thead>
        <tbody>
          {invoices.map((i) => (
            <tr key={i.id}>
              <td>
                <Link to={`/invoices/${i.id}`}>{i.customer}</Link>
              </td>
              <td>{i.period}</td>
              <td className="status">{i.status}</td>
              <td className="num">{i.total}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function Invoices() {
  const { drafts, recent } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Invoices</h1>
      <h2>Drafts awaiting approval ({drafts.length})</h2>
      {drafts.length === 0 ? <p>No drafts are waiting.</p> : <InvoiceTable invoices={drafts} caption="Drafts awaiting approval" />}
      <h2>Recent invoices</h2>
      {recent.length === 0 ? <p>None yet.</p> : <InvoiceTable invoices={recent} caption="Recent invoices" />}
    </>
  );
}

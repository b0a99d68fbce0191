import { Link, useLoaderData, type LoaderFunctionArgs } from 'react-router';
import { requireUser } from '../server/auth.server';
import { readInvoiceLine } from '../server/invoices.server';

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  return readInvoiceLine(context, user.organizationId, params.invoiceId, params.lineId);
}

export function meta() {
  return [{ title: 'Invoice line · Ledgerflow' }];
}

export default function InvoiceLine() {
  const { invoice, line, snapshots, events, eventCount } = useLoaderData<typeof loader>();
  return (
    <>
      <p>
        <Link to={`/invoices/${invoice.id}`}>
          ← Invoice for {invoice.customer}, {invoice.period}
        </Link>
      </p>
      <h1>{line.description}</h1>
      <p>
        Quantity {line.quantity ?? '—'} · Amount {line.amount}
      </p>
      <h2>Daily snapshots</h2>
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th scope="col">Day (UTC)</th>
              <th scope="col" className="num">
                Quantity
              </th>
              <th scope="col" className="num">
                Events
              </th>
            </tr>
          </thead>
          <tbody>
            {snapshots.map((s) => (
              <tr key={s.id}>
                <td>{s.day}</td>
                <td className="num">{s.quantity}</td>
                <td className="num">{s.events}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>
        Events billed on this line ({eventCount}
        {eventCount > events.length ? `, first ${events.length} shown` : ''})
      </h2>
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th scope="col">Time (UTC)</th>
              <th scope="col">Type</th>
              <th scope="col" className="num">
                Quantity
              </th>
              <th scope="col">Idempotency key</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id}>
                <td>{e.at.replace('T', ' ').slice(0, 19)}</td>
                <td>{e.type}</td>
                <td className="num">{e.quantity}</td>
                <td>
                  <code>{e.key}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

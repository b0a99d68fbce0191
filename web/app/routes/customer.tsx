import { data, Link, useLoaderData, type LoaderFunctionArgs } from 'react-router';
import { UsageChart } from '../components/usage-chart';
import { requireUser } from '../server/auth.server';
import { readCustomer } from '../server/customers.server';

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const customer = await readCustomer(context, user.organizationId, params.customerId);
  if (!customer) throw data({ message: 'No such customer in your organization.' }, { status: 404 });
  return customer;
}

export function meta() {
  return [{ title: 'Customer · Ledgerflow' }];
}

export default function Customer() {
  const c = useLoaderData<typeof loader>();
  return (
    <>
      <p>
        <Link to="/customers">← Customers</Link>
      </p>
      <h1>{c.customer.name}</h1>
      <p>
        External id <code>{c.customer.externalId}</code>
        {c.customer.email ? ` · ${c.customer.email}` : ''} · Stripe {c.customer.stripe ?? 'not linked yet'} · Margin {c.month}: {c.margin} ({c.marginPercent})
      </p>
      <h2>Daily usage</h2>
      <UsageChart {...c.chart} caption="Daily usage per meter, the 60 days up to the latest usage (UTC days)" />
      <h2 id="customer-invoices">Invoices</h2>
      {c.invoices.length === 0 ? (
        <p>No invoices yet.</p>
      ) : (
        <ul aria-labelledby="customer-invoices">
          {c.invoices.map((i) => (
            <li key={i.id}>
              <Link to={`/invoices/${i.id}`}>{i.period}</Link>: {i.status}, {i.total}
            </li>
          ))}
        </ul>
      )}
      <h2 id="customer-alerts">Margin alerts</h2>
      {c.alerts.length === 0 ? (
        <p>None.</p>
      ) : (
        <ul aria-labelledby="customer-alerts">
          {c.alerts.map((a) => (
            <li key={a.id}>
              {a.month}: {a.level}, margin {a.margin} ({a.status})
            </li>
          ))}
        </ul>
      )}
      <h2 id="customer-leaks">Revenue leaks</h2>
      {c.findings.length === 0 ? (
        <p>None found.</p>
      ) : (
        <ul aria-labelledby="customer-leaks">
          {c.findings.map((f) => (
            <li key={f.id}>
              <Link to={`/leaks?finding=${f.id}`}>
                {f.kind} ({f.subject}), {f.period}
              </Link>
              : {f.leak}, {f.status}
            </li>
          ))}
        </ul>
      )}
      <h2 id="customer-audit">Audit history</h2>
      {c.audit.length === 0 ? (
        <p>No entries.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="customer-audit">
            <thead>
              <tr>
                <th scope="col">When (UTC)</th>
                <th scope="col">What</th>
                <th scope="col">Who</th>
                <th scope="col">Entity</th>
              </tr>
            </thead>
            <tbody>
              {c.audit.map((a) => (
                <tr key={a.id}>
                  <td>{a.at}</td>
                  <td>{a.action}</td>
                  <td>{a.actor}</td>
                  <td>{a.entity}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

import { Form, Link, useLoaderData, type LoaderFunctionArgs } from 'react-router';
import { requireUser } from '../server/auth.server';
import { listCustomers } from '../server/customers.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  return listCustomers(context, user.organizationId, new URL(request.url).searchParams);
}

export function meta() {
  return [{ title: 'Customers · Ledgerflow' }];
}

export default function Customers() {
  const { customers, meters, month, q, total, page, pages } = useLoaderData<typeof loader>();
  const pageHref = (n: number) => `/customers?${new URLSearchParams({ ...(q ? { q } : {}), page: String(n) }).toString()}`;
  return (
    <>
      <h1>Customers</h1>
      <Form method="get" className="filters" role="search" aria-label="Find customers">
        <div className="field">
          <label htmlFor="customer-q">Name or external id</label>
          <input id="customer-q" name="q" defaultValue={q} />
        </div>
        <div className="actions">
          <button type="submit">Search</button>
        </div>
      </Form>
      <p>
        {total} customer{total === 1 ? '' : 's'}; usage and margin for {month} so far.
      </p>
      {customers.length === 0 ? (
        <p>No customers match.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <caption className="skip">Customers with usage and margin for {month}</caption>
            <thead>
              <tr>
                <th scope="col">Customer</th>
                {meters.map((m) => (
                  <th scope="col" key={m.id} className="num">
                    {m.name}
                  </th>
                ))}
                <th scope="col" className="num">
                  Margin
                </th>
                <th scope="col" className="num">
                  Margin %
                </th>
              </tr>
            </thead>
            <tbody>
              {customers.map((c) => (
                <tr key={c.id} data-testid="customer-row">
                  <th scope="row">
                    <Link to={`/customers/${c.id}`}>{c.name}</Link> <small>{c.externalId}</small>
                  </th>
                  {c.usage.map((u, i) => (
                    <td key={meters[i]!.id} className="num">
                      {u}
                    </td>
                  ))}
                  <td className="num">{c.margin}</td>
                  <td className="num">{c.marginPercent}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pages > 1 ? (
        <nav aria-label="Pages">
          {page > 1 ? <Link to={pageHref(page - 1)}>Previous</Link> : null} Page {page} of {pages} {page < pages ? <Link to={pageHref(page + 1)}>Next</Link> : null}
        </nav>
      ) : null}
    </>
  );
}

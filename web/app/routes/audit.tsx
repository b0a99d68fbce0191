import { Form, Link, useLoaderData, type LoaderFunctionArgs } from 'react-router';
import { auditQuery, parseAuditFilter } from '../audit-filter';
import { requireUser } from '../server/auth.server';
import { readAuditPage } from '../server/audit.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const params = new URL(request.url).searchParams;
  const { filter, problems } = parseAuditFilter(params);
  const page = problems.length > 0 ? { rows: [], nextBefore: null } : await readAuditPage(context, user.organizationId, filter);
  const values = Object.fromEntries(['entity_type', 'entity_id', 'actor', 'from', 'to'].map((name) => [name, params.get(name) ?? '']));
  return {
    ...page,
    problems,
    values,
    csvHref: `/audit.csv${auditQuery(params)}`,
    nextHref: page.nextBefore ? `/audit${auditQuery(params, { before: page.nextBefore })}` : null,
    paged: filter.before !== null,
  };
}

export function meta() {
  return [{ title: 'Audit history · Ledgerflow' }];
}

const FIELDS = [
  { name: 'entity_type', label: 'Entity type', hint: 'e.g. invoice, leak_finding, api_key' },
  { name: 'entity_id', label: 'Entity id', hint: '' },
  { name: 'actor', label: 'Actor', hint: 'an email, a workflow id, or "workflow"' },
  { name: 'from', label: 'From (UTC)', hint: 'YYYY-MM-DD or ISO date-time' },
  { name: 'to', label: 'To (UTC)', hint: 'a date includes that whole day' },
] as const;

export default function AuditHistory() {
  const { rows, problems, values, csvHref, nextHref, paged } = useLoaderData<typeof loader>();
  const problemOf = (name: string) => problems.find((p) => p.field === name)?.message;
  return (
    <>
      <h1>Audit history</h1>
      <p>Every change Ledgerflow made or was asked to make, newest first. The log is append-only.</p>
      <Form method="get" className="filters" aria-label="Filter the audit history">
        {FIELDS.map((f) => (
          <div key={f.name} className="field">
            <label htmlFor={`audit-${f.name}`}>{f.label}</label>
            <input
              id={`audit-${f.name}`}
              name={f.name}
              defaultValue={values[f.name]}
              aria-describedby={f.hint ? `audit-${f.name}-hint` : undefined}
              aria-invalid={problemOf(f.name) ? true : undefined}
            />
            {f.hint ? (
              <small id={`audit-${f.name}-hint`} className="hint">
                {f.hint}
              </small>
            ) : null}
          </div>
        ))}
        <div className="actions">
          <button type="submit">Filter</button>
          <Link to="/audit">Clear</Link>
          <a href={csvHref} download>
            Export CSV
          </a>
        </div>
      </Form>
      {problems.length > 0 ? (
        <div role="alert" className="notice error">
          {problems.map((p) => (
            <p key={p.field}>{p.message}</p>
          ))}
        </div>
      ) : null}
      {rows.length === 0 ? (
        <p>{problems.length > 0 ? 'Fix the filter to see entries.' : 'No entries match.'}</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table className="audit">
            <caption className="skip">Audit entries{paged ? ' (older page)' : ''}</caption>
            <thead>
              <tr>
                <th scope="col">When (UTC)</th>
                <th scope="col">What</th>
                <th scope="col">Who</th>
                <th scope="col">Entity</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.id}>
                  <td>{a.at.replace('T', ' ').slice(0, 19)}</td>
                  <td>{a.action}</td>
                  <td>{a.actor}</td>
                  <td>
                    {a.entityType === 'invoice' ? <Link to={`/invoices/${a.entityId}`}>invoice {a.entityId}</Link> : `${a.entityType} ${a.entityId}`}
                  </td>
                  <td>
                    <code>{a.after}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {nextHref ? (
        <p>
          <Link to={nextHref}>Older entries</Link>
        </p>
      ) : null}
    </>
  );
}

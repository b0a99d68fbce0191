import { useLoaderData, type LoaderFunctionArgs } from 'react-router';
import { usePolling } from '../components/use-polling';
import { requireUser } from '../server/auth.server';
import { readAlerts } from '../server/alerts.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  return readAlerts(context, user.organizationId);
}

export function meta() {
  return [{ title: 'Alerts · Ledgerflow' }];
}

export default function Alerts() {
  const { alerts, notifications } = useLoaderData<typeof loader>();
  // The margin watch runs on a schedule and the outbox drains in the background.
  usePolling();
  return (
    <>
      <h1>Alerts</h1>
      <h2 id="margin-alerts">Margin alerts</h2>
      {alerts.length === 0 ? (
        <p>No margin alerts.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="margin-alerts">
            <thead>
              <tr>
                <th scope="col">For</th>
                <th scope="col">Month</th>
                <th scope="col">Level</th>
                <th scope="col" className="num">
                  Margin
                </th>
                <th scope="col">Status</th>
                <th scope="col">Since (UTC)</th>
              </tr>
            </thead>
            <tbody>
              {alerts.map((a) => (
                <tr key={a.id} data-testid="margin-alert">
                  <td>{a.subject}</td>
                  <td>{a.month}</td>
                  <td>{a.level}</td>
                  <td className="num">{a.margin}</td>
                  <td className="status">{a.resolvedAt ? `resolved ${a.resolvedAt}` : a.status}</td>
                  <td>{a.since}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2 id="notifications">Notifications sent</h2>
      {notifications.length === 0 ? (
        <p>Nothing sent yet.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="notifications">
            <thead>
              <tr>
                <th scope="col">When (UTC)</th>
                <th scope="col">What</th>
                <th scope="col">Delivery to Slack and email</th>
              </tr>
            </thead>
            <tbody>
              {notifications.map((n) => (
                <tr key={n.id}>
                  <td>{n.at}</td>
                  <td>
                    {n.title} <small>({n.kind})</small>
                  </td>
                  <td>{n.delivery}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

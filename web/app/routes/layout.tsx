import { Form, NavLink, Outlet, useLoaderData, type LoaderFunctionArgs } from 'react-router';
import { CsrfField } from '../components/session';
import { canOpenSettings, settingsHome } from '../components/settings-nav';
import { requireUser } from '../server/auth.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  return { user: { email: user.email, role: user.role }, csrf: user.csrf };
}

const NAV = [
  { to: '/', label: 'Overview', end: true },
  { to: '/customers', label: 'Customers', end: false },
  { to: '/invoices', label: 'Invoices', end: false },
  { to: '/runs', label: 'Billing runs', end: false },
  { to: '/leaks', label: 'Leaks', end: false },
  { to: '/alerts', label: 'Alerts', end: false },
  { to: '/audit', label: 'Audit', end: false },
];

export default function SignedInLayout() {
  const { user } = useLoaderData<typeof loader>();
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <strong>Ledgerflow</strong>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}>
                <NavLink to={item.to} end={item.end}>
                  {item.label}
                </NavLink>
              </li>
            ))}
            {canOpenSettings(user.role) ? (
              <li>
                <NavLink to={settingsHome(user.role)}>Settings</NavLink>
              </li>
            ) : null}
          </ul>
        </nav>
        <div className="who">
          <span>
            {user.email} ({user.role})
          </span>
          <Form method="post" action="/logout">
            <CsrfField />
            <button type="submit">Sign out</button>
          </Form>
        </div>
      </header>
      <main id="main" className="page" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}

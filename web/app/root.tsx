import { isRouteErrorResponse, Links, Meta, Outlet, Scripts, ScrollRestoration, useRouteError, type LinksFunction } from 'react-router';
import styles from './app.css?url';

export const links: LinksFunction = () => [
  { rel: 'stylesheet', href: styles },
  // web/public: an SVG for browsers that take one, the .ico for the rest (and for /favicon.ico requests).
  { rel: 'icon', href: '/favicon.svg', type: 'image/svg+xml' },
  { rel: 'icon', href: '/favicon.ico', sizes: '32x32' },
];

export function Layout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        {children}
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

export function meta() {
  return [{ title: 'Ledgerflow' }];
}

/** 403s and 404s thrown by loaders and actions carry `{ message }`; show it. */
export function ErrorBoundary() {
  const error = useRouteError();
  const status = isRouteErrorResponse(error) ? error.status : 500;
  const message = isRouteErrorResponse(error)
    ? ((error.data as { message?: string } | null)?.message ?? error.statusText)
    : 'Something went wrong on our side; the details are in the server log.';
  return (
    <main className="page narrow">
      <h1>{status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : 'Error'}</h1>
      <p role="alert">{message}</p>
      <p>
        <a href="/">Back to the overview</a>
      </p>
    </main>
  );
}

import { data, useLoaderData, type LoaderFunctionArgs } from 'react-router';

/*
 * Every path no other route takes (a mistyped link, /robots.txt, a stale
 * bookmark): a 404 page, answered as a page rather than thrown, so nothing
 * is logged as a server error. Outside the signed-in layout: it shows no data.
 */
export function loader({ request }: LoaderFunctionArgs) {
  return data({ path: new URL(request.url).pathname }, { status: 404 });
}

export function meta() {
  return [{ title: 'Not found · Ledgerflow' }];
}

export default function NotFound() {
  const { path } = useLoaderData<typeof loader>();
  return (
    <main className="page narrow">
      <h1>Not found</h1>
      <p role="alert">There is no page at {path}.</p>
      <p>
        <a href="/">Back to the overview</a>
      </p>
    </main>
  );
}

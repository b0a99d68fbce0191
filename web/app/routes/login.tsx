import { data, Form, redirect, useActionData, useLoaderData, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { currentUser, loginCsrf, loginCsrfMatches, signIn } from '../server/auth.server';

/** Only same-site paths: a crafted ?next= must not send people elsewhere after sign-in. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') ? value : '/';
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const next = safeNext(new URL(request.url).searchParams.get('next'));
  if (await currentUser(request, context)) throw redirect(next);
  const csrf = loginCsrf(request);
  return data({ csrf: csrf.token, next }, csrf.setCookie ? { headers: { 'Set-Cookie': csrf.setCookie } } : undefined);
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  if (!loginCsrfMatches(request, form.get('csrf'))) {
    return data({ error: 'The sign-in form expired; reload the page and try again.' }, { status: 403 });
  }
  const email = form.get('email');
  const password = form.get('password');
  if (typeof email !== 'string' || typeof password !== 'string' || !email || !password) {
    return data({ error: 'Enter your email and password.' }, { status: 400 });
  }
  // Counted before the password is checked, for unknown emails too: the refusal reads the same either way.
  const retryAfter = await context.signInLimit.attempt(email, context.clientIp);
  if (retryAfter !== null) {
    const minutes = Math.ceil(retryAfter / 60);
    return data(
      { error: `Too many sign-in attempts for this account or from your network. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` },
      { status: 429, headers: { 'Retry-After': String(retryAfter) } },
    );
  }
  const setCookie = await signIn(request, context, email, password);
  if (!setCookie) return data({ error: 'Email or password is wrong.' }, { status: 401 });
  await context.signInLimit.succeeded(email, context.clientIp);
  throw redirect(safeNext(form.get('next')), { headers: { 'Set-Cookie': setCookie } });
}

/** The action's Retry-After reaches the browser on a document (no-JS) submission too. */
export function headers({ actionHeaders, loaderHeaders }: { actionHeaders: Headers; loaderHeaders: Headers }) {
  return actionHeaders.has('Retry-After') ? actionHeaders : loaderHeaders;
}

export function meta() {
  return [{ title: 'Sign in · Ledgerflow' }];
}

export default function Login() {
  const { csrf, next } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <main className="page narrow">
      <h1>Sign in to Ledgerflow</h1>
      {result?.error ? (
        <p className="notice error" role="alert" id="login-error">
          {result.error}
        </p>
      ) : null}
      <Form method="post" aria-describedby={result?.error ? 'login-error' : undefined}>
        <input type="hidden" name="csrf" value={csrf} />
        <input type="hidden" name="next" value={next} />
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="username" required autoFocus />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required />
        <button type="submit">Sign in</button>
      </Form>
    </main>
  );
}

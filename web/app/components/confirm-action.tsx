import { Form, Link } from 'react-router';
import { CsrfField } from './session';

/**
 * The question before something that cannot be undone (revoke a key, remove
 * a limit or an endpoint): what happens, one button that does it, and a way
 * back. Posts `intent` for `id` to `path`.
 */
export function ConfirmAction(props: { path: string; intent: string; id: string; question: React.ReactNode; consequence: string; confirm: string; busy: boolean }) {
  const headingId = `confirm-${props.intent}`;
  return (
    <section aria-labelledby={headingId} className="notice error">
      <h2 id={headingId} className="breakable">
        {props.question}
      </h2>
      <p>{props.consequence}</p>
      <Form method="post" action={props.path}>
        <CsrfField />
        <input type="hidden" name="intent" value={props.intent} />
        <input type="hidden" name="id" value={props.id} />
        <button type="submit" className="danger" disabled={props.busy}>
          {props.confirm}
        </button>{' '}
        <Link to={props.path}>Cancel</Link>
      </Form>
    </section>
  );
}

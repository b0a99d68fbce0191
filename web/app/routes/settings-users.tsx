import { data, Form, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { CsrfField, useSession } from '../components/session';
import type { Role } from '../permissions';
import { SettingsNav } from '../components/settings-nav';
import { requireFormAction, requireUser } from '../server/auth.server';
import { applyUserForm, listUsers, MIN_PASSWORD_LENGTH } from '../server/users-admin.server';
import { OutcomeNotice } from '../components/outcome-notice';

const PATH = '/settings/users';

/** What each role may do, shown next to it (web/app/permissions.ts decides). */
const ROLE_NOTES: Record<Role, string> = {
  admin: 'everything, users, API keys, settings',
  finance: 'approve, adjust, reject invoices; dismiss leaks',
  ops: 'billing runs, reconciliations',
  viewer: 'read only',
};
// Kept out of prisma/users.ts's import: route modules also go to the browser.
const ROLES = Object.keys(ROLE_NOTES) as Role[];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_users');
  return { users: await listUsers(context, user.organizationId), minPasswordLength: MIN_PASSWORD_LENGTH };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_users');
  const outcome = await applyUserForm(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Users · Settings · Ledgerflow' }];
}

function RoleSelect({ id, value, describedBy }: { id: string; value?: string; describedBy?: string }) {
  return (
    <select id={id} name="role" defaultValue={value ?? 'viewer'} aria-describedby={describedBy} style={{ font: 'inherit', maxWidth: '100%' }}>
      {ROLES.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
    </select>
  );
}

export default function Users() {
  const { users, minPasswordLength } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const me = useSession().user.email;
  const busy = useNavigation().state === 'submitting';
  return (
    <>
      <h1>Users</h1>
      <SettingsNav />
      <OutcomeNotice outcome={outcome} />

      {/* Keyed on the outcome: a successful add clears the form. */}
      <Form method="post" action={PATH} key={outcome?.ok ? outcome.message : 'add'}>
        <fieldset>
          <legend>Add a user</legend>
          <CsrfField />
          <input type="hidden" name="intent" value="create" />
          <label htmlFor="new-email">Email</label>
          <input id="new-email" name="email" type="email" autoComplete="off" required />
          <label htmlFor="new-role">Role</label>
          <RoleSelect id="new-role" describedBy="role-notes" />
          <ul id="role-notes">
            {ROLES.map((r) => (
              <li key={r}>
                {r}: {ROLE_NOTES[r]}
              </li>
            ))}
          </ul>
          <label htmlFor="new-password">Initial password (at least {minPasswordLength} characters)</label>
          <input id="new-password" name="password" type="password" autoComplete="new-password" minLength={minPasswordLength} required />
          <button type="submit" disabled={busy}>
            Add user
          </button>
        </fieldset>
      </Form>

      <h2 id="people">People</h2>
      <div className="table-wrap" tabIndex={0}>
        <table aria-labelledby="people">
          <thead>
            <tr>
              <th scope="col">User and status</th>
              <th scope="col">Role and access</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id}>
                <td>
                  {u.email}
                  {u.email === me ? ' (you)' : ''}
                  <br />
                  {u.disabled ? 'Disabled' : 'Active'}
                </td>
                <td>
                  {/* Keyed on the outcome too: after a refused change the select shows the role the user really has. */}
                  <Form method="post" action={PATH} key={`${u.role}:${outcome?.message ?? ''}`}>
                    <CsrfField />
                    <input type="hidden" name="intent" value="role" />
                    <input type="hidden" name="userId" value={u.id} />
                    <label htmlFor={`role-${u.id}`} className="skip">
                      Role of {u.email}
                    </label>
                    <RoleSelect id={`role-${u.id}`} value={u.role} />
                    <button type="submit" disabled={busy} aria-label={`Change role of ${u.email}`}>
                      Change role
                    </button>
                  </Form>
                  <Form method="post" action={PATH}>
                    <CsrfField />
                    <input type="hidden" name="intent" value={u.disabled ? 'enable' : 'disable'} />
                    <input type="hidden" name="userId" value={u.id} />
                    <button type="submit" className={u.disabled ? undefined : 'danger'} disabled={busy} aria-label={`${u.disabled ? 'Re-enable' : 'Disable'} ${u.email}`}>
                      {u.disabled ? 'Re-enable' : 'Disable'}
                    </button>
                  </Form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

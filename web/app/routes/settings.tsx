import { data, Form, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { requireFormAction, requireUser } from '../server/auth.server';
import { readOrganizationSettings, saveOrganizationSettings } from '../server/settings.server';
import { OutcomeNotice } from '../components/outcome-notice';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_settings');
  return readOrganizationSettings(context, user.organizationId);
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_settings');
  const outcome = await saveOrganizationSettings(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Organization settings · Ledgerflow' }];
}

type Name = keyof Awaited<ReturnType<typeof loader>>;

type Field = { name: Name; label: string; hint: string; type: 'number' | 'email' | 'text' } | { name: Name; label: string; hint: string; type: 'select'; options: { value: string; label: string }[] };

const GROUPS: { legend: string; fields: Field[] }[] = [
  {
    legend: 'Approval policy',
    fields: [
      { name: 'approval_reminder_hours', label: 'Remind finance every (hours)', hint: '1 to 720, while a draft waits for approval', type: 'number' },
      { name: 'auto_approve_after_hours', label: 'Approve automatically after (hours)', hint: 'empty = never; 1 to 2160', type: 'number' },
    ],
  },
  {
    legend: 'Where alerts go',
    fields: [
      { name: 'finance_email', label: 'Email recipient', hint: "empty = the deployment's ALERT_EMAIL_TO; more recipients under Alert channels", type: 'email' },
      { name: 'finance_slack_channel', label: 'Slack channel', hint: '"#finance" or a channel id; empty = the deployment\'s ALERT_SLACK_CHANNEL', type: 'text' },
    ],
  },
  {
    legend: 'Margin alerts',
    fields: [
      { name: 'margin_threshold_bps', label: 'Alert below margin (basis points)', hint: '2000 = 20 %; -10000 to 10000', type: 'number' },
      { name: 'margin_alert_step_bps', label: 'Alert again after a further drop of (basis points)', hint: '500 = 5 percentage points', type: 'number' },
    ],
  },
  {
    legend: 'Invoices',
    fields: [
      { name: 'invoice_number_prefix', label: 'Invoice number prefix', hint: 'INV gives INV-000001, INV-000002, …; a new prefix counts from 1', type: 'text' },
      {
        name: 'invoice_collection',
        label: 'Invoice collection',
        hint: "Charging needs a card the customer saved (the customer page opens a Stripe page for it); a customer without one is sent the invoice",
        type: 'select',
        options: [
          { value: 'auto', label: "Charge the customer's card; send the invoice when there is none" },
          { value: 'send_invoice', label: 'Always send the invoice, to pay by its due date' },
        ],
      },
      { name: 'invoice_due_days', label: 'A sent invoice is due after (days)', hint: '1 to 365; unpaid, finance hears it is overdue, again on each payment retry day, then it is written off', type: 'number' },
    ],
  },
];

export default function OrganizationSettings() {
  const values = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const problem = (name: Name) => (outcome && !outcome.ok ? outcome.fields[name] : undefined);
  /** what an input and a select share: name, value, hint and problem */
  const fieldProps = (name: Name) => ({
    id: `setting-${name}`,
    name,
    defaultValue: values[name],
    'aria-describedby': `setting-${name}-hint${problem(name) ? ` setting-${name}-problem` : ''}`,
    'aria-invalid': problem(name) ? true : undefined,
  });
  return (
    <>
      <h1>Settings</h1>
      <SettingsNav />
      <h2>Organization</h2>
      <OutcomeNotice outcome={outcome} />
      <Form method="post">
        <CsrfField />
        {GROUPS.map((g) => (
          <fieldset key={g.legend}>
            <legend>{g.legend}</legend>
            {g.fields.map((f) => (
              <div key={f.name} className="field">
                <label htmlFor={`setting-${f.name}`}>{f.label}</label>
                {f.type === 'select' ? (
                  <select {...fieldProps(f.name)}>
                    {f.options.map((o) => (
                      <option key={o.value} value={o.value}>
                        {o.label}
                      </option>
                    ))}
                  </select>
                ) : (
                  <input {...fieldProps(f.name)} type={f.type === 'number' ? 'text' : f.type} inputMode={f.type === 'number' ? 'numeric' : undefined} />
                )}
                <small id={`setting-${f.name}-hint`} className="hint">
                  {f.hint}
                </small>
                {problem(f.name) ? (
                  <small id={`setting-${f.name}-problem`} className="problem">
                    {f.label}: {problem(f.name)}
                  </small>
                ) : null}
              </div>
            ))}
          </fieldset>
        ))}
        <button type="submit" disabled={busy}>
          Save settings
        </button>
      </Form>
    </>
  );
}

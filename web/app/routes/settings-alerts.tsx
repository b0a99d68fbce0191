import { useEffect, useRef } from 'react';
import { data, Form, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { ALERT_SECRETS, type AlertField, type AlertSecret } from '../alert-settings-fields';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField } from '../components/session';
import { SettingsNav } from '../components/settings-nav';
import { readAlertChannels, saveAlertChannels } from '../server/alert-settings.server';
import { requireFormAction, requireUser } from '../server/auth.server';

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireUser(request, context, 'manage_settings');
  return readAlertChannels(context, user.organizationId);
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'manage_settings');
  const outcome = await saveAlertChannels(context, user, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Alert channels · Ledgerflow' }];
}

type PlainField = Exclude<AlertField, AlertSecret>;

const GROUPS: { legend: string; plain: { name: PlainField; label: string; hint: string; multiline?: boolean }[]; secrets: AlertSecret[] }[] = [
  {
    legend: 'Email',
    plain: [
      { name: 'alert_email_recipients', label: 'Also email', hint: 'one address per line, up to 20; the finance email on the Organization page gets every alert too', multiline: true },
      { name: 'alert_email_from', label: 'Sender', hint: 'e.g. "Billing alerts <alerts@example.com>"; empty = the deployment\'s ALERT_EMAIL_FROM' },
      { name: 'smtp_url', label: 'SMTP server', hint: 'smtps://user@mail.example.com:465 (or smtp://…:587 with STARTTLS) without the password, on a public address; empty = the deployment\'s SMTP_URL' },
    ],
    secrets: ['smtp_password'],
  },
  { legend: 'Slack', plain: [], secrets: ['slack_bot_token'] },
  {
    legend: 'CRM tasks for revenue leaks',
    plain: [{ name: 'crm_webhook_url', label: 'CRM webhook URL', hint: 'an https URL on a public address; gets a signed POST per leak finding; empty = no CRM tasks' }],
    secrets: ['crm_webhook_secret'],
  },
  { legend: 'Stripe', plain: [], secrets: ['stripe_secret_key', 'stripe_webhook_secret'] },
];

const SECRET_LABELS = Object.fromEntries(ALERT_SECRETS.map((s) => [s.name, s.label])) as Record<AlertSecret, string>;

export default function AlertChannels() {
  const { values, secrets, organizationId } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const form = useRef<HTMLFormElement>(null);
  // After a save, clear what was typed into the secret fields (the stored values are never shown).
  useEffect(() => {
    if (outcome?.ok) form.current?.reset();
  }, [outcome]);
  const problem = (name: AlertField) => (outcome && !outcome.ok ? outcome.fields[name] : undefined);
  const describedBy = (name: AlertField) => `alerts-${name}-hint${problem(name) ? ` alerts-${name}-problem` : ''}`;
  const Problem = ({ name, label }: { name: AlertField; label: string }) =>
    problem(name) ? (
      <small id={`alerts-${name}-problem`} className="problem">
        {label}: {problem(name)}
      </small>
    ) : null;
  return (
    <>
      <h1>Settings</h1>
      <SettingsNav />
      <h2>Alert channels</h2>
      <p>
        Where alerts go besides the Organization page&apos;s finance email and Slack channel, and the credentials to send them with. Secrets are stored encrypted and never shown
        again: leave a secret empty to keep the stored one.
      </p>
      <OutcomeNotice outcome={outcome} />
      <Form method="post" autoComplete="off" ref={form}>
        <CsrfField />
        {GROUPS.map((g) => (
          <fieldset key={g.legend}>
            <legend>{g.legend}</legend>
            {g.plain.map((f) => (
              <div key={f.name} className="field">
                <label htmlFor={`alerts-${f.name}`}>{f.label}</label>
                {f.multiline ? (
                  <textarea id={`alerts-${f.name}`} name={f.name} rows={3} defaultValue={values[f.name as keyof typeof values]} aria-describedby={describedBy(f.name)} aria-invalid={problem(f.name) ? true : undefined} />
                ) : (
                  <input id={`alerts-${f.name}`} name={f.name} type="text" defaultValue={values[f.name as keyof typeof values]} aria-describedby={describedBy(f.name)} aria-invalid={problem(f.name) ? true : undefined} />
                )}
                <small id={`alerts-${f.name}-hint`} className="hint">
                  {f.hint}
                </small>
                <Problem name={f.name} label={f.label} />
              </div>
            ))}
            {g.secrets.map((name) => {
              const status = secrets[name];
              return (
                <div key={name} className="field">
                  <label htmlFor={`alerts-${name}`}>{SECRET_LABELS[name]}</label>
                  <input id={`alerts-${name}`} name={name} type="password" autoComplete="new-password" aria-describedby={describedBy(name)} aria-invalid={problem(name) ? true : undefined} />
                  <small id={`alerts-${name}-hint`} className="hint" data-testid={`secret-${name}`}>
                    {status.set ? (status.last4 ? `Stored, ends in ${status.last4}.` : 'Stored, but it does not open with this deployment\'s key: set it again.') : 'Not set.'}
                    {name === 'stripe_webhook_secret' ? ` Point the Stripe endpoint at the API's /webhooks/stripe/${organizationId}.` : ''}
                  </small>
                  {status.set ? (
                    <label className="inline">
                      <input type="checkbox" name={`remove_${name}`} /> Remove the stored {SECRET_LABELS[name].toLowerCase()}
                    </label>
                  ) : null}
                  <Problem name={name} label={SECRET_LABELS[name]} />
                </div>
              );
            })}
          </fieldset>
        ))}
        <button type="submit" disabled={busy}>
          Save alert channels
        </button>
      </Form>
    </>
  );
}

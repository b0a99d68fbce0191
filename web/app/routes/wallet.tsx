import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField, useCan } from '../components/session';
import { UsageChart } from '../components/usage-chart';
import { requireFormAction, requireUser } from '../server/auth.server';
import { LEDGER_KINDS } from '../ledger-kinds';
import { applyWalletForm, readWalletPage } from '../server/wallet.server';

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const page = await readWalletPage(context, user.organizationId, params.customerId, new URL(request.url).searchParams);
  if (!page) throw data({ message: 'No such customer in your organization.' }, { status: 404 });
  return page;
}

export async function action({ request, context, params }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'decide_invoices');
  const outcome = await applyWalletForm(context, user, params.customerId, form);
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Prepaid credits · Ledgerflow' }];
}

/** A labelled input of one of the page's forms; the one a refusal names is marked invalid. */
function Field(props: { form: string; name: string; label: string; invalid: (form: string, name: string) => boolean | undefined; hint?: string; type?: string; defaultValue?: string; required?: boolean }) {
  const id = `${props.form}-${props.name}`;
  return (
    <>
      <label htmlFor={id}>{props.label}</label>
      {props.hint ? (
        <p className="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        inputMode={props.type ? undefined : 'decimal'}
        defaultValue={props.defaultValue}
        required={props.required}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
        aria-invalid={props.invalid(props.form, props.name)}
      />
    </>
  );
}

export default function Wallet() {
  const w = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const busy = useNavigation().state === 'submitting';
  const canEdit = useCan('decide_invoices');
  const invalid = (form: string, name: string) => (outcome && !outcome.ok && outcome.form === form && (outcome.field === name || outcome.field === `auto_top_up.${name.replace(/^auto_/, '')}`) ? true : undefined);
  const noticeFor = (form: string) => (outcome?.form === form ? outcome : undefined);
  const auto = w.wallet.auto_top_up;
  const csv = `/customers/${w.customer.id}/wallet.csv${w.kind ? `?kind=${w.kind}` : ''}`;
  return (
    <>
      <p>
        <Link to={`/customers/${w.customer.id}`}>← {w.customer.name}</Link>
      </p>
      <h1>Prepaid credits: {w.customer.name}</h1>
      {w.poolParent && (
        <p data-testid="wallet-pool">
          {w.customer.name} draws on the team pool of <Link to={`/customers/${w.poolParent.id}/wallet`}>{w.poolParent.externalId}</Link>: this is that wallet, and
          grants and top-ups made here go to it.
        </p>
      )}
      {!w.poolParent && w.wallet.pool && (
        <p data-testid="wallet-pool">
          Shared as a team pool with {w.wallet.pool.member_count} customer{w.wallet.pool.member_count === 1 ? '' : 's'}: {w.wallet.pool.members.join(', ')}
          {w.wallet.pool.member_count > w.wallet.pool.members.length ? ', …' : ''}.
        </p>
      )}
      <dl className="summary">
        <dt>Balance</dt>
        <dd data-testid="wallet-balance">{w.wallet.balance}</dd>
        <dt>On hold (reservations)</dt>
        <dd data-testid="wallet-reserved">{w.wallet.reserved}</dd>
        <dt>Low-balance alert</dt>
        <dd>{w.wallet.low_balance_threshold === null ? 'none' : `at or below ${w.wallet.low_balance_threshold}`}</dd>
        <dt>Automatic top-up</dt>
        <dd>
          {auto ? `${auto.credits} credits at ${auto.price_per_credit} ${auto.currency.toUpperCase()} each when the balance falls below ${auto.below}` : 'off'}
          {w.wallet.auto_top_up_paused && (
            <strong>
              {' '}
              Paused since {w.wallet.auto_top_up_paused.since}: {w.wallet.auto_top_up_paused.reason}. Save the settings again (or buy a top-up) to resume.
            </strong>
          )}
        </dd>
      </dl>

      <h2>Balance over time</h2>
      <UsageChart
        series={[{ key: 'balance', name: 'Balance' }]}
        points={w.balances.map((b) => ({ day: b.day, balance: Number(b.balance) }))}
        table={w.balances.map((b) => ({ day: b.day, values: [b.balance] }))}
        caption="Credits left at the end of each UTC day, the last 90 days"
      />

      <h2 id="wallet-grants">Grants</h2>
      {w.wallet.grants.length === 0 ? (
        <p>No grants yet.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="wallet-grants">
            <thead>
              <tr>
                <th scope="col">Granted (UTC)</th>
                <th scope="col">Kind</th>
                <th scope="col">Credits</th>
                <th scope="col">Left</th>
                <th scope="col">Price per credit</th>
                <th scope="col">Priority</th>
                <th scope="col">Expires (UTC)</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {w.wallet.grants.map((g) => (
                <tr key={g.id}>
                  <td>{g.created_at.replace('T', ' ').slice(0, 16)}</td>
                  <td>{g.kind}</td>
                  <td>{g.credits}</td>
                  <td>{g.balance}</td>
                  <td>
                    {g.price_per_credit} {g.currency.toUpperCase()}
                  </td>
                  <td>{g.priority}</td>
                  <td>{g.expires_at ? g.expires_at.replace('T', ' ').slice(0, 16) : 'never'}</td>
                  <td>{g.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2 id="wallet-top-ups">Top-ups</h2>
      {w.topUps.length === 0 ? (
        <p>No top-ups yet.</p>
      ) : (
        <ul aria-labelledby="wallet-top-ups">
          {w.topUps.map((t) => (
            <li key={t.id}>
              {t.created_at.replace('T', ' ').slice(0, 16)}: {t.credits} credits for {t.amount} {t.currency.toUpperCase()}
              {t.automatic ? ' (automatic)' : ''}, {t.status}
              {t.failure ? `: ${t.failure}` : ''}
              {t.status === 'pending' && t.hosted_invoice_url ? (
                <>
                  {' '}
                  (invoice sent, due {t.pay_by?.replace('T', ' ').slice(0, 16)} UTC: <a href={t.hosted_invoice_url}>payment page</a>)
                </>
              ) : null}
            </li>
          ))}
        </ul>
      )}

      <h2 id="wallet-ledger">Ledger</h2>
      <Form method="get" className="filters">
        <label htmlFor="ledger-kind">Step</label>
        <select id="ledger-kind" name="kind" defaultValue={w.kind}>
          <option value="">every step</option>
          {LEDGER_KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <button type="submit">Show</button>
      </Form>
      <p>
        <a href={csv} download>
          Download these entries as CSV
        </a>
      </p>
      {w.entries.length === 0 ? (
        <p>No entries.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="wallet-ledger">
            <thead>
              <tr>
                <th scope="col">When (UTC)</th>
                <th scope="col">Step</th>
                <th scope="col">Key</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">Credits</th>
              </tr>
            </thead>
            <tbody>
              {w.entries.map((e) => (
                <tr key={e.id}>
                  <td>{e.created_at.replace('T', ' ').slice(0, 19)}</td>
                  <td>{e.kind}</td>
                  <td>
                    <code>{e.key}</code>
                  </td>
                  <td>{e.debit}</td>
                  <td>{e.credit}</td>
                  <td>{e.amount}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {w.nextAfter ? (
        <p>
          <Link to={`?${new URLSearchParams({ ...(w.kind ? { kind: w.kind } : {}), after: w.nextAfter }).toString()}`}>Next entries →</Link>
        </p>
      ) : null}

      {canEdit ? (
        <>
          <section aria-labelledby="wallet-grant">
            <h2 id="wallet-grant">Grant credits</h2>
            <OutcomeNotice outcome={noticeFor('grant')} />
            <Form method="post">
              <CsrfField />
              <input type="hidden" name="intent" value="grant" />
              <Field form="grant" name="credits" label="Credits" invalid={invalid} required />
              <label htmlFor="grant-kind">Kind</label>
              <select id="grant-kind" name="kind" defaultValue="purchased">
                <option value="purchased">purchased (paid for outside Ledgerflow)</option>
                <option value="promotional">promotional (given away)</option>
              </select>
              <Field form="grant" name="price_per_credit" label="Price per credit" hint="What one credit was sold for: revenue is recognized at it as credits burn (0 for promotional credits)." invalid={invalid} defaultValue="0" />
              <Field form="grant" name="currency" label="Currency" invalid={invalid} defaultValue="usd" />
              <Field form="grant" name="expires_at" label="Expires at (UTC, optional)" type="datetime-local" invalid={invalid} />
              <button type="submit" disabled={busy}>
                Grant
              </button>
            </Form>
          </section>
          <section aria-labelledby="wallet-top-up">
            <h2 id="wallet-top-up">Buy credits (top-up)</h2>
            <p className="hint">
              A Stripe invoice for credits × price per credit, charged to the customer&apos;s card on file, or, with a due date, sent to the customer to pay
              online by then; the credits are granted when the payment succeeds.
            </p>
            <OutcomeNotice outcome={noticeFor('top-up')} />
            <Form method="post">
              <CsrfField />
              <input type="hidden" name="intent" value="top-up" />
              <Field form="top-up" name="credits" label="Credits" invalid={invalid} required />
              <Field form="top-up" name="price_per_credit" label="Price per credit" invalid={invalid} required />
              <Field form="top-up" name="currency" label="Currency" invalid={invalid} defaultValue="usd" />
              <Field
                form="top-up"
                name="pay_by"
                label="Pay by invoice, due (UTC, optional)"
                type="datetime-local"
                hint="Empty: charge the card on file. A date: email the invoice to the customer's billing address to pay on Stripe's page by then."
                invalid={invalid}
              />
              <button type="submit" disabled={busy}>
                Charge and top up
              </button>
            </Form>
          </section>
          <section aria-labelledby="wallet-settings">
            <h2 id="wallet-settings">Alerts and automatic top-up</h2>
            <OutcomeNotice outcome={noticeFor('settings')} />
            <Form method="post">
              <CsrfField />
              <input type="hidden" name="intent" value="settings" />
              <Field
                form="settings"
                name="low_balance_threshold"
                label="Alert at or below"
                hint="Credits left at which finance hears of it (Slack, email, webhook); empty: no low-balance alert. Running out always alerts."
                invalid={invalid}
                defaultValue={w.wallet.low_balance_threshold ?? ''}
              />
              <Field form="settings" name="auto_below" label="Top up below" hint="Leave the three top-up fields empty for no automatic top-up." invalid={invalid} defaultValue={auto?.below ?? ''} />
              <Field form="settings" name="auto_credits" label="Credits to buy" invalid={invalid} defaultValue={auto?.credits ?? ''} />
              <Field form="settings" name="auto_price_per_credit" label="Price per credit" invalid={invalid} defaultValue={auto?.price_per_credit ?? ''} />
              <Field form="settings" name="auto_currency" label="Currency" invalid={invalid} defaultValue={auto?.currency ?? 'usd'} />
              <button type="submit" disabled={busy}>
                Save
              </button>
            </Form>
          </section>
        </>
      ) : null}
    </>
  );
}

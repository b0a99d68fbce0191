import { data, Form, Link, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { OutcomeNotice } from '../components/outcome-notice';
import { CsrfField, useCan } from '../components/session';
import { UsageChart } from '../components/usage-chart';
import { requireFormAction, requireUser } from '../server/auth.server';
import { applyCustomerForm, type CustomerEditOutcome } from '../server/customer-edit.server';
import { applySubscriptionForm, readSubscriptions, type SubscriptionOutcome } from '../server/subscriptions.server';
import { CustomerSubscriptions } from '../components/customer-subscriptions';
import { isUuid } from '../../../services/ids';
import { readCustomer } from '../server/customers.server';

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const customer = await readCustomer(context, user.organizationId, params.customerId);
  if (!customer) throw data({ message: 'No such customer in your organization.' }, { status: 404 });
  const subscriptions = await readSubscriptions(context, user.organizationId, customer.customer.id);
  // A fresh key per page view for the card setup form: a second press after "still opening" gets the same page.
  return { ...customer, ...subscriptions, cardSetupKey: crypto.randomUUID() };
}

export async function action({ request, context, params }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'decide_invoices');
  const intent = String(form.get('intent'));
  let outcome: CustomerEditOutcome | SubscriptionOutcome;
  if (intent === 'edit' || intent === 'card-setup') {
    outcome = await applyCustomerForm(context, user, params.customerId ?? '', form);
  } else {
    const id = params.customerId ?? '';
    const customer = isUuid(id) ? await context.prisma.customer.findFirst({ where: { id, organizationId: user.organizationId }, select: { id: true, externalId: true } }) : null;
    outcome = customer ? await applySubscriptionForm(context, user, customer, form) : { subscription: true, ok: false, message: 'No such customer in your organization.' };
  }
  return data(outcome, { status: outcome.ok ? 200 : 400 });
}

export function meta() {
  return [{ title: 'Customer · Ledgerflow' }];
}

export default function Customer() {
  const c = useLoaderData<typeof loader>();
  const answer = useActionData<typeof action>();
  const subscriptionOutcome = answer && 'subscription' in answer ? answer : undefined;
  const outcome = answer && !('subscription' in answer) ? answer : undefined;
  const busy = useNavigation().state === 'submitting';
  const canEdit = useCan('decide_invoices');
  const intent = useNavigation().formData?.get('intent');
  /** the edit form's field a refusal names, marked invalid for assistive technology */
  const invalid = (field: string) => (outcome && !outcome.ok && !outcome.cardSetup && outcome.field === field ? true : undefined);
  return (
    <>
      <p>
        <Link to="/customers">← Customers</Link>
      </p>
      <h1>{c.customer.name}</h1>
      <p>
        External id <code>{c.customer.externalId}</code>
        {c.customer.email ? ` · ${c.customer.email}` : ''} · Stripe {c.customer.stripe ?? 'not linked yet'} · Margin {c.month}: {c.margin} ({c.marginPercent})
      </p>
      {c.customer.poolParent && (
        <p data-testid="customer-pool">
          Draws prepaid credits from the team pool of <Link to={`/customers/${c.customer.poolParent.id}`}>{c.customer.poolParent.externalId}</Link>.
        </p>
      )}
      {canEdit ? (
        <details open={outcome !== undefined && !outcome.cardSetup}>
          <summary>Edit billing details</summary>
          <OutcomeNotice outcome={outcome?.cardSetup ? undefined : outcome} />
          <Form method="post" key={outcome?.ok ? outcome.message : 'edit'}>
            <CsrfField />
            <input type="hidden" name="intent" value="edit" />
            <label htmlFor="customer-name">Name</label>
            <input id="customer-name" name="name" defaultValue={c.customer.givenName ?? ''} maxLength={255} aria-invalid={invalid('name')} />
            <label htmlFor="customer-email">Billing email</label>
            <input id="customer-email" name="email" type="email" defaultValue={c.customer.email ?? ''} aria-invalid={invalid('email')} />
            <label htmlFor="customer-stripe">Stripe customer id</label>
            <p className="hint" id="customer-stripe-hint">
              A customer that already exists in your Stripe account (cus_…), checked there before it is linked; empty keeps the link as it is. Without one, the
              first finalized invoice creates the customer in Stripe. A customer already invoiced in Stripe stays with its Stripe customer.
            </p>
            <input id="customer-stripe" name="stripe_customer_id" aria-describedby="customer-stripe-hint" defaultValue={c.customer.stripe ?? ''} aria-invalid={invalid('stripe_customer_id')} />
            <label htmlFor="customer-pool">Draws credits from (team pool)</label>
            <p className="hint" id="customer-pool-hint">
              The external id of a customer whose prepaid credits this one shares: its usage burns that wallet, and its grants and top-ups go there. Empty: its
              own wallet. A customer with a wallet of its own cannot join a pool.
            </p>
            <input
              id="customer-pool"
              name="parent_external_id"
              aria-describedby="customer-pool-hint"
              defaultValue={c.customer.poolParent?.externalId ?? ''}
              aria-invalid={invalid('parent_external_id')}
            />
            <button type="submit" disabled={busy}>
              Save
            </button>
          </Form>
        </details>
      ) : null}
      {canEdit ? (
        <section aria-labelledby="customer-card">
          <h2 id="customer-card">Card for invoices</h2>
          <p className="hint" id="customer-card-hint">
            A customer without a card in Stripe is sent each invoice to pay by its due date. Open a Stripe page where they save a card; with invoice collection on
            &quot;charge the customer&apos;s card&quot; (Settings), their next invoice and its payment retries are charged to it.
          </p>
          <OutcomeNotice outcome={outcome?.cardSetup ? outcome : undefined}>
            {outcome?.setupLink ? (
              <p>
                <a href={outcome.setupLink.url} rel="noreferrer" target="_blank">
                  {outcome.setupLink.url}
                </a>
              </p>
            ) : null}
          </OutcomeNotice>
          <Form method="post">
            <CsrfField />
            <input type="hidden" name="intent" value="card-setup" />
            <input type="hidden" name="request_key" value={outcome?.pendingKey ?? c.cardSetupKey} />
            <label htmlFor="customer-card-return">Send the customer back to</label>
            <p className="hint" id="customer-card-return-hint">
              A page of your own site (https://…) where Stripe sends the customer afterwards, whether or not they saved a card.
            </p>
            <input
              id="customer-card-return"
              name="return_url"
              type="url"
              required
              aria-describedby="customer-card-return-hint"
              aria-invalid={outcome?.cardSetup && !outcome.ok && outcome.field === 'success_url' ? true : undefined}
            />
            <button type="submit" disabled={busy} aria-describedby="customer-card-hint">
              {busy && intent === 'card-setup' ? 'Opening…' : 'Open a card setup page'}
            </button>
          </Form>
        </section>
      ) : null}
      <p>
        <Link to={`/customers/${c.customer.id}/wallet`}>Prepaid credits: balance, ledger, top-ups →</Link>
      </p>
      <CustomerSubscriptions subscriptions={c.subscriptions} plans={c.plans} canEdit={canEdit} outcome={subscriptionOutcome} busy={busy} />
      <h2>Daily usage</h2>
      <UsageChart {...c.chart} caption="Daily usage per meter, the 60 days up to the latest usage (UTC days)" />
      <h2 id="customer-invoices">Invoices</h2>
      {c.invoices.length === 0 ? (
        <p>No invoices yet.</p>
      ) : (
        <ul aria-labelledby="customer-invoices">
          {c.invoices.map((i) => (
            <li key={i.id}>
              <Link to={`/invoices/${i.id}`}>{i.period}</Link>: {i.status}, {i.total}
            </li>
          ))}
        </ul>
      )}
      <h2 id="customer-alerts">Margin alerts</h2>
      {c.alerts.length === 0 ? (
        <p>None.</p>
      ) : (
        <ul aria-labelledby="customer-alerts">
          {c.alerts.map((a) => (
            <li key={a.id}>
              {a.month}: {a.level}, margin {a.margin} ({a.status})
            </li>
          ))}
        </ul>
      )}
      <h2 id="customer-leaks">Revenue leaks</h2>
      {c.findings.length === 0 ? (
        <p>None found.</p>
      ) : (
        <ul aria-labelledby="customer-leaks">
          {c.findings.map((f) => (
            <li key={f.id}>
              <Link to={`/leaks?finding=${f.id}`}>
                {f.kind} ({f.subject}), {f.period}
              </Link>
              : {f.leak}, {f.status}
            </li>
          ))}
        </ul>
      )}
      <h2 id="customer-audit">Audit history</h2>
      {c.audit.length === 0 ? (
        <p>No entries.</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table aria-labelledby="customer-audit">
            <thead>
              <tr>
                <th scope="col">When (UTC)</th>
                <th scope="col">What</th>
                <th scope="col">Who</th>
                <th scope="col">Entity</th>
              </tr>
            </thead>
            <tbody>
              {c.audit.map((a) => (
                <tr key={a.id}>
                  <td>{a.at}</td>
                  <td>{a.action}</td>
                  <td>{a.actor}</td>
                  <td>{a.entity}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

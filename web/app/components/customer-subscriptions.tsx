import { Form, Link } from 'react-router';
import type { PendingChange, SubscriptionOutcome } from '../server/subscriptions.server';
import { CsrfField } from './session';
import { OutcomeNotice } from './outcome-notice';

type Subscription = {
  id: string;
  plan: string;
  plan_version: number;
  plan_name: string;
  currency: string;
  status: string;
  start_date: string;
  cancel_at_period_end: boolean;
  current_period: { start: string; end: string } | null;
  scheduled: { plan: string; plan_version: number; plan_name: string; at: string }[];
};
type Plan = { key: string; version: number; name: string; currency: string; interval: string; baseFee: string };

const day = (iso: string) => iso.slice(0, 10);

/** The proration the period's invoice will carry, and the button that asks for it. */
function Confirmation({ pending, busy }: { pending: PendingChange; busy: boolean }) {
  const p = pending.preview;
  const cancel = pending.intent === 'confirm-cancel';
  const atPeriodEnd = cancel ? pending.fields.when === 'period_end' : pending.fields.at_period_end === 'on';
  const to = p.to_plan && (p.to_plan.key === p.from_plan.key ? `${p.to_plan.name} version ${p.to_plan.version}` : p.to_plan.name);
  return (
    <section aria-labelledby="subscription-preview" className="notice">
      <h3 id="subscription-preview">{cancel ? `Cancel ${p.from_plan.name}?` : `Change ${p.from_plan.name} to ${to}?`}</h3>
      {atPeriodEnd ? (
        cancel ? (
          <p>It ends with its current period on {day(p.period.end)}: this period is billed in full and nothing is credited.</p>
        ) : (
          <p>
            {to} takes effect with the end of the current period on {day(p.period.end)}: this period is billed in full on {p.from_plan.name}, nothing is prorated.
          </p>
        )
      ) : (
        <table aria-labelledby="subscription-preview">
          <caption>
            On the invoice of {day(p.period.start)} – {day(p.period.end)}, from {p.at.slice(0, 16).replace('T', ' ')} UTC ({p.remaining} of {p.total} {p.unit === 'day' ? 'days' : 'seconds'} left)
          </caption>
          <tbody>
            <tr>
              <th scope="row">Unused base fee of {p.from_plan.name} ({p.from_plan.base_fee} per period)</th>
              <td data-testid="preview-credit">{p.credit}</td>
            </tr>
            {p.to_plan ? (
              <tr>
                <th scope="row">Rest of the period on {p.to_plan.name} ({p.to_plan.base_fee} per period)</th>
                <td data-testid="preview-charge">{p.charge}</td>
              </tr>
            ) : null}
            <tr>
              <th scope="row">Net base fee change ({p.currency.toUpperCase()})</th>
              <td data-testid="preview-net">{p.net}</td>
            </tr>
          </tbody>
        </table>
      )}
      <p className="hint">Usage is billed as it is metered, on the plan in effect when it happens.</p>
      <Form method="post">
        <CsrfField />
        <input type="hidden" name="intent" value={pending.intent} />
        <input type="hidden" name="subscription_id" value={pending.subscriptionId} />
        {Object.entries(pending.fields).map(([name, value]) => (
          <input key={name} type="hidden" name={name} value={value} />
        ))}
        <button type="submit" className={cancel ? 'danger' : undefined} disabled={busy}>
          {cancel ? 'Confirm cancellation' : 'Confirm plan change'}
        </button>{' '}
        <Link to=".">Back</Link>
      </Form>
    </section>
  );
}

/** The customer's subscriptions; with `canEdit`, forms to start one, change its plan or cancel it, each previewed first. */
export function CustomerSubscriptions({ subscriptions, plans, canEdit, outcome, busy }: { subscriptions: Subscription[]; plans: Plan[]; canEdit: boolean; outcome: SubscriptionOutcome | undefined; busy: boolean }) {
  const today = new Date().toISOString().slice(0, 10);
  /** the field a refusal names, marked invalid in the form of the subscription it concerns (undefined: starting one) */
  const refused = (subscriptionId: string | undefined, field: string) => (outcome && !outcome.ok && outcome.field === field && outcome.subscriptionId === subscriptionId ? true : undefined);
  return (
    <section aria-labelledby="customer-subscriptions">
      <h2 id="customer-subscriptions">Subscriptions</h2>
      <OutcomeNotice outcome={outcome} />
      {outcome?.pending ? <Confirmation pending={outcome.pending} busy={busy} /> : null}
      {subscriptions.length === 0 ? <p>No subscriptions.</p> : null}
      {subscriptions.map((s) => {
        // Another plan, or its own plan's newest version when the subscription is on an older one (moving it to the new prices).
        const others = plans.filter((p) => p.currency === s.currency && (p.key !== s.plan || p.version !== s.plan_version));
        const active = s.status === 'active';
        return (
          <article key={s.id} aria-labelledby={`sub-${s.id}`} data-testid="subscription">
            <h3 id={`sub-${s.id}`}>
              {s.plan_name} <code>{s.plan}</code> · version {s.plan_version}
            </h3>
            <p>
              {s.status}
              {s.cancel_at_period_end ? ', ends with this period' : ''} · since {day(s.start_date)}
              {s.current_period ? ` · current period ${day(s.current_period.start)} – ${day(s.current_period.end)}` : ''}
            </p>
            {s.scheduled.map((c) => (
              <p key={c.at} className="hint">
                Changes to {c.plan_name} <code>{c.plan}</code> version {c.plan_version} on {c.at.slice(0, 16).replace('T', ' ')} UTC (a change must take effect after it).
              </p>
            ))}
            {canEdit && active ? (
              <div className="decisions">
                <Form method="post">
                  <fieldset>
                    <legend>Change plan</legend>
                    <CsrfField />
                    <input type="hidden" name="intent" value="preview-change" />
                    <input type="hidden" name="subscription_id" value={s.id} />
                    <label htmlFor={`change-plan-${s.id}`}>New plan</label>
                    <select id={`change-plan-${s.id}`} name="plan" required aria-invalid={refused(s.id, 'plan')}>
                      {others.map((p) => (
                        <option key={p.key} value={p.key}>
                          {p.key === s.plan ? `${p.name}, version ${p.version}: its newest prices` : p.name} ({p.baseFee} {p.currency.toUpperCase()} per {p.interval})
                        </option>
                      ))}
                    </select>
                    <label htmlFor={`change-at-${s.id}`}>Takes effect (UTC; empty = now, within the current period)</label>
                    <input id={`change-at-${s.id}`} name="effective_at" type="datetime-local" aria-invalid={refused(s.id, 'effective_at')} />
                    <label>
                      <input type="checkbox" name="at_period_end" /> At the end of the current period instead (nothing prorated)
                    </label>
                    <button type="submit" disabled={busy || others.length === 0}>
                      Preview plan change
                    </button>
                  </fieldset>
                </Form>
                {s.cancel_at_period_end ? null : (
                  <Form method="post">
                    <fieldset>
                      <legend>Cancel</legend>
                      <CsrfField />
                      <input type="hidden" name="intent" value="preview-cancel" />
                      <input type="hidden" name="subscription_id" value={s.id} />
                      <div>
                        <input type="radio" id={`cancel-end-${s.id}`} name="when" value="period_end" defaultChecked />{' '}
                        <label htmlFor={`cancel-end-${s.id}`} style={{ display: 'inline' }}>
                          At the end of the current period
                        </label>
                      </div>
                      <div>
                        <input type="radio" id={`cancel-now-${s.id}`} name="when" value="now" />{' '}
                        <label htmlFor={`cancel-now-${s.id}`} style={{ display: 'inline' }}>
                          Now, crediting the unused base fee
                        </label>
                      </div>
                      <button type="submit" disabled={busy}>
                        Preview cancellation
                      </button>
                    </fieldset>
                  </Form>
                )}
              </div>
            ) : null}
          </article>
        );
      })}
      {canEdit ? (
        <Form method="post">
          <fieldset>
            <legend>Start a subscription</legend>
            <CsrfField />
            <input type="hidden" name="intent" value="subscribe" />
            <label htmlFor="subscribe-plan">Plan</label>
            <select id="subscribe-plan" name="plan" required aria-invalid={refused(undefined, 'plan')}>
              {plans.map((p) => (
                <option key={p.key} value={p.key}>
                  {p.name} ({p.baseFee} {p.currency.toUpperCase()} per {p.interval})
                </option>
              ))}
            </select>
            <label htmlFor="subscribe-start">Starts (UTC day; a start inside a period is prorated)</label>
            <input id="subscribe-start" name="start_date" type="date" defaultValue={today} />
            <button type="submit" disabled={busy || plans.length === 0}>
              Start subscription
            </button>
          </fieldset>
        </Form>
      ) : null}
    </section>
  );
}

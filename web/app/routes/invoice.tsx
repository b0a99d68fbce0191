import { data, Form, Link, redirect, useActionData, useLoaderData, useNavigation, type ActionFunctionArgs, type LoaderFunctionArgs } from 'react-router';
import { CsrfField, useCan } from '../components/session';
import { usePolling } from '../components/use-polling';
import { requireFormAction, requireUser } from '../server/auth.server';
import { creditNoteKeyFor, issueCreditNoteFromWeb } from '../server/credit-notes.server';
import { decideInvoice } from '../server/decisions.server';
import { readInvoice } from '../server/invoices.server';
import { temporalUiLink } from '../server/runs.server';
import { OutcomeNotice } from '../components/outcome-notice';

/** Statuses the billing run moves on from by itself: the page refreshes while in one. */
const MOVING = new Set(['approved', 'finalized']);

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const user = await requireUser(request, context);
  const invoice = await readInvoice(context, user.organizationId, params.invoiceId);
  // A credit note form sent twice (a double click, a resubmitted page) is one note: the key names the invoice's next
  // note, so it stays the same however often the page is read again until a note is recorded.
  return { invoice, temporalUrl: temporalUiLink(context, invoice.workflowId), creditNoteKey: creditNoteKeyFor(invoice.id, invoice.creditNotes.length) };
}

export async function action({ request, context, params }: ActionFunctionArgs) {
  const { user, form } = await requireFormAction(request, context, 'decide_invoices');
  if (form.get('intent') === 'credit_note') {
    const issued = await issueCreditNoteFromWeb(context, user, params.invoiceId, form);
    return data(issued, { status: issued.ok ? 200 : issued.invalid ? 400 : 409 });
  }
  const outcome = await decideInvoice(context, user, params.invoiceId, form);
  // A re-draft bills a new revision: show it.
  if (outcome.ok && outcome.invoiceId !== params.invoiceId) return redirect(`/invoices/${outcome.invoiceId}`);
  return data(outcome, { status: outcome.ok ? 200 : 409 });
}

export function meta() {
  return [{ title: 'Invoice · Ledgerflow' }];
}

function Decisions() {
  const busy = useNavigation().state === 'submitting';
  return (
    <section aria-labelledby="decide">
      <h2 id="decide">Decision</h2>
      <div className="decisions">
        <Form method="post">
          <fieldset>
            <legend>Approve</legend>
            <CsrfField />
            <input type="hidden" name="intent" value="approve" />
            <label htmlFor="approve-note">Note (optional)</label>
            <input id="approve-note" name="note" />
            <button type="submit" disabled={busy}>
              Approve
            </button>
          </fieldset>
        </Form>
        <Form method="post">
          <fieldset>
            <legend>Adjust (add a line)</legend>
            <CsrfField />
            <input type="hidden" name="intent" value="adjust" />
            <label htmlFor="adjust-description">Line description</label>
            <input id="adjust-description" name="description" required />
            <label htmlFor="adjust-amount">Amount (negative for a credit)</label>
            <input id="adjust-amount" name="amount" inputMode="decimal" pattern="-?[0-9]+(\.[0-9]+)?" required />
            <label htmlFor="adjust-reason">Reason</label>
            <input id="adjust-reason" name="reason" required />
            <button type="submit" disabled={busy}>
              Adjust
            </button>
          </fieldset>
        </Form>
        <ReasonForm intent="reject" legend="Reject" button="Reject" danger />
      </div>
    </section>
  );
}

/** A decision that needs only a reason (void, re-draft, write-off, re-issue), sent as `intent`. */
function ReasonForm({ intent, legend, button, danger = false }: { intent: string; legend: string; button: string; danger?: boolean }) {
  const busy = useNavigation().state === 'submitting';
  const id = `${intent.replace(/_/g, '-')}-reason`;
  return (
    <Form method="post">
      <fieldset>
        <legend>{legend}</legend>
        <CsrfField />
        <input type="hidden" name="intent" value={intent} />
        <label htmlFor={id}>Reason</label>
        <input id={id} name="reason" required />
        <button type="submit" className={danger ? 'danger' : undefined} disabled={busy}>
          {button}
        </button>
      </fieldset>
    </Form>
  );
}

/** A finalized invoice still being collected can be voided (a corrected one then follows by re-draft). */
function VoidInvoice() {
  return (
    <section aria-labelledby="void">
      <h2 id="void">Void</h2>
      <p>Voids the invoice in Stripe and stops collecting it; the period then waits to be re-drafted (a corrected invoice) or written off.</p>
      <ReasonForm intent="void" legend="Void this invoice" button="Void" danger />
    </section>
  );
}

/** A rejected draft (or a void invoice) waits for finance: draft the period again, or write it off. */
function AfterRejection() {
  return (
    <section aria-labelledby="after-rejection">
      <h2 id="after-rejection">Re-draft or write off</h2>
      <p>The billing run waits for one of these. A re-draft closes the period again from its usage as it now stands; a write-off bills nothing for it.</p>
      <div className="decisions">
        <ReasonForm intent="redraft" legend="Re-draft" button="Re-draft" />
        <ReasonForm intent="write_off" legend="Write off" button="Write off" danger />
      </div>
    </section>
  );
}

/** After the billing run ended: the period re-issued as a corrected invoice (sent as a re-draft; the server starts a re-issue run). */
function Reissue({ voidFirst }: { voidFirst: boolean }) {
  return (
    <section aria-labelledby="reissue">
      <h2 id="reissue">Re-issue</h2>
      <p>
        {voidFirst ? 'Voids this invoice in Stripe, then closes' : 'Nothing is owed on this invoice any more. A re-issue closes'} the period again from its usage as it now stands into a corrected invoice, which waits
        for approval; this one stays for the record and bills nothing from then on.
      </p>
      <ReasonForm intent="redraft" legend="Re-issue the period" button="Re-issue" />
    </section>
  );
}

/** A finalized invoice is credited in full or in part, with a reason; a paid one's credit can be refunded. */
function IssueCreditNote({ requestKey, leftToCredit, paid }: { requestKey: string; leftToCredit: string; paid: boolean }) {
  const busy = useNavigation().state === 'submitting';
  return (
    <section aria-labelledby="issue-credit-note">
      <h2 id="issue-credit-note">Credit note</h2>
      <p>
        Credits this invoice in Stripe and here ({leftToCredit} left to credit). {paid ? 'It is paid: the credit goes to the customer\'s Stripe balance, or back to their card as a refund.' : 'It lowers what is still due.'}
      </p>
      <Form method="post">
        <fieldset>
          <legend>Issue a credit note</legend>
          <CsrfField />
          <input type="hidden" name="intent" value="credit_note" />
          <input type="hidden" name="request_key" value={requestKey} />
          <label htmlFor="credit-amount">Amount (empty: everything left)</label>
          <input id="credit-amount" name="amount" inputMode="decimal" pattern="[0-9]+(\.[0-9]+)?" />
          <label htmlFor="credit-reason">Reason</label>
          <input id="credit-reason" name="reason" required />
          {paid ? (
            <label>
              <input type="checkbox" name="refund" /> Refund to the card
            </label>
          ) : null}
          <button type="submit" disabled={busy}>
            Issue credit note
          </button>
        </fieldset>
      </Form>
    </section>
  );
}

function CreditNotes({ notes }: { notes: ReturnType<typeof useLoaderData<typeof loader>>['invoice']['creditNotes'] }) {
  return (
    <section aria-labelledby="credit-notes">
      <h2 id="credit-notes">Credit notes</h2>
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th scope="col">Number</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Amount
              </th>
              <th scope="col">Reason</th>
              <th scope="col">Asked by</th>
            </tr>
          </thead>
          <tbody>
            {notes.map((n) => (
              <tr key={n.id} data-testid="credit-note">
                <td>{n.number ?? '—'}</td>
                <td>{n.status === 'failed' ? `failed: ${n.failure}` : n.status}</td>
                <td className="num">{n.amount}</td>
                <td>{n.reason}</td>
                <td>{n.requestedBy}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export default function Invoice() {
  const { invoice, temporalUrl, creditNoteKey } = useLoaderData<typeof loader>();
  const outcome = useActionData<typeof action>();
  const mayDecide = useCan('decide_invoices');
  usePolling(MOVING.has(invoice.status));

  return (
    <>
      <p>
        <Link to="/invoices">← Invoices</Link>
      </p>
      <h1>
        Invoice for {invoice.customer}, {invoice.period}
      </h1>
      <p>
        {invoice.number ? (
          <>
            Number <strong data-testid="invoice-number">{invoice.number}</strong> ·{' '}
          </>
        ) : null}
        Status: <span className="status" data-testid="invoice-status">{invoice.status}</span> · Total {invoice.total} · Billing run{' '}
        <a href={temporalUrl}>{invoice.workflowId}</a>
      </p>
      {invoice.collection ? (
        <p data-testid="invoice-collection">
          {invoice.collection.sent ? `Sent to the customer to pay by ${invoice.collection.due ?? 'its due date'} UTC (no card on file to charge)` : "Charged to the customer's card"}
          {invoice.collection.payPage ? (
            <>
              {' '}
              · <a href={invoice.collection.payPage}>Stripe invoice page</a>
            </>
          ) : null}
        </p>
      ) : null}
      {invoice.recoveryFindingId ? (
        <p>
          A recovery invoice: it bills what{' '}
          <Link to={`/leaks?finding=${invoice.recoveryFindingId}#finding-${invoice.recoveryFindingId}`}>a revenue-leak finding</Link> found, once finance approves it.
        </p>
      ) : null}
      <OutcomeNotice outcome={outcome} />
      {invoice.revisions.length > 1 ? (
        <p>
          Revision {invoice.revision} of this period:{' '}
          {invoice.revisions.map((r, i) => (
            <span key={r.id}>
              {i > 0 ? ', ' : ''}
              {r.id === invoice.id ? `${r.revision} (${r.status}, this one)` : <Link to={`/invoices/${r.id}`}>{`${r.revision} (${r.status})`}</Link>}
            </span>
          ))}
        </p>
      ) : null}
      {invoice.status === 'rejected' && invoice.rejectionReason ? <p>Rejected: {invoice.rejectionReason}</p> : null}
      {invoice.status === 'written_off' ? <p>Written off by {invoice.writtenOffBy}: {invoice.writeOffReason}</p> : null}
      {mayDecide && invoice.status === 'draft' ? <Decisions /> : null}
      {invoice.status === 'void' ? <p>Voided by {invoice.voidedBy}: {invoice.voidReason}</p> : null}
      {mayDecide && (invoice.status === 'rejected' || invoice.status === 'void') && invoice.latest ? <AfterRejection /> : null}
      {mayDecide && invoice.status === 'finalized' && invoice.latest && !invoice.recoveryFindingId ? <VoidInvoice /> : null}

      {mayDecide && invoice.reissue ? <Reissue voidFirst={invoice.reissue.voidFirst} /> : null}
      {mayDecide && invoice.creditable ? <IssueCreditNote requestKey={creditNoteKey} leftToCredit={invoice.leftToCredit} paid={invoice.status === 'paid'} /> : null}
      {invoice.creditNotes.length > 0 ? <CreditNotes notes={invoice.creditNotes} /> : null}

      <h2>Lines</h2>
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              <th scope="col">Description</th>
              <th scope="col">Kind</th>
              <th scope="col" className="num">
                Quantity
              </th>
              <th scope="col" className="num">
                Amount
              </th>
            </tr>
          </thead>
          <tbody>
            {invoice.lines.map((l) => (
              <tr key={l.id}>
                <td>
                  {l.hasUsage ? <Link to={`/invoices/${invoice.id}/lines/${l.id}`}>{l.description}</Link> : l.description}
                  {l.tiers.length > 0 ? (
                    <table aria-label={`Tier breakdown of ${l.description}`}>
                      <thead>
                        <tr>
                          <th scope="col">Tier</th>
                          <th scope="col" className="num">
                            Units
                          </th>
                          <th scope="col" className="num">
                            Unit price
                          </th>
                          <th scope="col" className="num">
                            Amount
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {l.tiers.map((t) => (
                          <tr key={t.range}>
                            <td>{t.range}</td>
                            <td className="num">{t.quantity}</td>
                            <td className="num">{t.unitAmount}</td>
                            <td className="num">{t.amount}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  ) : null}
                </td>
                <td>{l.kind}</td>
                <td className="num">
                  {l.quantity ?? ''}
                  {l.creditedQuantity ? <span className="hint">+ {l.creditedQuantity} covered by prepaid credits</span> : null}
                </td>
                <td className="num">{l.amount}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h2 id="audit">Audit history</h2>
      <div className="table-wrap" tabIndex={0}>
        <table aria-labelledby="audit">
          <thead>
            <tr>
              <th scope="col">When (UTC)</th>
              <th scope="col">What</th>
              <th scope="col">Who</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {invoice.audit.map((a) => (
              <tr key={a.id}>
                <td>{a.at.replace('T', ' ').slice(0, 19)}</td>
                <td>{a.action}</td>
                <td>{a.actor}</td>
                <td>
                  <code>{a.detail}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small stateful stand-in for the part of Stripe's API the billing
 * activities use. stripe-mock checks request shapes but keeps no state, so
 * "the card fails twice, then succeeds" and "exactly one charge" need this.
 *
 * Like Stripe, a repeated Idempotency-Key gets the first response back
 * (a different request under the same key is refused). Injected faults (a
 * 500, a refused request) are not stored under their key — they model
 * failures before the API ran, which Stripe does not record — so a retry
 * with the same key goes through.
 */
export interface FakeRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  body: Record<string, unknown>;
  status: number;
  /** the API key the request was made with (Authorization: Bearer …) */
  apiKey: string | null;
}

export interface FakeCharge {
  invoice: string;
  amount: number;
  currency: string;
  outcome: 'succeeded' | 'declined';
}

interface FakeInvoice {
  id: string;
  customer: string;
  currency: string;
  collectionMethod: 'charge_automatically' | 'send_invoice';
  /** unix seconds, send_invoice only */
  dueDate: number | null;
  /** Stripe emailed it to the customer (POST /v1/invoices/:id/send) */
  sent: boolean;
  status: 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';
  metadata: Record<string, string>;
  itemIds: string[];
  number: string | null;
  customFields: { name: string; value: string }[];
}

interface FakeItem {
  id: string;
  invoice: string;
  amount: number;
  currency: string;
  description: string;
  metadata: Record<string, string>;
}

/** A credit note as the fake keeps it: what it credits, and how a paid invoice's note is settled. */
export interface FakeCreditNote {
  id: string;
  invoice: string;
  amount: number;
  memo: string;
  metadata: Record<string, string>;
  creditAmount: number;
  refundAmount: number;
}

interface Reply {
  status: number;
  body: unknown;
}

type Form = Record<string, unknown>;

/** A Checkout session in setup mode: the page where a customer saves a card. */
export interface FakeCheckoutSession {
  id: string;
  customer: string;
  url: string;
  successUrl: string;
  cancelUrl: string | null;
  status: 'open' | 'complete';
}

export interface StripeFakeOptions {
  /**
   * Customers made through the API have a card on file as their invoice
   * default, as if each had saved one through Checkout (the default, so
   * charging tests need no setup). false: they start with none, as real
   * new Stripe customers do, until completeCheckoutSetup saves one.
   */
  cardOnFile?: boolean;
}

export class StripeFake {
  constructor(private readonly options: StripeFakeOptions = {}) {}

  readonly requests: FakeRequest[] = [];
  readonly checkoutSessions = new Map<string, FakeCheckoutSession>();
  /** payment methods attached to each customer (saved through Checkout), newest first */
  private readonly savedCards = new Map<string, string[]>();
  readonly charges: FakeCharge[] = [];
  private readonly customers = new Map<string, Form>();
  private readonly deletedCustomers = new Set<string>();
  private readonly invoices = new Map<string, FakeInvoice>();
  private readonly items = new Map<string, FakeItem>();
  readonly creditNotes: FakeCreditNote[] = [];
  private readonly idempotent = new Map<string, { fingerprint: string; reply: Reply }>();
  private declinesLeft = 0;
  private readonly faults: { method: string; pattern: RegExp; skip: number; reply: Reply }[] = [];
  private readonly hooks: { method: string; pattern: RegExp; run: () => void }[] = [];
  private server?: http.Server;

  /** The next `times` charges are declined (insufficient funds); later ones succeed. */
  declineCharges(times: number): void {
    this.declinesLeft = times;
  }

  /** Stripe keeps idempotency keys for 24 hours: this is the day after, when every key is new again. */
  forgetIdempotencyKeys(): void {
    this.idempotent.clear();
  }

  /** The next request matching method and path answers HTTP 500 (once). */
  failOnce(method: string, pattern: RegExp): void {
    this.faults.push({ method, pattern, skip: 0, reply: error(500, 'api_error', 'An unknown error occurred (injected by the fake)') });
  }

  /** The nth request from now matching method and path is refused with HTTP 400 (once). */
  refuseOnce(method: string, pattern: RegExp, nth = 1): void {
    this.faults.push({ method, pattern, skip: nth - 1, reply: error(400, 'invalid_request_error', 'Request refused (injected by the fake)', 'parameter_invalid') });
  }

  async start(): Promise<number> {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        const reply = this.handle(req, raw);
        res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Request-Id': `req_${randomBytes(6).toString('hex')}` });
        res.end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  }

  requestsTo(method: string, pattern: RegExp): FakeRequest[] {
    return this.requests.filter((r) => r.method === method && pattern.test(r.path));
  }

  private handle(req: http.IncomingMessage, raw: string): Reply {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    const body = parseForm(raw);
    const reply = this.reply(method, path, key, raw, body);
    const apiKey = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? null;
    this.requests.push({ method, path, idempotencyKey: key, body, status: reply.status, apiKey });
    return reply;
  }

  /** Just before the next request matching method and path is answered, `run` (something happening at Stripe meanwhile, like a payment), once. */
  beforeNext(method: string, pattern: RegExp, run: () => void): void {
    this.hooks.push({ method, pattern, run });
  }

  private reply(method: string, path: string, key: string | null, raw: string, body: Form): Reply {
    const hook = this.hooks.find((h) => h.method === method && h.pattern.test(path));
    if (hook) {
      this.hooks.splice(this.hooks.indexOf(hook), 1);
      hook.run();
    }
    const fault = this.faults.find((f) => f.method === method && f.pattern.test(path));
    if (fault && fault.skip > 0) fault.skip--;
    else if (fault) {
      this.faults.splice(this.faults.indexOf(fault), 1);
      return fault.reply;
    }
    if (method !== 'POST' || !key) return this.route(method, path, body);
    const fingerprint = `${path}\n${raw}`;
    const seen = this.idempotent.get(key);
    if (seen) {
      return seen.fingerprint === fingerprint
        ? seen.reply
        : error(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with (${key})`);
    }
    const reply = this.route(method, path, body);
    this.idempotent.set(key, { fingerprint, reply });
    return reply;
  }

  private route(method: string, path: string, body: Form): Reply {
    const invoiceAction = /^\/v1\/invoices\/([^/]+)(?:\/([a-z_]+))?$/.exec(path);
    if (method === 'POST' && path === '/v1/customers') return this.createCustomer(body);
    if (method === 'POST' && path === '/v1/checkout/sessions') return this.createCheckoutSession(body);
    const customerCards = /^\/v1\/customers\/([^/]+)\/payment_methods$/.exec(path);
    if (method === 'GET' && customerCards) {
      if (!this.customers.has(customerCards[1]!)) return error(404, 'invalid_request_error', `No such customer: '${customerCards[1]}'`, 'resource_missing');
      const cards = this.savedCards.get(customerCards[1]!) ?? [];
      return ok(list(`/v1/customers/${customerCards[1]}/payment_methods`, cards.map((id) => ({ id, object: 'payment_method', type: 'card', customer: customerCards[1] }))));
    }
    const customerPath = /^\/v1\/customers\/([^/]+)$/.exec(path);
    if (method === 'POST' && customerPath) return this.updateCustomer(customerPath[1]!, body);
    if (method === 'GET' && customerPath) {
      const customer = this.customers.get(customerPath[1]!);
      if (!customer) return error(404, 'invalid_request_error', `No such customer: '${customerPath[1]}'`, 'resource_missing');
      return ok(this.deletedCustomers.has(customerPath[1]!) ? { id: customer.id, object: 'customer', deleted: true } : customer);
    }
    if (method === 'POST' && path === '/v1/invoices') return this.createInvoice(body);
    if (method === 'POST' && path === '/v1/invoiceitems') return this.createItem(body);
    if (method === 'POST' && path === '/v1/credit_notes') return this.createCreditNote(body);
    if (invoiceAction) {
      const invoice = this.invoices.get(invoiceAction[1]!);
      if (!invoice) return error(404, 'invalid_request_error', `No such invoice: '${invoiceAction[1]}'`, 'resource_missing');
      const action = `${method} ${invoiceAction[2] ?? ''}`;
      if (action === 'GET ') return ok(this.invoiceJson(invoice));
      if (action === 'POST ') return this.updateInvoice(invoice, body);
      if (action === 'GET lines') return ok(list(`/v1/invoices/${invoice.id}/lines`, invoice.itemIds.map((id) => this.lineJson(this.items.get(id)!))));
      if (action === 'POST finalize') return this.finalize(invoice);
      if (action === 'POST pay') return this.pay(invoice);
      if (action === 'POST mark_uncollectible') return this.markUncollectible(invoice);
      if (action === 'POST send') return this.send(invoice);
      if (action === 'POST void') return this.voidInvoice(invoice);
      if (action === 'DELETE ') return this.deleteDraft(invoice);
    }
    return error(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}); the fake implements only what the billing activities call`);
  }

  /** A customer made in the account outside Ledgerflow (as a person would in the Stripe dashboard); its id. */
  addCustomer(fields: { name?: string; email?: string; metadata?: Record<string, string> } = {}): string {
    const reply = this.createCustomer(fields as Form);
    return (reply.body as { id: string }).id;
  }

  /** Deletes a customer as the Stripe dashboard does: retrieving it then answers { deleted: true }. */
  deleteCustomer(id: string): void {
    this.deletedCustomers.add(id);
  }

  private createCustomer(body: Form): Reply {
    const card = this.options.cardOnFile === false ? null : newId('pm');
    const customer = {
      id: newId('cus'),
      object: 'customer',
      name: body.name ?? null,
      email: body.email ?? null,
      metadata: body.metadata ?? {},
      default_source: null,
      invoice_settings: { default_payment_method: card },
    };
    this.customers.set(customer.id, customer);
    if (card) this.savedCards.set(customer.id, [card]);
    return ok(customer);
  }

  /** As Stripe: the invoice default payment method must be one attached to the customer. */
  private updateCustomer(id: string, body: Form): Reply {
    const customer = this.customers.get(id);
    if (!customer) return error(404, 'invalid_request_error', `No such customer: '${id}'`, 'resource_missing');
    const wanted = (body.invoice_settings as Form | undefined)?.default_payment_method;
    if (typeof wanted === 'string') {
      if (!(this.savedCards.get(id) ?? []).includes(wanted)) return error(400, 'invalid_request_error', `No such PaymentMethod: '${wanted}' on customer ${id}`, 'resource_missing');
      customer.invoice_settings = { default_payment_method: wanted };
    }
    if (body.name !== undefined) customer.name = body.name;
    if (body.email !== undefined) customer.email = body.email === '' ? null : body.email;
    return ok(customer);
  }

  /** A customer as the fake holds it: its invoice default payment method and saved cards. */
  customer(id: string): { defaultPaymentMethod: string | null; savedCards: string[] } | undefined {
    const customer = this.customers.get(id);
    if (!customer) return undefined;
    return { defaultPaymentMethod: ((customer.invoice_settings as Form | undefined)?.default_payment_method as string | null) ?? null, savedCards: this.savedCards.get(id) ?? [] };
  }

  /** As Stripe: setup mode needs a customer here (we always give one), a success URL, and payment method types or a currency. */
  private createCheckoutSession(body: Form): Reply {
    if (body.mode !== 'setup') return error(400, 'invalid_request_error', `The fake implements only setup mode, not ${String(body.mode)}`, 'parameter_invalid');
    const customer = String(body.customer ?? '');
    if (!this.customers.has(customer)) return error(400, 'invalid_request_error', `No such customer: '${customer}'`, 'resource_missing');
    if (typeof body.success_url !== 'string') return error(400, 'invalid_request_error', 'Missing required param: success_url.', 'parameter_missing');
    if (body.currency === undefined && body.payment_method_types === undefined) {
      return error(400, 'invalid_request_error', 'You must provide one of `payment_method_types` or `currency` in setup mode.', 'parameter_missing');
    }
    const id = newId('cs');
    const session: FakeCheckoutSession = { id, customer, url: `https://checkout.stripe.test/c/pay/${id}`, successUrl: body.success_url, cancelUrl: typeof body.cancel_url === 'string' ? body.cancel_url : null, status: 'open' };
    this.checkoutSessions.set(id, session);
    return ok({ id, object: 'checkout.session', mode: 'setup', customer, url: session.url, status: 'open', success_url: session.successUrl, cancel_url: session.cancelUrl, expires_at: Math.floor(Date.now() / 1000) + 24 * 3600, metadata: asStrings(body.metadata) });
  }

  /** The customer fills in the Checkout page: a card is attached to them (as Stripe does, not made their invoice default). */
  completeCheckoutSetup(sessionId: string): string {
    const session = this.checkoutSessions.get(sessionId);
    if (!session || session.status !== 'open') throw new Error(`no open Checkout session ${sessionId}`);
    session.status = 'complete';
    const card = newId('pm');
    this.savedCards.set(session.customer, [card, ...(this.savedCards.get(session.customer) ?? [])]);
    return card;
  }

  /** The customer pays a sent invoice on its hosted page (as Stripe, an uncollectible one too). */
  payHostedInvoice(stripeInvoiceId: string): void {
    const invoice = this.invoices.get(stripeInvoiceId);
    if (!invoice || (invoice.status !== 'open' && invoice.status !== 'uncollectible')) throw new Error(`invoice ${stripeInvoiceId} is neither open nor uncollectible`);
    this.charges.push({ invoice: invoice.id, amount: this.amountDue(invoice), currency: invoice.currency, outcome: 'succeeded' });
    invoice.status = 'paid';
  }

  private createInvoice(body: Form): Reply {
    const customer = String(body.customer ?? '');
    if (!this.customers.has(customer)) return error(400, 'invalid_request_error', `No such customer: '${customer}'`, 'resource_missing');
    const collectionMethod = body.collection_method === 'send_invoice' ? 'send_invoice' : 'charge_automatically';
    const dueDate = body.due_date === undefined ? null : Number(body.due_date);
    if (collectionMethod === 'send_invoice' && dueDate === null && body.days_until_due === undefined) {
      return error(400, 'invalid_request_error', 'Missing required param: due_date or days_until_due (collection_method is send_invoice).', 'parameter_missing');
    }
    if (collectionMethod === 'charge_automatically' && (dueDate !== null || body.days_until_due !== undefined)) {
      return error(400, 'invalid_request_error', 'due_date and days_until_due are only valid for invoices with collection_method=send_invoice.', 'parameter_invalid');
    }
    if (dueDate !== null && dueDate * 1000 < Date.now()) return error(400, 'invalid_request_error', 'Invoice due dates must be in the future.', 'invoice_bad_due_date');
    if (collectionMethod === 'send_invoice' && !this.customers.get(customer)?.email) return missingEmail();
    const invoice: FakeInvoice = {
      id: newId('in'),
      customer,
      currency: String(body.currency),
      collectionMethod,
      dueDate: dueDate ?? (body.days_until_due === undefined ? null : Math.floor(Date.now() / 1000) + Number(body.days_until_due) * 86_400),
      sent: false,
      status: 'draft',
      metadata: asStrings(body.metadata),
      itemIds: [],
      number: null,
      customFields: [],
    };
    this.invoices.set(invoice.id, invoice);
    return this.updateInvoice(invoice, body);
  }

  /** As Stripe: a draft takes a number (unique in the account) and custom fields; metadata is merged. */
  private updateInvoice(invoice: FakeInvoice, body: Form): Reply {
    if ((body.number !== undefined || body.custom_fields !== undefined) && invoice.status !== 'draft') {
      return error(400, 'invalid_request_error', `Invoice ${invoice.id} is finalized: its number and custom fields cannot change`, 'invoice_not_editable');
    }
    if (typeof body.number === 'string') {
      const taken = [...this.invoices.values()].some((other) => other.id !== invoice.id && other.number === body.number);
      if (taken) return error(400, 'invalid_request_error', `Invoice number ${body.number} is already used by another invoice in this account`, 'invoice_number_taken');
      invoice.number = body.number;
    }
    // custom_fields[0][name]=… arrives as { 0: { name, value } }
    if (typeof body.custom_fields === 'object' && body.custom_fields !== null) {
      invoice.customFields = Object.values(body.custom_fields as Record<string, Form>).map((f) => ({ name: String(f.name), value: String(f.value) }));
    }
    if (body.due_date !== undefined) {
      const due = Number(body.due_date);
      if (invoice.status !== 'draft') return error(400, 'invalid_request_error', `Invoice ${invoice.id} is finalized: its due date cannot change`, 'invoice_not_editable');
      if (invoice.collectionMethod !== 'send_invoice') return error(400, 'invalid_request_error', 'due_date is only valid for invoices with collection_method=send_invoice.', 'parameter_invalid');
      // Stripe compares with its own clock; the fake's server time is the real one (a time-skipping test's workflow clock runs ahead).
      if (due * 1000 < Date.now()) return error(400, 'invalid_request_error', 'Invoice due dates must be in the future.', 'invoice_bad_due_date');
      invoice.dueDate = due;
    }
    invoice.metadata = { ...invoice.metadata, ...asStrings(body.metadata) };
    return ok(this.invoiceJson(invoice));
  }

  /** A Stripe invoice as the fake holds it: its number, custom fields and how it is collected. */
  invoice(
    id: string,
  ): { id: string; status: string; number: string | null; customFields: { name: string; value: string }[]; metadata: Record<string, string>; collectionMethod: string; dueDate: number | null; sent: boolean } | undefined {
    return this.invoices.get(id);
  }

  private createItem(body: Form): Reply {
    const invoice = this.invoices.get(String(body.invoice ?? ''));
    if (!invoice) return error(400, 'invalid_request_error', `No such invoice: '${String(body.invoice)}'`, 'resource_missing');
    if (invoice.status !== 'draft') return error(400, 'invalid_request_error', `Invoice ${invoice.id} is not a draft`, 'invoice_not_editable');
    const amount = Number(body.amount);
    if (!Number.isInteger(amount)) return error(400, 'invalid_request_error', `Invalid integer: ${String(body.amount)}`, 'parameter_invalid_integer');
    const item: FakeItem = { id: newId('ii'), invoice: invoice.id, amount, currency: String(body.currency), description: String(body.description ?? ''), metadata: asStrings(body.metadata) };
    this.items.set(item.id, item);
    invoice.itemIds.push(item.id);
    return ok({ id: item.id, object: 'invoiceitem', amount, currency: item.currency, description: item.description, metadata: item.metadata });
  }

  /**
   * As Stripe: a note on an open or paid invoice, no more than what is left
   * to credit; on a paid invoice the credit, refund (and out-of-band) amounts
   * must add up to the note's amount.
   */
  private createCreditNote(body: Form): Reply {
    const invoice = this.invoices.get(String(body.invoice ?? ''));
    if (!invoice) return error(400, 'invalid_request_error', `No such invoice: '${String(body.invoice)}'`, 'resource_missing');
    if (invoice.status === 'draft' || invoice.status === 'void') return error(400, 'invalid_request_error', 'You can only create credit notes for finalized invoices.', 'invoice_unexpected_state');
    const amount = Number(body.amount);
    if (!Number.isInteger(amount) || amount <= 0) return error(400, 'invalid_request_error', `Invalid integer: ${String(body.amount)}`, 'parameter_invalid_integer');
    const total = invoice.itemIds.reduce((sum, id) => sum + this.items.get(id)!.amount, 0);
    const credited = this.creditNotes.filter((n) => n.invoice === invoice.id).reduce((sum, n) => sum + n.amount, 0);
    if (amount > total - credited) return error(400, 'invalid_request_error', `The credit note amount (${amount}) exceeds the invoice's remaining amount (${total - credited}).`, 'credit_note_amount_too_large');
    const creditAmount = Number(body.credit_amount ?? 0);
    const refundAmount = Number(body.refund_amount ?? 0);
    const outOfBand = Number(body.out_of_band_amount ?? 0);
    if (invoice.status === 'paid' && creditAmount + refundAmount + outOfBand !== amount) {
      return error(400, 'invalid_request_error', 'The sum of credit amount, refund amount and out of band amount must equal the credit note amount.', 'parameter_invalid_integer');
    }
    const note: FakeCreditNote = { id: newId('cn'), invoice: invoice.id, amount, memo: String(body.memo ?? ''), metadata: asStrings(body.metadata), creditAmount, refundAmount };
    this.creditNotes.push(note);
    return ok({ id: note.id, object: 'credit_note', invoice: invoice.id, amount, memo: note.memo, metadata: note.metadata, status: 'issued', type: invoice.status === 'paid' ? 'post_payment' : 'pre_payment' });
  }

  /** As Stripe: only a draft can be deleted. */
  private deleteDraft(invoice: FakeInvoice): Reply {
    if (invoice.status !== 'draft') return error(400, 'invalid_request_error', `You can only delete draft invoices (this one is ${invoice.status}).`, 'invoice_unexpected_state');
    this.invoices.delete(invoice.id);
    return ok({ id: invoice.id, object: 'invoice', deleted: true });
  }

  /** As Stripe: only a finalized invoice not paid (open or uncollectible) can be voided. */
  private voidInvoice(invoice: FakeInvoice): Reply {
    if (invoice.status !== 'open' && invoice.status !== 'uncollectible') return error(400, 'invalid_request_error', `You can only void an open or uncollectible invoice (this one is ${invoice.status}).`, 'invoice_unexpected_state');
    invoice.status = 'void';
    return ok(this.invoiceJson(invoice));
  }

  private finalize(invoice: FakeInvoice): Reply {
    if (invoice.status !== 'draft') return error(400, 'invalid_request_error', `Invoice ${invoice.id} is already finalized`, 'invoice_unexpected_state');
    if (invoice.collectionMethod === 'send_invoice' && !this.customers.get(invoice.customer)?.email) return missingEmail();
    // Stripe marks an invoice with nothing to pay as paid when it is finalized.
    invoice.status = this.amountDue(invoice) > 0 ? 'open' : 'paid';
    return ok(this.invoiceJson(invoice));
  }

  /** As Stripe: only a finalized send_invoice invoice is emailed; sending again sends again. */
  private send(invoice: FakeInvoice): Reply {
    if (invoice.collectionMethod !== 'send_invoice') return error(400, 'invalid_request_error', 'You can only send invoices with collection_method=send_invoice.', 'invoice_unexpected_state');
    if (invoice.status !== 'open') return error(400, 'invalid_request_error', `You can only send open invoices (this one is ${invoice.status}).`, 'invoice_unexpected_state');
    invoice.sent = true;
    return ok(this.invoiceJson(invoice));
  }

  private pay(invoice: FakeInvoice): Reply {
    if (invoice.status === 'paid') return error(400, 'invalid_request_error', 'Invoice is already paid', 'invoice_unexpected_state');
    if (invoice.status === 'draft') return error(400, 'invalid_request_error', 'This invoice must be finalized before it can be paid', 'invoice_unexpected_state');
    if (invoice.status === 'void') return error(400, 'invalid_request_error', 'This invoice is void and cannot be paid', 'invoice_unexpected_state');
    if (!this.customer(invoice.customer)?.defaultPaymentMethod) {
      // What Stripe answers when there is nothing to charge: the charge that "must fail" a sent invoice avoids.
      return error(400, 'invalid_request_error', 'This customer has no attached payment source or default payment method. Please consider adding a default payment method.');
    }
    const charge = { invoice: invoice.id, amount: this.amountDue(invoice), currency: invoice.currency };
    if (this.declinesLeft > 0) {
      this.declinesLeft--;
      this.charges.push({ ...charge, outcome: 'declined' });
      return {
        status: 402,
        body: { error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' } },
      };
    }
    this.charges.push({ ...charge, outcome: 'succeeded' });
    invoice.status = 'paid';
    return ok(this.invoiceJson(invoice));
  }

  private markUncollectible(invoice: FakeInvoice): Reply {
    if (invoice.status !== 'open' && invoice.status !== 'uncollectible') {
      return error(400, 'invalid_request_error', `Invoice ${invoice.id} is ${invoice.status} and cannot be marked uncollectible`, 'invoice_unexpected_state');
    }
    invoice.status = 'uncollectible';
    return ok(this.invoiceJson(invoice));
  }

  private amountDue(invoice: FakeInvoice): number {
    return Math.max(0, invoice.itemIds.reduce((sum, id) => sum + this.items.get(id)!.amount, 0));
  }

  private invoiceJson(invoice: FakeInvoice) {
    const total = invoice.itemIds.reduce((sum, id) => sum + this.items.get(id)!.amount, 0);
    const amountDue = this.amountDue(invoice);
    return {
      id: invoice.id,
      object: 'invoice',
      customer: invoice.customer,
      currency: invoice.currency,
      status: invoice.status,
      number: invoice.number,
      custom_fields: invoice.customFields.length > 0 ? invoice.customFields : null,
      collection_method: invoice.collectionMethod,
      due_date: invoice.dueDate,
      hosted_invoice_url: invoice.status === 'draft' ? null : `https://invoice.stripe.test/i/${invoice.id}`,
      metadata: invoice.metadata,
      total,
      amount_due: amountDue,
      amount_paid: invoice.status === 'paid' ? amountDue : 0,
      lines: list(`/v1/invoices/${invoice.id}/lines`, invoice.itemIds.map((id) => this.lineJson(this.items.get(id)!))),
    };
  }

  private lineJson(item: FakeItem) {
    return { id: `il_${item.id}`, object: 'line_item', amount: item.amount, currency: item.currency, description: item.description, metadata: item.metadata };
  }
}

/** Stripe's answer to a sent invoice (created or finalized) whose customer has no email address. */
function missingEmail(): Reply {
  return error(400, 'invalid_request_error', 'Missing email. In order to create invoices that are sent to the customer, the customer must have a valid email.', 'customer_email_missing');
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}

function error(status: number, type: string, message: string, code?: string): Reply {
  return { status, body: { error: { type, message, ...(code && { code }) } } };
}

function list(url: string, data: unknown[]) {
  return { object: 'list', url, has_more: false, data };
}

function newId(prefix: string): string {
  return `${prefix}_fake${randomBytes(8).toString('hex')}`;
}

function asStrings(value: unknown): Record<string, string> {
  return typeof value === 'object' && value !== null ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)])) : {};
}

/** Stripe's form encoding: `metadata[key]=v`, `period[start]=1` → nested objects (all the activities send). */
function parseForm(raw: string): Form {
  const form: Form = {};
  for (const [name, value] of new URLSearchParams(raw)) {
    const [head, ...rest] = name.split('[').map((part) => part.replace(/]$/, ''));
    let target = form;
    let key = head!;
    for (const part of rest) {
      const next = (target[key] ??= {}) as Form;
      target = next;
      key = part;
    }
    target[key] = value;
  }
  return form;
}

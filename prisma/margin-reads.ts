import { fromStripeAmount, isKnownCurrency } from '../billing/currency';
import { dec, type Dec } from '../billing/decimal';
import { computeMargin, proratedAmount, type DayWindow, type Margin } from '../billing/margins';
import { Prisma, type PrismaClient } from './client';

/**
 * The figures a margin is made of, read from the database, per customer or
 * feature and currency. Shared by GET /api/v1/margins and the marginWatch
 * activities so the alert and the report can never disagree.
 */
export type MarginGroupBy = 'customer' | 'feature';
type Db = PrismaClient | Prisma.TransactionClient;

export interface MarginRow extends Margin {
  /** customer id, or feature name ("" = no feature: invoice revenue and events without one) */
  key: string;
  /** customer rows only */
  customerExternalId: string | null;
  currency: string;
  eventRevenue: Dec;
  invoiceRevenue: Dec;
  stripeInvoiceRevenue: Dec;
  creditRevenue: Dec;
}

interface EventSums {
  key: string;
  currency: string;
  revenue: string;
  cost: string;
}

/**
 * Rated events in the window. An event's currency is its revenue currency;
 * an event that reported no revenue takes its first vendor rate's currency.
 */
async function readEventSums(db: Db, organizationId: string, window: DayWindow, groupBy: MarginGroupBy): Promise<EventSums[]> {
  const key = groupBy === 'customer' ? Prisma.sql`e.customer_id::text` : Prisma.sql`COALESCE(e.feature, '')`;
  return db.$queryRaw<EventSums[]>`
    SELECT ${key} AS key,
           lower(COALESCE(e.currency, (SELECT v.currency FROM vendor_rates v WHERE v.id::text = e.rate_ids[1]), 'usd')) AS currency,
           COALESCE(SUM(e.revenue), 0)::text AS revenue,
           COALESCE(SUM(e.cost), 0)::text AS cost
      FROM usage_events e
     WHERE e.organization_id = ${organizationId}::uuid AND e.status = 'rated' AND e.customer_id IS NOT NULL
       AND e.timestamp >= ${window.start} AND e.timestamp < ${window.end}
     GROUP BY 1, 2`;
}

export interface PeriodAmount {
  customerId: string;
  currency: string;
  amount: Dec;
  periodStart: Date;
  periodEnd: Date;
}

/**
 * Ledgerflow invoices agreed with the customer (approved and later, not rejected, written off,
 * void or replaced by a re-issue) whose period touches the window, less their issued credit notes.
 */
async function readInvoiceAmounts(db: Db, organizationId: string, window: DayWindow): Promise<PeriodAmount[]> {
  const rows = await db.invoice.findMany({
    where: { organizationId, status: { in: ['approved', 'finalized', 'paid'] }, supersededById: null, periodStart: { lt: window.end }, periodEnd: { gt: window.start } },
    select: { customerId: true, currency: true, total: true, periodStart: true, periodEnd: true, creditNotes: { where: { status: 'issued' }, select: { amount: true } } },
  });
  return rows.map((r) => ({
    customerId: r.customerId,
    currency: r.currency.toLowerCase(),
    amount: r.creditNotes.reduce((left, n) => left.minus(dec(n.amount)), dec(r.total)),
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
  }));
}

interface StripeInvoiceRow {
  customer_id: string;
  currency: string;
  amount_minor: string;
  period_start: Date;
  period_end: Date;
}

/**
 * Stripe invoice revenue from the stored webhook events: one figure per
 * Stripe invoice, its invoice.paid amount_paid, or before it is paid its
 * invoice.finalized amount_due. The Stripe customer maps to ours through
 * customers.stripe_customer_id (an unmapped customer's invoices are left
 * out). Invoices that are Ledgerflow's own, finalized in Stripe by a billing
 * run, are skipped: they already count as Ledgerflow invoice revenue; so are
 * credit top-ups' invoices: the credits they sold count as they burn.
 */
export async function readStripeInvoiceRevenue(db: Db, organizationId: string, window: DayWindow): Promise<PeriodAmount[]> {
  const rows = await db.$queryRaw<StripeInvoiceRow[]>`
    WITH latest AS (
      SELECT DISTINCT ON (e.payload->'data'->'object'->>'id') e.type, e.payload->'data'->'object' AS obj
        FROM stripe_events e
       WHERE e.organization_id = ${organizationId}::uuid AND e.type IN ('invoice.paid', 'invoice.finalized')
       ORDER BY e.payload->'data'->'object'->>'id', (e.type = 'invoice.paid') DESC, e.received_at DESC
    ), invoices AS (
      SELECT obj, lower(obj->>'currency') AS currency,
             CASE WHEN type = 'invoice.paid' THEN obj->'amount_paid' ELSE obj->'amount_due' END AS amount,
             to_timestamp((obj->>'period_start')::float8) AS period_start,
             to_timestamp((obj->>'period_end')::float8) AS period_end
        FROM latest
       WHERE jsonb_typeof(obj->'period_start') = 'number' AND jsonb_typeof(obj->'period_end') = 'number'
         AND NOT COALESCE(obj->'metadata' ? 'ledgerflow_invoice_id', false)
         -- a credit top-up's invoice sells credits: their revenue counts as they burn (credit revenue), not when bought
         AND NOT COALESCE(obj->'metadata' ? 'ledgerflow_top_up_id', false)
         AND obj->>'id' NOT IN (SELECT stripe_invoice_id FROM invoices WHERE organization_id = ${organizationId}::uuid AND stripe_invoice_id IS NOT NULL)
    )
    SELECT c.id::text AS customer_id, i.currency, (i.amount)::text AS amount_minor, i.period_start, i.period_end
      FROM invoices i
      JOIN customers c ON c.organization_id = ${organizationId}::uuid
                      AND c.stripe_customer_id = COALESCE(i.obj->'customer'->>'id', i.obj->>'customer')
     WHERE jsonb_typeof(i.amount) = 'number' AND i.period_start < ${window.end} AND i.period_end >= ${window.start}`;
  return rows
    .filter((r) => isKnownCurrency(r.currency))
    .map((r) => ({ customerId: r.customer_id, currency: r.currency, amount: fromStripeAmount(dec(r.amount_minor), r.currency), periodStart: r.period_start, periodEnd: r.period_end }));
}

interface CreditBurnSums {
  customer_id: string;
  currency: string;
  revenue: string;
}

/**
 * Prepaid credits burned in the window, at the price each grant was sold at
 * (price_per_credit; a promotional grant's is usually 0): the revenue
 * recognized as credits are used. Usage that credits covered is not on an
 * invoice (it is billed net of them), so without this a wallet customer's
 * margin would count the usage's cost and not what paid for it. Read from
 * the burns' ledger entries (grant → usage), by the organization's wallets.
 */
async function readCreditRevenue(db: Db, organizationId: string, window: DayWindow): Promise<CreditBurnSums[]> {
  return db.$queryRaw<CreditBurnSums[]>`
    SELECT w.customer_id::text AS customer_id, lower(g.currency) AS currency, COALESCE(SUM(x.amount * g.price_per_credit), 0)::text AS revenue
      FROM credit_wallets w
      -- Per wallet, what each grant burned in the window, read through the wallet's own index (an aggregate, so
      -- the planner keeps it per wallet): as a plain join it read every organization's ledger, a parallel scan
      -- of millions of entries on each margin run.
      CROSS JOIN LATERAL (
        SELECT e.grant_id, SUM(e.amount) AS amount FROM credit_ledger_entries e
         WHERE e.wallet_id = w.id AND e.created_at >= ${window.start} AND e.created_at < ${window.end} AND e.debit = 'grant' AND e.credit = 'usage'
         GROUP BY e.grant_id
      ) x
      JOIN credit_grants g ON g.id = x.grant_id
     WHERE w.organization_id = ${organizationId}::uuid
     GROUP BY 1, 2`;
}

/**
 * Margins per customer or feature and currency over the window, ordered by
 * key then currency. Invoices and credit burns belong to a customer, not a
 * feature: grouped by feature, their revenue lands in the "" row.
 */
export async function readMargins(db: Db, organizationId: string, window: DayWindow, groupBy: MarginGroupBy): Promise<MarginRow[]> {
  const [events, invoices, stripeInvoices, burns] = await Promise.all([
    readEventSums(db, organizationId, window, groupBy),
    readInvoiceAmounts(db, organizationId, window),
    readStripeInvoiceRevenue(db, organizationId, window),
    readCreditRevenue(db, organizationId, window),
  ]);
  const rows = new Map<string, { key: string; currency: string; eventRevenue: Dec; invoiceRevenue: Dec; stripeInvoiceRevenue: Dec; creditRevenue: Dec; cost: Dec }>();
  const row = (key: string, currency: string) => {
    const id = `${key}\u0000${currency}`;
    let r = rows.get(id);
    if (!r) {
      r = { key, currency, eventRevenue: dec(0), invoiceRevenue: dec(0), stripeInvoiceRevenue: dec(0), creditRevenue: dec(0), cost: dec(0) };
      rows.set(id, r);
    }
    return r;
  };
  for (const e of events) {
    const r = row(e.key, e.currency);
    r.eventRevenue = r.eventRevenue.plus(e.revenue);
    r.cost = r.cost.plus(e.cost);
  }
  const keyOf = (customerId: string) => (groupBy === 'customer' ? customerId : '');
  for (const i of invoices) {
    const share = proratedAmount(i.amount, { start: i.periodStart, end: i.periodEnd }, window);
    if (share.isZero()) continue;
    const r = row(keyOf(i.customerId), i.currency);
    r.invoiceRevenue = r.invoiceRevenue.plus(share);
  }
  for (const s of stripeInvoices) {
    const share = proratedAmount(s.amount, { start: s.periodStart, end: s.periodEnd }, window);
    if (share.isZero()) continue;
    const r = row(keyOf(s.customerId), s.currency);
    r.stripeInvoiceRevenue = r.stripeInvoiceRevenue.plus(share);
  }
  for (const b of burns) {
    if (dec(b.revenue).isZero()) continue;
    const r = row(keyOf(b.customer_id), b.currency);
    r.creditRevenue = r.creditRevenue.plus(dec(b.revenue));
  }

  const externalIds = new Map<string, string>();
  if (groupBy === 'customer' && rows.size > 0) {
    const customers = await db.customer.findMany({ where: { organizationId, id: { in: [...new Set([...rows.values()].map((r) => r.key))] } }, select: { id: true, externalId: true } });
    for (const c of customers) externalIds.set(c.id, c.externalId);
  }
  return [...rows.values()]
    .sort((a, b) => (a.key === b.key ? a.currency.localeCompare(b.currency) : a.key.localeCompare(b.key)))
    .map((r) => ({
      ...computeMargin(r.eventRevenue.plus(r.invoiceRevenue).plus(r.stripeInvoiceRevenue).plus(r.creditRevenue), r.cost),
      key: r.key,
      customerExternalId: groupBy === 'customer' ? (externalIds.get(r.key) ?? null) : null,
      currency: r.currency,
      eventRevenue: r.eventRevenue,
      invoiceRevenue: r.invoiceRevenue,
      stripeInvoiceRevenue: r.stripeInvoiceRevenue,
      creditRevenue: r.creditRevenue,
    }));
}

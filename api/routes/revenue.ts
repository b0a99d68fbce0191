import type { PoolClient } from 'pg';
import { formatMoney, isKnownCurrency } from '../../billing/currency';
import { dec } from '../../billing/decimal';
import { summarizeRevenue, type CurrencyAmount, type PlanInterval, type RevenueInput } from '../../billing/revenue';
import { planInEffectSql } from '../../prisma/plan-reads';
import type { ApiConfig } from '../config';
import { route, type RouteTable } from '../route-table';
import { RevenueQuerySchema, RevenueResponseSchema } from '../schemas/revenue';

/** Active subscriptions' base fees (of the plan in effect at the time asked) per currency, summed per interval, and their distinct customers. */
const SUBSCRIPTIONS_SQL = `
  SELECT p.currency,
         COALESCE(SUM(p.base_fee) FILTER (WHERE p.interval = 'month'), 0)::text AS month,
         COALESCE(SUM(p.base_fee) FILTER (WHERE p.interval = 'quarter'), 0)::text AS quarter,
         COALESCE(SUM(p.base_fee) FILTER (WHERE p.interval = 'year'), 0)::text AS year,
         COUNT(DISTINCT s.customer_id)::int AS customers
    FROM subscriptions s
    JOIN plans p ON p.id = ${planInEffectSql('s', '$2')}
   WHERE s.organization_id = $1 AND s.status = 'active' AND s.start_date <= $2
   GROUP BY p.currency`;

/**
 * Paid invoices by the time they were paid (updated_at for rows paid before paid_at was kept), less
 * the credit notes issued on them by then that credit the customer's balance or lower what was due:
 * that money is owed back or was never paid (the balance pays a later invoice, which counts then).
 * Refunding notes are not subtracted here: their refund arrives as `charge.refunded` (REFUNDS_SQL).
 */
const PAID_INVOICES_SQL = `
  SELECT i.currency,
         SUM(i.total - COALESCE((SELECT SUM(n.amount) FROM credit_notes n
                                  WHERE n.invoice_id = i.id AND n.status = 'issued' AND NOT n.refund AND n.issued_at <= $2), 0))::text AS amount
    FROM invoices i
   WHERE i.organization_id = $1 AND i.status = 'paid' AND COALESCE(i.paid_at, i.updated_at) <= $2
   GROUP BY i.currency`;

/**
 * The organization's stored Stripe objects that carry money, stamped with
 * the event's own time, and the Stripe invoices that are ours (named in
 * metadata, or whose id we stored when finalizing).
 */
const STRIPE_CTES = `
  WITH events AS (
    SELECT e.type, e.payload->'data'->'object' AS obj,
           CASE WHEN jsonb_typeof(e.payload->'created') = 'number'
                THEN to_timestamp((e.payload->>'created')::float8) ELSE e.received_at END AS at
      FROM stripe_events e
     WHERE e.organization_id = $1
       AND e.type IN ('charge.succeeded', 'charge.refunded', 'invoice.paid', 'invoice.payment_succeeded')
  ),
  our_stripe_invoices AS (
    SELECT stripe_invoice_id AS id FROM invoices WHERE organization_id = $1 AND stripe_invoice_id IS NOT NULL
  ),
  -- Charges and payment intents that paid one of our invoices: the invoice's
  -- payments list (current API versions) or its charge / payment_intent (older ones).
  invoice_payment_refs AS (
    SELECT CASE jsonb_typeof(ref.v) WHEN 'string' THEN ref.v #>> '{}' WHEN 'object' THEN ref.v->>'id' END AS id
      FROM events e,
           LATERAL (
             SELECT jsonb_path_query(e.obj, '$.payments.data[*].payment.payment_intent') AS v
             UNION ALL SELECT jsonb_path_query(e.obj, '$.payments.data[*].payment.charge')
             UNION ALL SELECT e.obj->'payment_intent'
             UNION ALL SELECT e.obj->'charge'
           ) ref
     WHERE e.type IN ('invoice.paid', 'invoice.payment_succeeded')
       AND (e.obj->'metadata' ? 'ledgerflow_invoice_id' OR e.obj->>'id' IN (SELECT id FROM our_stripe_invoices))
  )`;

/** Charges that did not pay one of our invoices (those are counted as paid invoices), each charge once. */
const OTHER_CHARGES_SQL = `${STRIPE_CTES}
  SELECT currency, SUM(amount)::text AS amount
    FROM (
      SELECT DISTINCT ON (e.obj->>'id') lower(e.obj->>'currency') AS currency, (e.obj->>'amount')::numeric AS amount
        FROM events e
       WHERE e.type = 'charge.succeeded' AND e.at <= $2 AND jsonb_typeof(e.obj->'amount') = 'number'
         AND NOT COALESCE(e.obj->'metadata' ? 'ledgerflow_invoice_id', false)
         AND COALESCE(e.obj->>'invoice', '') NOT IN (SELECT id FROM our_stripe_invoices)
         AND e.obj->>'id' NOT IN (SELECT id FROM invoice_payment_refs WHERE id IS NOT NULL)
         AND COALESCE(e.obj->'payment_intent'->>'id', e.obj->>'payment_intent', '') NOT IN (SELECT id FROM invoice_payment_refs WHERE id IS NOT NULL)
       ORDER BY e.obj->>'id'
    ) charges
   GROUP BY currency`;

/** amount_refunded is the charge's running total, so each charge counts with its latest (largest) figure. */
const REFUNDS_SQL = `${STRIPE_CTES}
  SELECT currency, SUM(refunded)::text AS amount
    FROM (
      SELECT lower(e.obj->>'currency') AS currency, MAX((e.obj->>'amount_refunded')::numeric) AS refunded
        FROM events e
       WHERE e.type = 'charge.refunded' AND e.at <= $2 AND jsonb_typeof(e.obj->'amount_refunded') = 'number'
       GROUP BY e.obj->>'id', lower(e.obj->>'currency')
    ) refunds
   GROUP BY currency`;

interface AmountRow {
  currency: string;
  amount: string;
}

interface SubscriptionRow {
  currency: string;
  month: string;
  quarter: string;
  year: string;
  customers: number;
}

/** Everything the figures are made of, read in one snapshot so they agree with each other. */
async function readRevenueInput(client: PoolClient, organizationId: string, asOf: Date, log: ApiConfig['log']): Promise<RevenueInput> {
  const params = [organizationId, asOf];
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const subscriptions = (await client.query<SubscriptionRow>(SUBSCRIPTIONS_SQL, params)).rows;
    const paid = (await client.query<AmountRow>(PAID_INVOICES_SQL, params)).rows;
    const charges = (await client.query<AmountRow>(OTHER_CHARGES_SQL, params)).rows;
    const refunds = (await client.query<AmountRow>(REFUNDS_SQL, params)).rows;
    await client.query('COMMIT');

    // Plans and invoices only hold known currencies; a Stripe charge might not.
    const known = (rows: AmountRow[]): CurrencyAmount[] =>
      rows.flatMap((r) => {
        if (isKnownCurrency(r.currency)) return [{ currency: r.currency, amount: dec(r.amount) }];
        log(`revenue for ${organizationId} leaves out Stripe amounts in unknown currency "${r.currency}"`);
        return [];
      });
    const intervals: PlanInterval[] = ['month', 'quarter', 'year'];
    return {
      baseFees: subscriptions.flatMap((r) => intervals.map((interval) => ({ currency: r.currency, interval, baseFees: dec(r[interval]) }))),
      activeCustomers: subscriptions.map((r) => ({ currency: r.currency, customers: r.customers })),
      paidInvoices: known(paid),
      otherChargesMinor: known(charges),
      refundsMinor: known(refunds),
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** GET /api/v1/revenue: MRR, ARR, active customers and money collected, per currency, for the caller's organization. */
export const revenueRoutes: RouteTable = {
  mount: '/revenue',
  routes: [
    route({
      method: 'get',
      path: '',
      summary: 'MRR, ARR, active customers and money collected, per currency',
      description:
        "For your organization only. MRR sums active subscriptions' base fees per month (a quarter ÷ 3, a year ÷ 12); total_collected is paid invoices plus Stripe charges that did not pay one of our invoices, minus Stripe refunds. Currencies are never converted.",
      query: RevenueQuerySchema,
      ok: { description: 'The figures', schema: RevenueResponseSchema },
      handle: async (deps, { caller, query, config }) => {
        const asOf = query.as_of ?? new Date();
        const client = await deps.pgPool.connect();
        let input: RevenueInput;
        try {
          input = await readRevenueInput(client, caller.organizationId, asOf, config.log);
        } finally {
          client.release();
        }
        return {
          data: summarizeRevenue(input).map((r) => ({
            currency: r.currency,
            mrr: formatMoney(r.mrr, r.currency),
            arr: formatMoney(r.arr, r.currency),
            active_customers: r.activeCustomers,
            total_collected: formatMoney(r.totalCollected, r.currency),
          })),
          as_of: asOf.toISOString(),
        };
      },
    }),
  ],
};

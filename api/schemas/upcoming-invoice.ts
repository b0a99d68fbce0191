import { z } from 'zod';
import 'zod-openapi';
import { DIMENSION_VALUE } from './invoices';

/*
 * GET /customers/{id}/upcoming-invoice: what each of the customer's
 * subscriptions would bill if its current period closed now, line by line,
 * composed by the same rules as the invoice the period's billing run drafts.
 */

export const CustomerIdParamsSchema = z.object({ id: z.string().meta({ description: 'The customer\'s external_id, or its id' }) });

const money = (description: string, example: string) => z.string().meta({ description: `${description}; decimal string at the currency's minor unit`, example });
const instant = (description: string, example = '2024-11-01T00:00:00.000Z') => z.string().meta({ description: `${description} (ISO 8601)`, example });

const TierSchema = z
  .object({
    from: z.string().meta({ description: 'Exclusive lower bound' }),
    to: z.string().nullable().meta({ description: 'Inclusive upper bound; null for none' }),
    quantity: z.string(),
    unit_amount: z.string(),
    flat_amount: z.string(),
    amount: z.string().meta({ description: 'This slice, rounded on its own' }),
  })
  .meta({ id: 'UpcomingInvoiceTier' });

export const UpcomingLineSchema = z
  .object({
    kind: z.enum(['base_fee', 'proration_credit', 'proration_charge', 'usage', 'late_usage']),
    description: z.string().meta({ example: 'API calls: usage' }),
    meter: z.string().nullable().meta({ description: 'The meter\'s key, for usage and late-usage lines' }),
    dimension_value: DIMENSION_VALUE,
    quantity: z.string().nullable().meta({ description: 'The quantity the line prices, net of what prepaid credits covered; for late usage, what the earlier period gained since it was billed' }),
    credited_quantity: z.string().nullable().meta({ description: 'Units prepaid credits covered, which the line does not bill; null: none' }),
    included_units: z.string().nullable(),
    amount: money('This line, rounded on its own', '107.00'),
    tiers: z.array(TierSchema).meta({ description: 'The price model\'s breakdown ([] for flat lines)' }),
    period_start: instant('Start of what the line bills'),
    period_end: instant('End of what the line bills (exclusive)'),
  })
  .meta({ id: 'UpcomingInvoiceLine' });

export const UpcomingSubscriptionSchema = z
  .object({
    subscription_id: z.uuid(),
    plan: z.string().meta({ description: 'The plan the subscription is on now' }),
    status: z.enum(['active', 'canceled']).meta({ description: 'canceled: canceled inside the current period, which still bills' }),
    cancel_at_period_end: z.boolean(),
    currency: z.string().meta({ example: 'usd' }),
    period_start: instant('The current period\'s start'),
    period_end: instant('The current period\'s end (exclusive)', '2024-12-01T00:00:00.000Z'),
    lines: z.array(UpcomingLineSchema).meta({ description: 'Base fee and prorations, each priced meter\'s usage so far, then late usage of earlier periods' }),
    total: money('Sum of the rounded lines', '137.00'),
    total_minor: z.number().int().meta({ description: 'total as Stripe\'s integer amount (cents; yen for JPY; ×100 for ISK and UGX, which Stripe keeps two-decimal)', example: 13700 }),
  })
  .meta({ id: 'UpcomingSubscriptionInvoice' });

export const UpcomingInvoiceSchema = z
  .object({
    customer_id: z.uuid(),
    customer_external_id: z.string(),
    as_of: instant('The instant the preview was computed at'),
    subscriptions: z
      .array(UpcomingSubscriptionSchema)
      .meta({ description: 'One entry per subscription with a current period to bill (started, and not canceled before that period); currencies are never mixed' }),
  })
  .meta({ id: 'UpcomingInvoice' });

import { z } from 'zod';
import 'zod-openapi';
import { instantInput } from './common';

export const MarginsQuerySchema = z.strictObject({
  window: z
    .enum(['current_period', 'trailing_30d'])
    .default('current_period')
    .meta({ description: 'current_period: the UTC calendar month through the end of today; trailing_30d: the 30 UTC days ending with today' }),
  group_by: z.enum(['customer', 'feature']).default('customer').meta({ description: 'One row per customer, or per event feature, and currency' }),
  as_of: instantInput('Compute the window as of this instant instead of now; a bare date is its UTC midnight', '2026-11-22').optional(),
});

const money = (description: string) => z.string().meta({ description: `${description}; a decimal string rounded half away from zero to the currency's minor unit`, example: '1250.00' });

export const MarginRowSchema = z
  .object({
    customer_id: z.string().optional().meta({ description: 'group_by=customer: the customer' }),
    customer_external_id: z.string().nullable().optional().meta({ description: 'group_by=customer: your id for the customer' }),
    feature: z.string().nullable().optional().meta({ description: 'group_by=feature: the events\' feature; null holds invoice revenue (invoices are per customer, not feature) and events without a feature' }),
    currency: z.string().meta({ description: 'ISO 4217 code, lower-case; currencies are never converted', example: 'usd' }),
    revenue: money('event_revenue + invoice_revenue + stripe_invoice_revenue + credit_revenue'),
    event_revenue: money('revenue of rated events in the window (usage_events.revenue)'),
    invoice_revenue: money('Ledgerflow invoices (approved, finalized or paid), each × the UTC days its period shares with the window ÷ its days'),
    stripe_invoice_revenue: money('Stripe invoices from stored invoice.paid (amount_paid) or invoice.finalized (amount_due) webhooks, prorated the same way; Ledgerflow\'s own are not counted twice'),
    credit_revenue: money("prepaid credits burned in the window × the price per credit of the grant each came from (usage they covered is not on an invoice)"),
    cost: money('vendor cost of rated events in the window'),
    margin: money('revenue − cost, from the unrounded figures'),
    margin_bps: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'margin × 10,000 ÷ revenue from the unrounded figures, rounded half away from zero (5000 = 50 %); null when revenue is zero or negative' }),
  })
  .meta({ id: 'MarginRow' });

export const MarginsResponseSchema = z
  .object({
    data: z.array(MarginRowSchema).meta({ description: 'Ordered by customer id or feature, then currency' }),
    window: z.object({
      kind: z.enum(['current_period', 'trailing_30d']),
      start: z.string().meta({ description: 'inclusive, UTC midnight (ISO 8601)' }),
      end: z.string().meta({ description: 'exclusive, UTC midnight (ISO 8601)' }),
    }),
    group_by: z.enum(['customer', 'feature']),
    threshold_bps: z.number().int().meta({ description: 'Your organization\'s margin alert threshold' }),
  })
  .meta({ id: 'Margins' });

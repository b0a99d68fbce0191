import { z } from 'zod';
import 'zod-openapi';
import { instantInput } from './common';

export const RevenueQuerySchema = z.strictObject({
  as_of: instantInput('Figures as of this instant instead of now; a bare date is its UTC midnight', '2024-06-30').optional(),
});

const money = (description: string) => z.string().meta({ description: `${description}; a decimal string at the currency's minor unit`, example: '1250.00' });

export const RevenueFiguresSchema = z
  .object({
    currency: z.string().meta({ description: 'ISO 4217 code, lower-case', example: 'usd' }),
    mrr: money('Monthly recurring revenue: active subscriptions\' base fees per month (a quarter ÷ 3, a year ÷ 12), rounded once'),
    arr: money('Annual recurring revenue: 12 × the unrounded MRR, rounded once'),
    active_customers: z.number().int().meta({ description: 'Distinct customers with an active subscription in this currency' }),
    total_collected: money(
      'Paid invoices\' totals, plus Stripe charges not tied to one of our invoices, minus Stripe refunds',
    ),
  })
  .meta({ id: 'RevenueFigures' });

export const RevenueResponseSchema = z
  .object({
    data: z.array(RevenueFiguresSchema).meta({ description: 'One entry per currency, ordered by currency; currencies are never converted' }),
    as_of: z.string().meta({ description: 'The instant the figures are for (ISO 8601)' }),
  })
  .meta({ id: 'Revenue' });

import { z } from 'zod';
import 'zod-openapi';
import { StartReconciliationSchema } from '../../services/schemas/reconciliations';
import { decimalInput, instantInput, trimmedText } from './common';

export { StartReconciliationSchema };

export const ReconciliationStartedSchema = z
  .object({
    workflow_id: z.string().meta({ description: 'reconcile:<organizationId>:<period start date>', example: 'reconcile:7d3c…:2024-06-01' }),
    run_id: z.string().nullable().meta({ description: 'The Temporal run started; null when this period was already reconciled or is being reconciled (the request was a no-op)' }),
    already_started: z.boolean(),
  })
  .meta({ id: 'ReconciliationStarted' });

export const ReconciliationListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: 'How many runs, newest first' }),
});

const money = (description: string) => z.string().meta({ description: `${description}; a decimal string at the currency's minor unit`, example: '26.00' });

export const FindingSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['unbilled_usage', 'missed_overage', 'under_reported_usage', 'renewal_drift', 'stale_rating']),
    subject: z.string().meta({ description: 'What in the period: a meter key, meter@source for reported usage, base_fee, or vendor_cost' }),
    customer_id: z.string().nullable(),
    customer_external_id: z.string(),
    period_start: z.string(),
    period_end: z.string(),
    expected_amount: money('What should have been billed (for stale_rating: the vendor cost at the rates in effect)'),
    billed_amount: money('What was billed (for stale_rating: the cost recorded)'),
    leak_amount: money('expected − billed'),
    currency: z.string(),
    confidence: z.string().meta({ description: '0 to 1, three decimals: 1 multiplied by one factor per reason', example: '0.800' }),
    reasons: z.array(z.object({ code: z.string(), detail: z.string(), factor: z.string() })),
    status: z.enum(['open', 'actioned', 'recovered', 'dismissed']),
    actions: z.array(
      z.object({
        kind: z.string().meta({
          description:
            'stripe_draft (a recovery invoice in Ledgerflow, approved by finance like any invoice before it is finalized in Stripe; summary names invoiceId and its run) | notification | crm_webhook',
        }),
        status: z.string().meta({ description: 'pending | done | skipped' }),
        summary: z.unknown(),
        completed_at: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'LeakFinding' });

export const ReconciliationListSchema = z
  .object({
    data: z.array(
      z.object({
        id: z.string(),
        workflow_id: z.string(),
        period_start: z.string(),
        period_end: z.string(),
        status: z.string().meta({ description: 'running | completed' }),
        findings_count: z.number().int(),
        actions_count: z.number().int(),
        started_at: z.string(),
        completed_at: z.string().nullable(),
        findings: z.array(FindingSchema).meta({ description: 'The findings this run detected last' }),
      }),
    ),
  })
  .meta({ id: 'Reconciliations' });

export const FindingParamsSchema = z.object({ id: z.uuid('must be a finding id (a UUID)') });

export const DismissFindingSchema = z
  .strictObject({ reason: trimmedText(500, 'must not be empty').meta({ description: 'Why the finding is not a leak; kept in the audit log' }) })
  .meta({ id: 'DismissFinding' });

export const ReportedUsageRequestSchema = z
  .strictObject({
    usage: z
      .array(
        z.strictObject({
          customer_external_id: z.string().min(1).max(200),
          meter: z.string().min(1).max(200).meta({ description: 'The meter key' }),
          period_start: instantInput('The start of the billing period the quantity is for', '2024-06-01'),
          quantity: decimalInput('The quantity reported for the whole period'),
          source: z.string().min(1).max(100).meta({ description: 'Where the figure comes from (e.g. warehouse, partner-report)', example: 'warehouse' }),
        }),
      )
      .min(1)
      .max(1000),
  })
  .meta({ id: 'ReportedUsageBatch' });

export const ReportedUsageResponseSchema = z.object({ stored: z.number().int().meta({ description: 'Rows written; a repeated (customer, meter, period, source) replaces its quantity' }) }).meta({ id: 'ReportedUsageStored' });

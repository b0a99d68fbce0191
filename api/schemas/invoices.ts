import { z } from 'zod';
import 'zod-openapi';
import { instantInput, trimmedText } from './common';
import { INVOICE_STATUSES } from '../../billing/invoice-status';

/*
 * Invoices as the API shows them (every amount a decimal string at the
 * invoice currency's minor unit), the finance decisions sent to a billing
 * run, and the plan-change and cancel requests sent to a subscription's
 * workflow. The invoice currency is only known once the invoice is loaded, so
 * an adjustment amount's decimal places are checked against it in the route.
 */

const LINE_KINDS = ['base_fee', 'proration_credit', 'proration_charge', 'usage', 'late_usage', 'adjustment'] as const;

const money = (description: string, example: string) => z.string().meta({ description: `${description}; decimal string at the currency's minor unit`, example });
const instant = (description: string) => z.string().meta({ description: `${description} (ISO 8601)`, example: '2024-11-01T00:00:00.000Z' });

// ----------------------------------------------------------------- reads

/** Who made a finance decision: taken from the caller's credentials, never from a request body. */
const DECIDER = 'Who decided: `api_key:<id>` for an API key, the signed-in user\'s email for a decision in the web app';
const cursor = z.string().min(1).optional().meta({ description: 'next_cursor of the previous page' });

export const InvoiceListQuerySchema = z.strictObject({
  status: z.enum(INVOICE_STATUSES).optional(),
  customer: z.string().min(1).optional().meta({ description: 'Only this customer_external_id\'s invoices' }),
  subscription: z.uuid().optional().meta({ description: 'Only this subscription\'s invoices' }),
  limit: z.coerce.number().int().min(1).max(100).default(100).meta({ description: 'Page size' }),
  cursor,
});

export const LineEventsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100).meta({ description: 'Page size' }),
  cursor,
});

export const InvoiceParamsSchema = z.object({ id: z.string().meta({ description: 'The invoice id' }) });
export const InvoiceLineParamsSchema = z.object({
  id: z.string().meta({ description: 'The invoice id' }),
  lineId: z.string().meta({ description: 'The id of one of the invoice\'s lines' }),
});

/** A usage line's dimension value (shared with the upcoming invoice's lines). */
export const DIMENSION_VALUE = z
  .string()
  .nullable()
  .meta({ description: 'For a meter with a dimension (e.g. model): the value this line prices on its own; null for the line of the plan\'s default price (every other value) and for a meter without one' });

export const SnapshotSchema = z
  .object({
    id: z.uuid(),
    meter: z.string().meta({ description: 'The meter\'s key' }),
    dimension_value: z
      .string()
      .nullable()
      .meta({ description: 'For a meter with a dimension: the value of it these events have (null: events without one). Null for a meter without one' }),
    day: z.string().meta({ description: 'UTC day (YYYY-MM-DD)', example: '2024-11-03' }),
    quantity: z.string().meta({ example: '1250' }),
    event_count: z.number().int(),
    cost: z.string().meta({ description: 'Vendor cost, unrounded' }),
    revenue: z.string(),
    taken_at: instant('When the snapshot was last written'),
  })
  .meta({ id: 'UsageSnapshot', description: 'One customer\'s usage of one meter (one value of its dimension, for a meter with one) on one UTC day' });

export const InvoiceLineSchema = z
  .object({
    id: z.uuid(),
    position: z.number().int(),
    kind: z.enum(LINE_KINDS),
    description: z.string(),
    meter: z.string().nullable().meta({ description: 'The meter\'s key, for usage lines' }),
    dimension_value: DIMENSION_VALUE,
    quantity: z.string().nullable().meta({ description: 'The usage quantity the line prices (net of what prepaid credits covered); null for flat lines' }),
    credited_quantity: z.string().nullable().meta({ description: 'Units prepaid credits covered, which the line does not bill (quantity + credited_quantity is what was used); null: none' }),
    included_units: z.string().nullable().meta({ description: 'Units the plan includes before the price applies' }),
    amount: money('This line, rounded on its own', '107.00'),
    tiers: z.unknown().meta({ description: 'The price model\'s tier breakdown as stored ([] for flat lines)' }),
    period_start: instant('Start of what the line bills'),
    period_end: instant('End of what the line bills (exclusive)'),
    snapshot_ids: z.array(z.uuid()),
    snapshots: z.array(SnapshotSchema).meta({ description: 'The snapshots behind the line; its events are at /lines/{lineId}/events' }),
    created_by: z.string().nullable().meta({ description: 'Who added an adjustment line' }),
  })
  .meta({ id: 'InvoiceLine' });

export const AuditEntrySchema = z
  .object({
    action: z.string().meta({ example: 'invoice.approved' }),
    actor: z.object({
      type: z.string().meta({ description: 'api_key | user | workflow | system' }),
      id: z.string(),
      run_id: z.string().nullable().meta({ description: 'Temporal run id when the actor is a workflow' }),
    }),
    before: z.unknown().nullable(),
    after: z.unknown().nullable(),
    at: instant('When it happened'),
  })
  .meta({ id: 'AuditEntry' });

const invoiceFields = {
  id: z.uuid(),
  subscription_id: z.uuid(),
  customer_id: z.uuid(),
  customer_external_id: z.string(),
  period_start: instant('Inclusive'),
  period_end: instant('Exclusive'),
  kind: z.enum(['period', 'recovery']).meta({ description: 'period: the close of a billing period; recovery: drafted by a reconciliation for what a leak finding recovers' }),
  recovery_finding_id: z.uuid().nullable().meta({ description: 'The leak finding a recovery invoice recovers (GET /api/v1/reconciliations lists it)' }),
  currency: z.string().meta({ example: 'usd' }),
  status: z.enum(INVOICE_STATUSES),
  total: money('Sum of the rounded lines', '156.00'),
  total_minor: z.number().int().meta({ description: 'total as Stripe\'s integer amount (cents; yen for JPY; ×100 for ISK and UGX, which Stripe keeps two-decimal)', example: 15600 }),
  workflow_id: z.string().meta({ description: 'The billing run: billing-run:<subscriptionId>:<periodStart>, or recovery-run:<findingId> for a recovery invoice' }),
  workflow_run_id: z.string(),
  approved_by: z.string().nullable().meta({ description: DECIDER }),
  approved_at: z.string().nullable(),
  approval_note: z.string().nullable(),
  rejected_by: z.string().nullable().meta({ description: DECIDER }),
  rejected_at: z.string().nullable(),
  rejection_reason: z.string().nullable(),
  revision: z.number().int().meta({ description: 'The period invoice\'s revision: 1, then one more for each re-draft (after a rejection or a void) or re-issue (after a credit note in full); the earlier revisions stay' }),
  superseded_by: z.uuid().nullable().meta({ description: 'The revision that replaced this invoice (a re-draft or re-issue); a replaced invoice bills nothing. Null for the period\'s latest revision' }),
  number: z
    .string()
    .nullable()
    .meta({ description: 'The invoice number, <prefix>-000042: sequential per organization and prefix, given when the invoice is finalized (or settled at zero); null before', example: 'INV-000042' }),
  written_off_by: z.string().nullable().meta({ description: DECIDER }),
  written_off_at: z.string().nullable(),
  write_off_reason: z.string().nullable(),
  stripe_invoice_id: z.string().nullable(),
  finalized_at: z.string().nullable(),
  payment_attempts: z.number().int(),
  collection_method: z
    .enum(['charge_automatically', 'send_invoice'])
    .nullable()
    .meta({ description: "How the invoice is collected, decided when it goes to Stripe: the customer's card charged (payment_attempts count the tries), or the invoice sent to pay by due_at. Null before" }),
  due_at: z.string().nullable().meta({ description: 'When a sent invoice is due; null for a charged one' }),
  hosted_invoice_url: z.string().nullable().meta({ description: "Stripe's page where the customer sees and pays the invoice, once finalized" }),
  paid_at: z.string().nullable(),
  uncollectible_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
};

export const InvoiceSummarySchema = z.object(invoiceFields).meta({ id: 'InvoiceSummary' });

export const CreditNoteSchema = z
  .object({
    id: z.uuid(),
    invoice_id: z.uuid(),
    status: z.enum(['pending', 'issued', 'failed']).meta({ description: 'pending: being issued in Stripe; failed: Stripe refused it (see failure), it credits nothing' }),
    number: z.string().nullable().meta({ description: 'Given when issued: <invoice prefix>-CN-000001, …', example: 'INV-CN-000001' }),
    amount: z.string().meta({ description: 'Major units at the currency\'s minor unit', example: '25.00' }),
    currency: z.string(),
    reason: z.string(),
    refund: z.boolean(),
    failure: z.string().nullable(),
    stripe_credit_note_id: z.string().nullable(),
    requested_by: z.string().meta({ description: DECIDER }),
    created_at: z.iso.datetime(),
    issued_at: z.iso.datetime().nullable(),
    workflow_id: z.string().meta({ description: 'The credit note\'s workflow in Temporal' }),
  })
  .meta({ id: 'CreditNote' });

export const InvoiceSchema = z
  .object({
    ...invoiceFields,
    lines: z.array(InvoiceLineSchema).meta({ description: 'In invoice order' }),
    credit_notes: z.array(CreditNoteSchema).meta({ description: 'Credit notes on the invoice, oldest first (issued, pending and failed)' }),
    credited: z.string().meta({ description: 'What the issued credit notes credit in all, major units', example: '25.00' }),
    history: z.array(AuditEntrySchema).meta({ description: 'The invoice\'s audit trail, oldest first' }),
  })
  .meta({ id: 'Invoice' });

export const InvoicePageSchema = z
  .object({
    data: z.array(InvoiceSummarySchema).meta({ description: 'Newest period first' }),
    next_cursor: z.string().nullable().meta({ description: 'Pass as cursor for the next page; null on the last page' }),
  })
  .meta({ id: 'InvoicePage' });

export const LineEventSchema = z
  .object({
    id: z.uuid(),
    idempotency_key: z.string(),
    event_type: z.string(),
    quantity: z.string(),
    timestamp: z.string(),
    customer_external_id: z.string(),
    cost: z.string().nullable().meta({ description: 'Vendor cost, unrounded' }),
    revenue: z.string().nullable(),
  })
  .meta({ id: 'InvoiceLineEvent' });

export const LineEventPageSchema = z
  .object({
    data: z.array(LineEventSchema).meta({ description: 'Oldest first' }),
    next_cursor: z.string().nullable().meta({ description: 'Pass as cursor for the next page; null on the last page' }),
  })
  .meta({ id: 'InvoiceLineEventPage' });

// ------------------------------------------------------ finance decisions

const text = (description: string) => trimmedText(2000).meta({ description });

/** Signed, with at most 6 decimals (the column's scale); the currency's own limit is checked in the route. */
const SIGNED_AMOUNT = /^-?\d{1,14}(\.\d{1,6})?$/;

export const ApproveRequestSchema = z
  .strictObject({ note: text('Kept with the approval').optional() })
  .meta({ id: 'ApproveRequest', example: { note: 'usage checked against the dashboard' } });

export const AdjustRequestSchema = z
  .strictObject({
    reason: text('Why the invoice is adjusted'),
    lines: z
      .array(
        z.strictObject({
          description: trimmedText(500).meta({ description: 'Shown on the invoice', example: 'Goodwill credit for the outage' }),
          amount: z
            .string()
            .regex(SIGNED_AMOUNT, 'must be a decimal string like "-25.00" (negative for a credit)')
            .refine((s) => !/^-?0+(\.0+)?$/.test(s), 'must not be zero')
            .meta({ description: 'Decimal string, negative for a credit, with at most the currency\'s minor-unit decimals', example: '-25.00' }),
        }),
      )
      .min(1)
      .max(100),
  })
  .meta({ id: 'AdjustRequest', example: { reason: 'outage on Nov 3', lines: [{ description: 'Goodwill credit for the outage', amount: '-25.00' }] } });

export const RejectRequestSchema = z
  .strictObject({ reason: text('Why the draft is rejected') })
  .meta({ id: 'RejectRequest', example: { reason: 'wrong plan applied' } });

export const RedraftRequestSchema = z
  .strictObject({ reason: text('Why the period is drafted again') })
  .meta({ id: 'RedraftRequest', example: { reason: 'plan corrected; usage re-checked' } });

export const WriteOffRequestSchema = z
  .strictObject({ reason: text('Why the period is billed at nothing') })
  .meta({ id: 'WriteOffRequest', example: { reason: 'goodwill after the November outage' } });

/** Positive, with at most 6 decimals; the currency's own limit and what is left to credit are checked by the note's workflow. */
const POSITIVE_AMOUNT = /^\d{1,14}(\.\d{1,6})?$/;

export const CreditNoteRequestSchema = z
  .strictObject({
    request_key: trimmedText(255).meta({ description: 'Your key for this request: sending it again returns the same credit note, never a second one', example: 'cn-2024-11-acme-1' }),
    reason: text('Why the invoice is credited; shown on the Stripe credit note as its memo'),
    amount: z
      .string()
      .regex(POSITIVE_AMOUNT, 'must be a decimal string like "25.00"')
      .refine((v) => !/^0+(\.0+)?$/.test(v), 'must be more than zero')
      .optional()
      .meta({ description: 'Major units, at most the currency\'s minor-unit decimals; omitted: everything not yet credited (a full credit note)', example: '25.00' }),
    refund: z.boolean().optional().meta({ description: 'For a paid invoice: refund the charge (true) or credit the customer\'s Stripe balance (false, the default)' }),
  })
  .meta({ id: 'CreditNoteRequest', example: { request_key: 'cn-2024-11-acme-1', reason: 'outage on Nov 3', amount: '25.00' } });

export const CreditNoteAcceptedSchema = z
  .object({
    id: z.uuid(),
    invoice_id: z.uuid(),
    status: z.literal('pending'),
    workflow_id: z.string().meta({ description: 'Follow it in Temporal, or read GET /api/v1/invoices/{id}/credit-notes' }),
  })
  .meta({ id: 'CreditNoteAccepted' });

export const CreditNoteListSchema = z.object({ data: z.array(CreditNoteSchema).meta({ description: 'Oldest first' }) }).meta({ id: 'CreditNoteList' });

export const VoidRequestSchema = z
  .strictObject({ reason: text('Why the invoice is voided') })
  .meta({ id: 'VoidRequest', example: { reason: 'billed on the wrong plan; a corrected invoice follows' } });

export const DecisionResultSchema = z
  .object({
    invoice_id: z.uuid().meta({ description: 'The invoice the run now bills: after a re-draft, the new revision' }),
    status: z
      .enum(['drafting', 'awaiting_approval', 'rejected', 'finalizing', 'collecting', 'paid', 'uncollectible', 'settled_zero', 'written_off', 'void'])
      .meta({ description: 'The billing run\'s status after the decision' }),
    total: money('The invoice total after the decision', '131.00'),
    workflow_id: z.string().optional().meta({ description: 'A re-draft after the billing run ended (a re-issue): the re-issue run that bills the new revision', example: 'billing-run:3f0c…:2024-11-01:reissue:9b1e…' }),
  })
  .meta({ id: 'DecisionResult' });

export const ReissuePendingSchema = z
  .object({
    invoice_id: z.null(),
    status: z.literal('drafting'),
    workflow_id: z.string().meta({ description: 'The re-issue run drafting the corrected invoice; the invoice\'s revisions list it once drafted' }),
  })
  .meta({ id: 'ReissuePending' });

// ------------------------------------------------- subscription changes

const when = (description: string) => instantInput(description, '2024-11-21');
const planVersion = z.number().int().min(1).max(2147483647).optional().meta({ description: 'The plan\'s version; default its newest', example: 2 });

/** What a plan change names; the request adds its idempotency key. */
const planChangeFields = {
  plan: z.string().min(1).max(100).meta({ description: 'Key of an active plan in the same currency; the subscription\'s own plan key moves it to another version of its plan', example: 'pro_monthly' }),
  plan_version: planVersion,
  effective_at: when('When the new plan takes effect, inside the current period; default now').optional(),
  at_period_end: z.boolean().default(false).meta({ description: 'true: the new plan takes effect when the current period ends (nothing is prorated; the period is billed on the plan in effect now)' }),
};

/** effective_at names an instant inside the period; a change at the period end takes none. */
function effectiveAtOrPeriodEnd(c: { at_period_end: boolean; effective_at?: Date | undefined }, ctx: z.RefinementCtx): void {
  if (c.at_period_end && c.effective_at !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['effective_at'], input: c.effective_at, message: 'is only used with at_period_end: false', params: { code: 'UNKNOWN_FIELD' } });
  }
}

export const ChangePlanRequestSchema = z
  .strictObject({
    ...planChangeFields,
    request_key: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .meta({ description: 'Makes a retried request record one change; default the Idempotency-Key header, else a new id' }),
  })
  .superRefine(effectiveAtOrPeriodEnd)
  .meta({ id: 'ChangePlanRequest', example: { plan: 'scale_monthly', effective_at: '2024-11-21' } });

export const CancelRequestSchema = z
  .strictObject({
    at_period_end: z.boolean().default(true).meta({ description: 'true: at the end of the current period; false: at `at` (default now), crediting the unused base fee' }),
    at: when('With at_period_end false: when, inside the current period; default now').optional(),
  })
  .superRefine((c, ctx) => {
    if (c.at_period_end && c.at !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['at'], input: c.at, message: 'is only used with at_period_end: false', params: { code: 'UNKNOWN_FIELD' } });
    }
  })
  .meta({ id: 'CancelRequest', example: { at_period_end: false, at: '2024-11-21' } });

/** A plan change to preview: what the request would carry, without its idempotency key. */
export const PlanChangePreviewRequestSchema = z
  .strictObject(planChangeFields)
  .superRefine(effectiveAtOrPeriodEnd)
  .meta({ id: 'PlanChangePreviewRequest', example: { plan: 'scale_monthly', effective_at: '2024-11-21' } });

const planSide = z.object({ key: z.string(), version: z.number().int(), name: z.string(), base_fee: z.string().meta({ description: 'Per period, rounded to the currency' }) });

export const ProrationPreviewSchema = z
  .object({
    currency: z.string(),
    period: z.object({ start: z.string(), end: z.string() }).meta({ description: 'The current period, whose invoice carries the proration' }),
    at: z.string().meta({ description: 'When the change (or cancellation) takes effect; the period end for a cancellation at the period end' }),
    from_plan: planSide,
    to_plan: planSide.nullable().meta({ description: 'null for a cancellation' }),
    credit: z.string().meta({ description: '≤ 0: the unused part of the current plan\'s base fee', example: '-20.32' }),
    charge: z.string().meta({ description: '≥ 0: the rest of the period at the new plan\'s base fee', example: '40.65' }),
    net: z.string(),
    remaining: z.int().meta({ description: 'Days (or seconds) of the period from `at` on' }),
    total: z.int().meta({ description: 'Days (or seconds) in the period' }),
    unit: z.enum(['day', 'second']).meta({ description: 'The organization\'s proration mode' }),
  })
  .meta({ id: 'ProrationPreview', description: 'What the current period\'s invoice will credit and charge for the base fee; usage is billed as metered' });

export const SubscriptionChangeAcceptedSchema = z
  .object({
    subscription_id: z.uuid(),
    workflow_id: z.string().meta({ example: 'subscription:6f1c…' }),
    accepted: z.union([
      z.object({ plan: z.string(), plan_version: z.number().int(), effective_at: z.string(), request_key: z.string() }).meta({ id: 'AcceptedPlanChange' }),
      z.object({ at_period_end: z.boolean(), at: z.string().nullable() }).meta({ id: 'AcceptedCancel' }),
    ]),
  })
  .meta({ id: 'SubscriptionChangeAccepted', description: 'Signalled to the subscription\'s workflow, which applies it' });

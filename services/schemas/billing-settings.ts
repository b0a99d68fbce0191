import { z } from 'zod';
import 'zod-openapi';
import { emailAddress } from './email';

/*
 * An organization's billing settings as the API shows and takes them. The
 * bounds keep every value one the billing workflows can act on: a grace of
 * at most a week, reminders at least hourly and at most monthly, auto-approval
 * within 90 days, and a retry schedule of up to 10 attempts within 60 days.
 */

const MAX_GRACE_SECONDS = 7 * 24 * 3600;

const prorationMode = z
  .enum(['day', 'second'])
  .meta({ description: 'How a start, plan change or cancellation inside a period prorates the base fee: by whole UTC days, or to the second', example: 'day' });

const lateEventGraceSeconds = z
  .int()
  .min(0, 'must be 0 or more seconds')
  .max(MAX_GRACE_SECONDS, `must be at most ${MAX_GRACE_SECONDS} seconds (7 days)`)
  .meta({ description: 'How long after a period ends its billing run waits for late events before it closes the period (0 to 604800)', example: 3600 });

const approvalReminderHours = z
  .int()
  .min(1, 'must be at least 1 hour')
  .max(720, 'must be at most 720 hours (30 days)')
  .meta({ description: 'Finance is reminded by email and Slack every this many hours while a draft invoice waits for approval (1 to 720)', example: 24 });

const autoApproveAfterHours = z
  .int()
  .min(1, 'must be at least 1 hour')
  .max(2160, 'must be at most 2160 hours (90 days)')
  .nullable()
  .meta({ description: 'A draft still waiting after this many hours is approved by the system; null = never (1 to 2160, or null)', example: 72 });

const paymentRetryDays = z
  .array(z.int().min(1, 'must be at least day 1').max(60, 'must be at most day 60'))
  .min(1, 'must list at least 1 retry day')
  .max(10, 'must list at most 10 retry days')
  .superRefine((days, ctx) => {
    days.forEach((day, i) => {
      const previous = days[i - 1];
      if (previous !== undefined && day <= previous) {
        ctx.addIssue({ code: 'custom', path: [i], message: `must be later than the retry day before it (${previous}): days are strictly increasing` });
      }
    });
  })
  .meta({
    description: 'Days after the first failed payment attempt on which payment is retried, strictly increasing whole days 1 to 60 (1 to 10 of them); after the last one fails the invoice is uncollectible',
    example: [1, 3, 5, 7],
  });

const financeEmail = emailAddress('finance@example.com')
  .nullable()
  .meta({ description: 'Where finance notices are emailed; null = the deployment\'s ALERT_EMAIL_TO', example: 'finance@example.com' });

const financeSlackChannel = z
  .string()
  .regex(/^(#[a-z0-9_-]{1,80}|[CG][A-Z0-9]{8,20})$/, 'must be a Slack channel name like "#finance" (lower-case letters, digits, "-" and "_") or a channel id like "C0123ABCD"')
  .nullable()
  .meta({ description: 'Where finance notices are posted in Slack; null = the deployment\'s ALERT_SLACK_CHANNEL', example: '#finance' });

const marginThresholdBps = z
  .int()
  .min(-10_000, 'must be at least -10000 (-100 %)')
  .max(10_000, 'must be at most 10000 (100 %)')
  .meta({ description: 'A customer or feature whose margin_bps falls below this raises a margin alert (2000 = 20 %)', example: 2000 });

const marginAlertStepBps = z
  .int()
  .min(1, 'must be at least 1 basis point')
  .max(10_000, 'must be at most 10000')
  .meta({ description: 'An open margin alert notifies again only after the margin fell this many more basis points', example: 500 });

const invoiceNumberPrefix = z
  .string()
  .regex(/^[A-Z0-9][A-Z0-9-]{0,11}$/, 'must be 1 to 12 upper-case letters, digits or "-", starting with a letter or digit, like "INV" or "ACME-EU"')
  .meta({ description: 'Invoice numbers are <prefix>-000001, <prefix>-000002, … counted per prefix: a new prefix starts its own sequence at 1', example: 'INV' });

const invoiceCollection = z
  .enum(['auto', 'send_invoice'])
  .meta({
    description:
      "How finalized invoices are collected. auto: the customer's card on file in Stripe is charged (on the payment_retry_days schedule); a customer without one is sent the invoice to pay by its due date. send_invoice: every invoice is sent to pay by its due date",
    example: 'auto',
  });

const invoiceDueDays = z
  .int()
  .min(1, 'must be at least 1 day')
  .max(365, 'must be at most 365 days')
  .meta({
    description:
      'A sent invoice is due this many days after it is finalized (1 to 365). Unpaid at its due date, finance is told it is overdue, again on each of the payment_retry_days after it, and after the last it is uncollectible',
    example: 30,
  });

export const BillingSettingsSchema = z
  .object({
    proration_mode: prorationMode,
    late_event_grace_seconds: lateEventGraceSeconds,
    approval_reminder_hours: approvalReminderHours,
    auto_approve_after_hours: autoApproveAfterHours,
    payment_retry_days: paymentRetryDays,
    finance_email: financeEmail,
    finance_slack_channel: financeSlackChannel,
    margin_threshold_bps: marginThresholdBps,
    margin_alert_step_bps: marginAlertStepBps,
    invoice_number_prefix: invoiceNumberPrefix,
    invoice_collection: invoiceCollection,
    invoice_due_days: invoiceDueDays,
  })
  .meta({ id: 'BillingSettings', description: 'Your organization\'s billing settings' });

export type BillingSettings = z.output<typeof BillingSettingsSchema>;

/** Any subset of the settings; a field not sent is left as it is, an unknown field is refused. */
export const BillingSettingsPatchSchema = z
  .strictObject(BillingSettingsSchema.partial().shape)
  .meta({ id: 'BillingSettingsUpdate', description: 'The settings to change; fields not sent keep their values' });

export type BillingSettingsPatch = z.output<typeof BillingSettingsPatchSchema>;

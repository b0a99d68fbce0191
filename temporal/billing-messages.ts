import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * The billing workflows' names, inputs and messages: shared by the workflows,
 * the API that starts and signals them, and the web app. Dates travel as ISO
 * strings and amounts as decimal strings (workflow payloads are JSON).
 */
export const SUBSCRIPTION_WORKFLOW_TYPE = 'subscriptionLifecycle';
export const BILLING_RUN_WORKFLOW_TYPE = 'billingRun';

export interface SubscriptionWorkflowInput {
  organizationId: string;
  subscriptionId: string;
  /** the period this run of the workflow covers; omitted on the first start (derived from the subscription) */
  periodStart?: string;
  periodEnd?: string;
  /** requests that arrived as the previous period rolled over, carried into this one */
  pending?: SubscriptionRequest[];
}

export type SubscriptionRequest = { kind: 'changePlan'; request: ChangePlanSignal } | { kind: 'cancel'; request: CancelSignal };

export interface BillingRunInput {
  organizationId: string;
  subscriptionId: string;
  periodStart: string;
  /** exclusive */
  periodEnd: string;
  /** the run closes this long after the period end, so late events still make the invoice (default 1 hour) */
  lateEventGraceSeconds?: number;
  /**
   * A recovery run (`recovery-run:<findingId>`): the invoice was drafted by a
   * reconciliation for what a leak finding recovers; the run skips the close
   * and takes it through the same approval, Stripe finalization and collection.
   */
  recovery?: { findingId: string; invoiceId: string };
  /**
   * A re-issue (`billing-run:<subscriptionId>:<periodStart>:reissue:<of>`): the period's billing run has
   * ended and finance asked for a corrected invoice of invoice `of` (billing/reissue.ts). The run voids it
   * in Stripe first when `voidFirst`, then closes the period again as its next revision and takes that
   * through approval, finalization and collection.
   */
  reissue?: { of: string; by: string; reason: string; voidFirst: boolean };
}

// ── subscription workflow messages ──────────────────────────────────────────
/** Who asked: an API key id, a user, or the system. */
export interface Requester {
  type: 'api_key' | 'user' | 'system';
  id: string;
}

export interface ChangePlanSignal {
  planKey: string;
  /** the plan's version to move to; absent (requests from before plan versions), the newest */
  planVersion?: number;
  /** when the new plan takes effect (ISO); must fall in the current period, or be its end with atPeriodEnd */
  effectiveAt: string;
  /** effectiveAt is the end of the period the request was made in: the next period starts on the new plan */
  atPeriodEnd?: boolean;
  /** makes a retried request record one change */
  requestKey: string;
  requestedBy: Requester;
}

export interface CancelSignal {
  /** true: at the end of the current period; false: now (the unused base fee is credited) */
  atPeriodEnd: boolean;
  /** for `atPeriodEnd: false`, when (ISO); defaults to the workflow's now */
  at?: string;
  requestedBy: Requester;
}

export const changePlanSignal = defineSignal<[ChangePlanSignal]>('changePlan');
export const cancelSignal = defineSignal<[CancelSignal]>('cancel');

export interface SubscriptionState {
  subscriptionId: string;
  /** `starting` until the workflow has loaded its subscription (periods are null until then) */
  status: 'starting' | 'active' | 'canceling' | 'canceled';
  periodStart: string | null;
  periodEnd: string | null;
  /** the last UTC day snapshotted (YYYY-MM-DD), null before the first */
  lastSnapshotDay: string | null;
  pendingPlanChanges: number;
  billingRunWorkflowIds: string[];
}
export const subscriptionStateQuery = defineQuery<SubscriptionState>('state');

// ── billing run messages ────────────────────────────────────────────────────
// `approver` in each decision names who decided, from the caller's credentials (prisma/audit.ts
// DeciderRef: `api_key:<id>`, or the signed-in user's email): the API and the web app set it, never
// a request body.
export interface ApproveRequest {
  approver: string;
  note?: string;
}

export interface AdjustmentLine {
  description: string;
  /** decimal string in major units; negative for a credit */
  amount: string;
}

export interface AdjustRequest {
  approver: string;
  reason: string;
  lines: AdjustmentLine[];
}

export interface RejectRequest {
  approver: string;
  reason: string;
}

/** After a rejection: draft the period again as the invoice's next revision, from the usage as it now stands. */
export interface RedraftRequest {
  approver: string;
  reason: string;
}

/** While a finalized invoice is being collected: void it (in Stripe too); the period then waits for a re-draft or a write-off. */
export interface VoidRequest {
  approver: string;
  reason: string;
}

/** After a rejection (or a void): bill nothing for the period, on purpose. Its usage stays claimed by the written-off invoice. */
export interface WriteOffRequest {
  approver: string;
  reason: string;
}

export type BillingRunStatus =
  | 'drafting'
  | 'awaiting_approval'
  | 'rejected'
  | 'finalizing'
  | 'collecting'
  | 'paid'
  | 'uncollectible'
  | 'settled_zero'
  | 'written_off'
  | 'void';

/** What a decision update returns; after a re-draft, the new revision's invoice. */
export interface DecisionResult {
  invoiceId: string;
  status: BillingRunStatus;
  /** decimal string */
  total: string;
}

export const approveUpdate = defineUpdate<DecisionResult, [ApproveRequest]>('approve');
export const adjustUpdate = defineUpdate<DecisionResult, [AdjustRequest]>('adjust');
export const rejectUpdate = defineUpdate<DecisionResult, [RejectRequest]>('reject');
export const redraftUpdate = defineUpdate<DecisionResult, [RedraftRequest]>('redraft');
export const writeOffUpdate = defineUpdate<DecisionResult, [WriteOffRequest]>('writeOff');
export const voidUpdate = defineUpdate<DecisionResult, [VoidRequest]>('void');

/** Sent by the Stripe webhook handler when Stripe reports on the invoice's payment. */
export interface PaymentEvent {
  outcome: 'paid' | 'failed';
  stripeEventId: string;
  stripeInvoiceId: string;
}
export const paymentEventSignal = defineSignal<[PaymentEvent]>('stripePayment');

export interface BillingRunState {
  status: BillingRunStatus;
  invoiceId: string | null;
  total: string | null;
  currency: string | null;
  remindersSent: number;
  paymentAttempts: number;
  /** ISO time of the next payment attempt while collecting */
  nextPaymentAt: string | null;
  /** a sent invoice (no card to charge): when it is due; the customer pays it on Stripe's page (absent in runs from before) */
  dueAt?: string | null;
  /** overdue notices sent for a sent invoice so far */
  overdueNotices?: number;
}
export const billingRunStateQuery = defineQuery<BillingRunState>('state');

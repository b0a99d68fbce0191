// Pure (no process or I/O): workflow code imports these too.

export const CREDIT_NOTE_WORKFLOW_TYPE = 'creditNote';

/** `credit-note:<organization>:<request key>`: a repeated request is the same workflow, so one note. */
export const creditNoteWorkflowId = (organizationId: string, requestKey: string): string => `credit-note:${organizationId}:${requestKey}`;

/** Finance's request for a credit note on a finalized invoice. */
export interface CreditNoteRequest {
  organizationId: string;
  invoiceId: string;
  /** the note's id, chosen by the caller so the workflow's steps converge on one row */
  creditNoteId: string;
  /** the client's key for this request: a retried request is the same note */
  requestKey: string;
  /** decimal string in major units; null credits everything not yet credited (a full credit note) */
  amount: string | null;
  reason: string;
  /** for a paid invoice: refund the charge (true) or credit the customer's Stripe balance (false) */
  refund: boolean;
  requestedBy: string;
}

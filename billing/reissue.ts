import { creditedInFull } from './credit-notes';
import type { Dec } from './decimal';
import { awaitsRedraft, NOT_BILLED_STATUSES, type InvoiceStatus } from './invoice-status';

/** What a period invoice is, as far as re-issuing it goes. */
export interface ReissueCandidate {
  id: string;
  /** 'period' or 'recovery' */
  kind: string;
  status: InvoiceStatus;
  /** the period's latest revision (earlier ones were re-drafted already) */
  latest: boolean;
  total: Dec;
  /** issued credit notes */
  credited: Dec;
  /** credit notes asked for and not yet issued or failed */
  pendingCredits: number;
  /** the period's recovery invoices (revenue-leak findings billed beside it) */
  recoveries: { id: string; status: InvoiceStatus; total: Dec; credited: Dec; pendingCredits: number }[];
}

export type ReissuePlan = { ok: true; voidFirst: boolean } | { ok: false; reason: string };

/**
 * Whether a period's invoice may be re-issued once its billing run has
 * ended: the period closed again as its next revision (from its usage as it
 * now stands), approved, finalized and collected afresh, the invoice kept
 * for the record and billing nothing from then on. Allowed when nothing is
 * owed on it any more:
 * - rejected or void: it never billed;
 * - credited in full (every note issued): the notes undid it;
 * - finalized or uncollectible with no credit note: it is voided in Stripe
 *   first (Stripe voids open and uncollectible invoices).
 * A paid invoice not credited in full, one partly credited and still open,
 * a recovery invoice and an earlier revision are refused, with the reason;
 * so is a period with a recovery invoice that still bills (a draft, or one
 * finalized and not credited in full): the new revision bills the period's
 * usage as it now stands, which includes what the recovery invoice bills.
 */
export function planReissue(invoice: ReissueCandidate): ReissuePlan {
  const refuse = (reason: string): ReissuePlan => ({ ok: false, reason: `invoice ${invoice.id} ${reason}` });
  if (invoice.kind !== 'period') return refuse('is a recovery invoice; only a period invoice is re-issued');
  if (!invoice.latest) return refuse('was re-drafted already; re-issue the period\'s latest revision');
  const recovery = invoice.recoveries.find((r) => !(NOT_BILLED_STATUSES as readonly InvoiceStatus[]).includes(r.status) && !creditedInFull(r));
  if (recovery) {
    return refuse(`has recovery invoice ${recovery.id} (${recovery.status}) billing part of its period; reject it, or credit it in full, before re-issuing the period`);
  }
  if (awaitsRedraft(invoice.status)) return { ok: true, voidFirst: false };
  if (invoice.pendingCredits > 0) return refuse('has a credit note still being issued; re-issue once it is issued');
  if (creditedInFull(invoice)) return { ok: true, voidFirst: false };
  if ((invoice.status === 'finalized' || invoice.status === 'uncollectible') && invoice.credited.isZero()) return { ok: true, voidFirst: true };
  if (invoice.status === 'paid' || invoice.credited.gt(0)) return refuse(`is ${invoice.status} and credited ${invoice.credited.toFixed()} of ${invoice.total.toFixed()}; credit it in full first (a credit note), then re-issue`);
  return refuse(`is ${invoice.status.replace(/_/g, ' ')}; only a rejected, void, uncollectible or fully credited invoice is re-issued`);
}

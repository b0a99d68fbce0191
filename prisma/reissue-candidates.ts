import { dec } from '../billing/decimal';
import type { ReissueCandidate } from '../billing/reissue';
import type { Db } from './billing-reads';

type WithNotes = { status: ReissueCandidate['status']; total: { toString(): string }; creditNotes: { status: string; amount: { toString(): string } }[] };
type PeriodInvoice = WithNotes & { id: string; kind: string; supersededById: string | null };

const CREDIT_NOTES = { creditNotes: { select: { status: true, amount: true } } } as const;

/** An invoice's status and total with what its credit notes credit (issued) and hold (pending). */
function creditStanding(invoice: WithNotes) {
  return {
    status: invoice.status,
    total: dec(invoice.total),
    credited: invoice.creditNotes.filter((n) => n.status === 'issued').reduce((sum, n) => sum.plus(dec(n.amount)), dec(0)),
    pendingCredits: invoice.creditNotes.filter((n) => n.status === 'pending').length,
  };
}

/** The recovery invoices billed beside a period's invoice, with their credit notes. */
export function readPeriodRecoveries(db: Db, invoice: { organizationId: string; subscriptionId: string; periodStart: Date }) {
  return db.invoice.findMany({ where: { organizationId: invoice.organizationId, subscriptionId: invoice.subscriptionId, periodStart: invoice.periodStart, kind: 'recovery' }, include: CREDIT_NOTES });
}

/** An invoice (with its credit notes) and its period's recovery invoices as billing/reissue.ts judges them. */
export function reissueCandidate(invoice: PeriodInvoice, recoveries: (WithNotes & { id: string })[]): ReissueCandidate {
  return {
    id: invoice.id,
    kind: invoice.kind,
    latest: invoice.supersededById === null,
    ...creditStanding(invoice),
    recoveries: recoveries.map((r) => ({ id: r.id, ...creditStanding(r) })),
  };
}

/** readPeriodRecoveries and reissueCandidate for an invoice by id. Throws when it is not the organization's. */
export async function readReissueCandidate(db: Db, organizationId: string, invoiceId: string) {
  const invoice = await db.invoice.findFirstOrThrow({ where: { id: invoiceId, organizationId }, include: CREDIT_NOTES });
  return { invoice, candidate: reissueCandidate(invoice, await readPeriodRecoveries(db, invoice)) };
}

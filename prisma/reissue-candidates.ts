import { dec } from '../billing/decimal';
import type { ReissueCandidate } from '../billing/reissue';
import type { Db } from './billing-reads';

const CREDIT_NOTES = { creditNotes: { select: { status: true, amount: true } } } as const;

/** An invoice's status and total with what its credit notes credit (issued) and hold (pending). */
function creditStanding(invoice: { status: ReissueCandidate['status']; total: { toString(): string }; creditNotes: { status: string; amount: { toString(): string } }[] }) {
  return {
    status: invoice.status,
    total: dec(invoice.total),
    credited: invoice.creditNotes.filter((n) => n.status === 'issued').reduce((sum, n) => sum.plus(dec(n.amount)), dec(0)),
    pendingCredits: invoice.creditNotes.filter((n) => n.status === 'pending').length,
  };
}

/** An invoice as billing/reissue.ts judges it: its credit notes, whether it is the latest revision, and its period's recovery invoices. Throws when it is not the organization's. */
export async function readReissueCandidate(db: Db, organizationId: string, invoiceId: string) {
  const invoice = await db.invoice.findFirstOrThrow({ where: { id: invoiceId, organizationId }, include: CREDIT_NOTES });
  const recoveries = await db.invoice.findMany({ where: { organizationId, subscriptionId: invoice.subscriptionId, periodStart: invoice.periodStart, kind: 'recovery' }, include: CREDIT_NOTES });
  const candidate: ReissueCandidate = {
    id: invoice.id,
    kind: invoice.kind,
    latest: invoice.supersededById === null,
    ...creditStanding(invoice),
    recoveries: recoveries.map((r) => ({ id: r.id, ...creditStanding(r) })),
  };
  return { invoice, candidate };
}
